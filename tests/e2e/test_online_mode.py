"""Online mode end to end: relay.client, a real gunicorn, `relay worker` and a real receiver.

A result completed on a device in online mode waits in the pull feed until the worker delivers
it, signed, to the accounting side's webhook; the 2xx marks it processed.
"""

from relay.client import AccountingClient, AdminClient
from relay.client.tools.localserver import LocalRelay
from tests.e2e.conftest import Terminals
from tests.helpers import doc
from tests.receiver import Receiver

FULL = [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}]


def test_an_online_result_is_delivered_by_the_worker_and_leaves_the_feed(
    live_relay: LocalRelay,
    admin: AdminClient,
    accounting: AccountingClient,
    terminals: Terminals,
    receiver: Receiver,
) -> None:
    settings = admin.set_webhook(receiver.url)
    receiver.secrets.append(settings["secret"])
    terminal, enrolled = terminals.enroll("Склад-онлайн")
    admin.update_device(enrolled.device_id, mode="online")

    order = doc("ЗаказПоставщику-0000-000777")
    accounting.push("purchase-receipt", [order], target={"pin": enrolled.pin})
    (waiting,) = terminal.inbox()
    terminal.claim(waiting["id"])
    done = terminal.complete(waiting["id"], FULL)

    # Until the worker delivers it, the result can be pulled like any other.
    assert [r["id"] for r in accounting.results()] == [done["result_id"]]

    live_relay.cli("worker", "--once")

    (delivery,) = receiver.deliveries
    assert receiver.failures == []  # every signature verified with standardwebhooks
    assert delivery.status == 200
    assert delivery.body["type"] == "result.completed"
    assert delivery.body["data"]["id"] == done["result_id"]
    assert delivery.body["data"]["external_id"] == order["external_id"]
    assert delivery.body["data"]["completed_by"]["mode"] == "online"
    assert delivery.body["data"]["on_load"]["write"] is True  # online_only, on an online device
    # Delivered means processed: it left the feed, and a second pass sends nothing again.
    assert list(accounting.results()) == []
    assert accounting.result(done["result_id"])["processed_at"] is not None
    live_relay.cli("worker", "--once")
    assert len(receiver.deliveries) == 1


def test_an_offline_result_is_never_delivered(
    live_relay: LocalRelay,
    admin: AdminClient,
    accounting: AccountingClient,
    terminals: Terminals,
    receiver: Receiver,
) -> None:
    receiver.secrets.append(admin.set_webhook(receiver.url)["secret"])
    terminal, enrolled = terminals.enroll("Склад-офлайн")
    accounting.push("purchase-receipt", [doc("ЗП-1")], target={"pin": enrolled.pin})
    (waiting,) = terminal.inbox()
    terminal.claim(waiting["id"])
    done = terminal.complete(waiting["id"], FULL)
    live_relay.cli("worker", "--once")
    assert receiver.deliveries == []
    assert [r["id"] for r in accounting.results()] == [done["result_id"]]

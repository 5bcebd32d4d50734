"""The whole cycle through relay.client against a real gunicorn: offline and online mode."""

from decimal import Decimal

import pytest

from relay.client import (
    AccountingClient,
    AdminClient,
    Conflict,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from tests.e2e.conftest import FAST, LiveTenant, Terminals
from tests.helpers import doc


def _kg_order(external_id: str) -> dict[str, object]:
    return doc(
        external_id,
        lines=[
            {"line_id": "1", "product_id": "p-001", "barcode": "4601234567890",
             "name": "Молоко 1 л", "unit": "шт", "declared_qty": 10},
            {"line_id": "2", "product_id": "p-100", "barcode": "2000000000107",
             "name": "Сыр весовой", "unit": "кг", "declared_qty": Decimal("2.500")},
        ],
    )  # fmt: skip


def test_full_cycle_offline(
    admin: AdminClient, accounting: AccountingClient, terminals: Terminals
) -> None:
    first, enrolled_first = terminals.enroll("Склад-1")
    second, enrolled_second = terminals.enroll("Склад-2")
    picker = {d["pin"]: d for d in accounting.devices()}
    assert set(picker) == {enrolled_first.pin, enrolled_second.pin}
    assert picker[enrolled_first.pin]["mode"] == "offline"

    admin.create_user("ivanov", "secret-1", name="Иванов И.")
    admin.create_user("petrova", "secret-2", name="Петрова А.")
    admin.create_group("Кладовщики", ["ivanov", "petrova"])

    # By PIN: a supplier order to the first terminal; re-pushing it changes nothing.
    receipt = _kg_order("ЗаказПоставщику-0000-000123")
    pushed = accounting.push("purchase-receipt", [receipt], target={"pin": enrolled_first.pin})
    assert pushed["documents"][0]["status"] == "created"
    again = accounting.push("purchase-receipt", [receipt], target={"pin": enrolled_first.pin})
    assert again["documents"][0]["status"] == "unchanged"
    # To a group: a customer order any of its members may pick.
    picking = doc("ЗаказКлиента-0000-000042")
    accounting.push("order-picking", [picking], target={"groups": ["Кладовщики"]})

    poll = first.poll_inbox()
    assert poll.changed
    assert [d["external_id"] for d in poll.documents] == [receipt["external_id"]]
    instance_id = poll.documents[0]["id"]
    first.claim(instance_id)
    assert first.poll_inbox().documents[0]["claimed_by_me"] is True
    lines = first.document(instance_id)["lines"]
    assert lines[1]["declared_qty"] == Decimal("2.500")
    done = first.complete(
        instance_id,
        [{"line_id": "1", "qty": 6}, {"line_id": "1", "qty": 3, "serial": "SN-42"},
         {"line_id": "2", "qty": Decimal("2.125")}],
        header={"comment": "2 коробки повреждены"},
    )  # fmt: skip
    assert done["state"] == "completed"

    # The group's document reaches an operator logged in on the second terminal.
    petrova, session = second.login("petrova", "secret-2")
    terminals.track(petrova)
    assert session["user"]["name"] == "Петрова А."
    (picking,) = petrova.inbox()
    petrova.claim(picking["id"])
    petrova.complete(picking["id"], [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}])
    petrova.logout()
    with pytest.raises(Unauthorized):
        petrova.inbox()

    results = {r["external_id"]: r for r in accounting.results()}
    assert set(results) == {"ЗаказПоставщику-0000-000123", "ЗаказКлиента-0000-000042"}
    got = results["ЗаказПоставщику-0000-000123"]
    assert got["completed_by"]["pin"] == enrolled_first.pin
    assert got["header"] == {"comment": "2 коробки повреждены"}
    assert got["lines"][0]["actual_qty"] == 9
    assert got["lines"][0]["actual"] == [{"qty": 6}, {"qty": 3, "serial": "SN-42"}]
    assert got["lines"][1]["actual_qty"] == Decimal("2.125")  # exact, not a float
    assert results["ЗаказКлиента-0000-000042"]["completed_by"]["login"] == "petrova"

    acked = accounting.ack([r["id"] for r in results.values()])
    assert sorted(acked.processed) == sorted(r["id"] for r in results.values())
    assert list(accounting.results()) == []
    assert accounting.ack([got["id"]]).already_processed == [got["id"]]
    assert accounting.result(got["id"])["processed_at"] is not None
    document = accounting.document(got["document_id"])
    assert document["state"] == "processed"
    assert [e["kind"] for e in document["timeline"]].count("completed") == 1


def test_online_mode_result_stays_in_the_feed_until_acknowledged(
    admin: AdminClient, accounting: AccountingClient, terminals: Terminals
) -> None:
    terminal, enrolled = terminals.enroll()
    assert admin.update_device(enrolled.device_id, mode="online")["mode"] == "online"
    assert accounting.devices()[0]["mode"] == "online"
    accounting.push("purchase-receipt", [doc()], target={"pin": enrolled.pin})
    (item,) = terminal.inbox()
    terminal.claim(item["id"])
    terminal.complete(item["id"], [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}])

    # No worker delivers it here; until it is processed, accounting can always pull it.
    for _ in range(2):
        (result,) = list(accounting.results())
        assert result["completed_by"]["mode"] == "online"
        assert result["on_load"]["write"] is True  # write_after_load: online_only
    accounting.ack([result["id"]])
    assert list(accounting.results()) == []


def test_errors_arrive_typed_with_code_message_and_details(
    live_tenant: LiveTenant, accounting: AccountingClient, terminals: Terminals
) -> None:
    with pytest.raises(NotFound) as missing:
        accounting.push("purchase-receipt", [doc()], target={"pin": "9999"})
    assert missing.value.code == "device_not_found"
    assert missing.value.message == "Device not found by PIN 9999. Documents were not uploaded."

    first, enrolled = terminals.enroll("Склад-1")
    second, _ = terminals.enroll("Склад-2")
    bad = doc("x", lines=[{"line_id": 1, "declared_qty": -1}])
    with pytest.raises(ValidationFailed) as refused:
        accounting.push("purchase-receipt", [bad], target={"pin": enrolled.pin})
    assert refused.value.code == "validation_failed"
    assert refused.value.details["fields"]

    accounting.push("purchase-receipt", [doc("ЗП-2")], target={"device_id": enrolled.device_id})
    (item,) = first.inbox()
    first.claim(item["id"])
    with pytest.raises(ValidationFailed) as excess:
        first.complete(item["id"], [{"line_id": "1", "qty": 11}])
    assert excess.value.code == "quantity_control"
    assert excess.value.details["lines"][0]["problem"] == "excess"
    with pytest.raises(NotFound):
        second.claim(item["id"])  # not addressed to it

    with (
        AccountingClient(live_tenant.url, "relay_acc_wrong", retry=FAST) as stranger,
        pytest.raises(Unauthorized) as denied,
    ):
        stranger.devices()
    assert denied.value.status == 401
    assert "token" in denied.value.message


def test_second_claim_names_the_holder(
    admin: AdminClient, accounting: AccountingClient, terminals: Terminals
) -> None:
    first, _ = terminals.enroll("Склад-1")
    second, _ = terminals.enroll("Склад-2")
    admin.create_user("ivanov", "secret-1")
    accounting.push("transfer-receipt", [doc()], target={"users": ["ivanov"]})
    one, _ = first.login("ivanov", "secret-1")
    two, _ = second.login("ivanov", "secret-1")
    terminals.track(one)
    terminals.track(two)
    (item,) = one.inbox()
    one.claim(item["id"])
    with pytest.raises(Conflict) as taken:
        two.claim(item["id"])
    assert taken.value.code == "already_claimed"
    assert taken.value.details["holder"]["device_name"] == "Склад-1"


def test_lists_are_read_across_pages(
    admin: AdminClient, accounting: AccountingClient, terminals: Terminals
) -> None:
    terminal, enrolled = terminals.enroll()
    orders = [doc(f"ЗП-{n:03}") for n in range(7)]
    accounting.push("purchase-receipt", orders, target={"pin": enrolled.pin})
    assert len(list(accounting.documents(page_size=2))) == 7
    assert len(list(accounting.documents(state="queued", page_size=5))) == 7
    inbox = terminal.inbox()
    assert sorted(d["external_id"] for d in inbox) == [o["external_id"] for o in orders]
    for item in inbox:
        terminal.claim(item["id"])
        terminal.complete(item["id"], [{"line_id": "1", "qty": 1}])
    assert len(list(accounting.results(page_size=2))) == 7
    for login in ("a1", "a2", "a3"):
        admin.create_user(login, "secret-1")
    assert [u["login"] for u in admin.users(page_size=2)] == ["a1", "a2", "a3"]


def test_inbox_is_read_across_pages(accounting: AccountingClient, terminals: Terminals) -> None:
    terminal, enrolled = terminals.enroll()
    orders = [doc(f"ЗП-{n:03}") for n in range(7)]
    accounting.push("purchase-receipt", orders, target={"pin": enrolled.pin})
    assert len(terminal.inbox(page_size=3)) == 7


def test_unchanged_inbox_answers_304(accounting: AccountingClient, terminals: Terminals) -> None:
    terminal, enrolled = terminals.enroll()
    accounting.push("purchase-receipt", [doc()], target={"pin": enrolled.pin})
    assert terminal.poll_inbox().changed
    unchanged = terminal.poll_inbox()
    assert len(unchanged.documents) == 1
    assert unchanged.changed is False

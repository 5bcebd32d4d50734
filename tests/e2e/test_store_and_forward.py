"""A terminal that loses the network completes into its queue and uploads it when back."""

from pathlib import Path

from relay.client import (
    AccountingClient,
    CompletionStore,
    RetryPolicy,
    StoreAndForward,
    TerminalClient,
)
from tests.e2e.conftest import Terminals
from tests.e2e.proxy import CuttingProxy
from tests.helpers import doc

# Offline, a completion waits in the queue at once instead of after a round of retries.
OFFLINE_FAST = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.01)


def test_completions_made_during_an_outage_are_uploaded_once_when_back(
    tmp_path: Path, accounting: AccountingClient, terminals: Terminals, proxy: CuttingProxy
) -> None:
    online, enrolled = terminals.enroll(url=proxy.url)
    orders = [doc(f"ЗаказПоставщику-{n:04}") for n in range(3)]
    accounting.push("purchase-receipt", orders, target={"pin": enrolled.pin})
    inbox = online.inbox()
    for item in inbox:
        online.claim(item["id"])
    outbox = tmp_path / "outbox.sqlite3"

    proxy.stop()  # the network is down
    terminal = terminals.track(TerminalClient(proxy.url, enrolled.token, retry=OFFLINE_FAST))
    terminal.claims = dict(online.claims)
    with CompletionStore(outbox) as store:
        saf = StoreAndForward(terminal, store)
        deliveries = [
            saf.complete(item["id"], [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 4}])
            for item in inbox
        ]
        assert all(d.queued for d in deliveries)
        assert store.count() == 3
        assert saf.sync().offline
    assert list(accounting.results()) == []
    # Meanwhile accounting cancels one of them: its completion can never be applied.
    accounting.cancel(inbox[2]["document_id"])

    proxy.start()  # the network is back; the terminal restarted in between
    with CompletionStore(outbox) as store:
        assert all(q.attempts >= 1 and q.last_error for q in store.pending())
        report = StoreAndForward(terminal, store).sync()
        assert len(report.sent) == 2
        assert not report.kept
        assert not report.offline
        (failed,) = store.failed()
        assert failed.code == "document_cancelled"
        assert failed.status == 409
        assert failed.completion.instance_id == inbox[2]["id"]
        assert store.count() == 0
        assert StoreAndForward(terminal, store).sync().sent == []

    results = list(accounting.results())
    assert sorted(r["instance_id"] for r in results) == sorted(i["id"] for i in inbox[:2])
    for result in results:
        timeline = accounting.document(result["document_id"])["timeline"]
        assert [e["kind"] for e in timeline].count("completed") == 1
        assert result["lines"][1]["actual_qty"] == 4

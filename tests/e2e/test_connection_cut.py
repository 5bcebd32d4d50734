"""A connection cut after the relay applied a completion: the client retries, applied once."""

from relay.client import AccountingClient, AdminClient, CompletionStore, StoreAndForward
from relay.client.terminal import TerminalClient
from tests.e2e.conftest import Terminals
from tests.e2e.proxy import CuttingProxy
from tests.helpers import doc


def _claimed(
    accounting: AccountingClient, terminals: Terminals, proxy: CuttingProxy, count: int = 1
) -> tuple[TerminalClient, list[str]]:
    terminal, enrolled = terminals.enroll(url=proxy.url)
    orders = [doc(f"ЗаказПоставщику-{n:04}") for n in range(count)]
    accounting.push("purchase-receipt", orders, target={"pin": enrolled.pin})
    ids = [item["id"] for item in terminal.inbox()]
    for instance_id in ids:
        terminal.claim(instance_id)
    return terminal, ids


def _completed_events(accounting: AccountingClient, document_id: str) -> list[str]:
    timeline = accounting.document(document_id)["timeline"]
    return [e["kind"] for e in timeline if e["kind"] == "completed"]


def test_cut_during_completion_is_retried_and_applied_once(
    admin: AdminClient, accounting: AccountingClient, terminals: Terminals, proxy: CuttingProxy
) -> None:
    terminal, (instance_id,) = _claimed(accounting, terminals, proxy)
    proxy.cut(b"/complete ")

    answer = terminal.complete(instance_id, [{"line_id": "1", "qty": 10}])

    assert proxy.cuts_done == 1
    assert proxy.requests_seen[b"/complete "] == 2  # the first answer was lost, then a retry
    (result,) = list(accounting.results())
    assert answer["result_id"] == result["id"]
    assert result["lines"][0]["actual"] == [{"qty": 10}]
    assert _completed_events(accounting, result["document_id"]) == ["completed"]


def test_cut_during_a_batch_upload_is_retried_and_each_applied_once(
    tmp_path: object,
    accounting: AccountingClient,
    terminals: Terminals,
    proxy: CuttingProxy,
) -> None:
    terminal, ids = _claimed(accounting, terminals, proxy, count=3)
    with CompletionStore(f"{tmp_path}/outbox.sqlite3") as store:
        for instance_id in ids:
            store.add(terminal.completion(instance_id, [{"line_id": "2", "qty": 5}]))
        proxy.cut(b"/terminal/completions ")

        report = StoreAndForward(terminal, store).sync()

        assert proxy.cuts_done == 1
        assert len(report.sent) == 3
        assert store.count() == 0
    results = list(accounting.results())
    assert sorted(r["instance_id"] for r in results) == sorted(ids)
    for result in results:
        assert _completed_events(accounting, result["document_id"]) == ["completed"]

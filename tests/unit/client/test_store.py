"""Store-and-forward: the SQLite queue, and what a sync does with each kind of answer."""

from decimal import Decimal
from pathlib import Path

import pytest

from relay.client import (
    Completion,
    CompletionStore,
    RetryPolicy,
    StoreAndForward,
    TerminalClient,
    Unauthorized,
    ValidationFailed,
)
from relay.client.store import final
from relay.client.tools.localserver import free_port
from tests.unit.client.conftest import Sleeps
from tests.unit.client.fake_relay import FakeRelay, Reply, error

BATCH = "/api/v1/terminal/completions"
QUICK = RetryPolicy(attempts=2, backoff=0.01)


def completion(instance_id: str, qty: str = "1") -> Completion:
    return Completion(instance_id, f"clm-{instance_id}", [{"line_id": "1", "qty": Decimal(qty)}])


def ok(c: Completion) -> dict[str, object]:
    return {
        "id": c.instance_id,
        "submission_id": c.submission_id,
        "status": 200,
        "body": {"id": c.instance_id, "state": "completed", "result_id": f"r-{c.instance_id}"},
    }


def refused(c: Completion, status: int, code: str) -> dict[str, object]:
    return {
        "id": c.instance_id,
        "submission_id": c.submission_id,
        "status": status,
        "body": {"error": {"code": code, "message": f"{code}.", "details": {}}},
    }


@pytest.fixture
def store(tmp_path: Path) -> CompletionStore:
    opened = CompletionStore(tmp_path / "terminal" / "outbox.sqlite3")
    yield opened  # type: ignore[misc]
    opened.close()


def test_the_queue_survives_a_restart_in_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    made = [completion("a", "0.001"), completion("b"), completion("c")]
    with CompletionStore(path) as store:
        for c in made:
            store.add(c)
        store.add(made[0])  # queued twice: kept once
        store.note_failure([made[1].submission_id], "offline")
    with CompletionStore(path) as store:
        pending = store.pending()
        assert [q.completion for q in pending] == made
        assert pending[0].completion.lines[0]["qty"] == Decimal("0.001")
        assert (pending[1].attempts, pending[1].last_error) == (1, "offline")
        assert [q.completion.instance_id for q in store.pending(2)] == ["a", "b"]
        store.remove(made[0].submission_id)
        store.fail(made[1].submission_id, 409, {"error": {"code": "claim_lost", "message": "x"}})
        store.fail("unknown", 409, {})
        assert store.count() == 1
        (failed,) = store.failed()
        assert (failed.code, failed.message, failed.status) == ("claim_lost", "x", 409)
        assert failed.completion == made[1]
        assert store.discard_failed(made[1].submission_id) == 1
        assert store.discard_failed() == 0


@pytest.mark.parametrize(
    ("status", "code", "settled"),
    [
        (200, "", True),
        (409, "claim_lost", True),
        (422, "quantity_control", True),
        (404, "document_not_found", True),
        (409, "busy", False),
        (409, "conflict", False),
        (429, "rate_limited", False),
        (500, "internal_error", False),
        (503, "database_unavailable", False),
    ],
)
def test_which_answers_are_final(status: int, code: str, settled: bool) -> None:
    assert final(status, code) is settled


def test_a_sync_settles_each_completion_by_its_own_answer(
    fake: FakeRelay, store: CompletionStore, sleeps: Sleeps
) -> None:
    made = [completion(x) for x in "abcd"]
    for c in made:
        store.add(c)
    fake.script(
        "POST",
        BATCH,
        Reply(
            body={
                "results": [
                    ok(made[0]),
                    refused(made[1], 409, "document_cancelled"),
                    refused(made[2], 409, "busy"),
                ]
            }
        ),
    )
    with TerminalClient(fake.url, "relay_dev_x", retry=QUICK, sleep=sleeps) as client:
        report = StoreAndForward(client, store).sync()
    assert [c.instance_id for c, _ in report.sent] == ["a"]
    assert report.answer_for(made[0].submission_id) == {
        "id": "a",
        "state": "completed",
        "result_id": "r-a",
    }
    assert [(c.instance_id, e.code) for c, e in report.failed] == [("b", "document_cancelled")]
    assert [c.instance_id for c, _ in report.kept] == ["c", "d"]  # busy; and no answer
    assert [q.completion.instance_id for q in store.pending()] == ["c", "d"]
    assert [f.completion.instance_id for f in store.failed()] == ["b"]
    (sent,) = fake.calls()
    assert sent.body["completions"][0] == made[0].batch_item()


def test_a_sync_goes_batch_by_batch(fake: FakeRelay, store: CompletionStore) -> None:
    made = [completion(str(n)) for n in range(5)]
    for c in made:
        store.add(c)
    fake.script(
        "POST",
        BATCH,
        Reply(body={"results": [ok(c) for c in made[:2]]}),
        Reply(body={"results": [ok(c) for c in made[2:4]]}),
        Reply(body={"results": [ok(made[4])]}),
    )
    with TerminalClient(fake.url, "relay_dev_x") as client:
        report = StoreAndForward(client, store, batch_size=2).sync()
    assert len(report.sent) == 5
    assert [len(s.body["completions"]) for s in fake.calls()] == [2, 2, 1]
    assert store.count() == 0


def test_without_the_network_everything_stays_queued(
    store: CompletionStore, sleeps: Sleeps
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with TerminalClient(dead, "relay_dev_x", retry=QUICK, sleep=sleeps) as client:
        client.claims["a"] = "clm-a"
        saf = StoreAndForward(client, store)
        delivery = saf.complete("a", [{"line_id": "1", "qty": 2}], header={"comment": "x"})
        assert delivery.queued
        report = saf.sync()
    assert report.offline
    (queued,) = store.pending()
    assert queued.completion == delivery.completion
    assert queued.attempts == 2
    assert "refused" in (queued.last_error or "")


def each(status: int, code: str = "") -> Reply:
    """A batch answer giving every completion in the request this status."""

    def answer(request: dict[str, list[dict[str, str]]]) -> dict[str, object]:
        return {
            "results": [
                {
                    "id": item["id"],
                    "submission_id": item["submission_id"],
                    "status": status,
                    "body": {"error": {"code": code, "message": f"{code}.", "details": {}}},
                }
                for item in request["completions"]
            ]
        }

    return Reply(answer=answer)


def test_a_completion_refused_for_good_is_raised_at_once(
    fake: FakeRelay, store: CompletionStore
) -> None:
    fake.script("POST", BATCH, each(422, "quantity_control"))
    with TerminalClient(fake.url, "relay_dev_x") as client:
        client.claims["a"] = "clm-a"
        with pytest.raises(ValidationFailed) as raised:
            StoreAndForward(client, store).complete("a", [{"line_id": "1", "qty": 99}])
    assert raised.value.code == "quantity_control"
    assert store.count() == 0
    assert store.failed() == []  # the operator saw it: nothing kept


def test_a_completion_answered_later_stays_queued(fake: FakeRelay, store: CompletionStore) -> None:
    fake.script("POST", BATCH, each(503, "database_unavailable"))
    with TerminalClient(fake.url, "relay_dev_x") as client:
        client.claims["a"] = "clm-a"
        delivery = StoreAndForward(client, store).complete("a", [])
    assert delivery.queued
    assert store.count() == 1


def test_a_delivered_completion_answers_at_once(fake: FakeRelay, store: CompletionStore) -> None:
    with TerminalClient(fake.url, "relay_dev_x") as client:
        client.claims["a"] = "clm-a"
        made = client.completion("a", [])
        fake.script("POST", BATCH, Reply(body={"results": [ok(made)]}))
        store.add(made)  # an earlier try that got no answer
        report = StoreAndForward(client, store).sync()
    assert report.answer_for(made.submission_id) == ok(made)["body"]
    assert report.error_for(made.submission_id) is None


def test_a_revoked_device_keeps_its_queue(fake: FakeRelay, store: CompletionStore) -> None:
    store.add(completion("a"))
    fake.script("POST", BATCH, error(401, "unauthorized", "The token is not valid."))
    fake.script("POST", BATCH, error(503, "database_unavailable"))
    with TerminalClient(fake.url, "relay_dev_x", retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(Unauthorized):
            StoreAndForward(client, store).sync()
        report = StoreAndForward(client, store).sync()
    assert not report.offline
    assert len(report.kept) == 1
    assert store.pending()[0].attempts == 2

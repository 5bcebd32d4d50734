"""The accounting client's calls: paged lists, acks in chunks, documents, results."""

import pytest

from relay.client import AccountingClient
from tests.unit.client.fake_relay import FakeRelay, Reply, error


def test_paged_lists_follow_next_with_after(fake: FakeRelay) -> None:
    fake.script(
        "GET",
        "/api/v1/results",
        Reply(body={"results": [{"id": "r1"}, {"id": "r2"}], "next": "c2"}),
        Reply(body={"results": [{"id": "r3"}], "next": None}),
    )
    with AccountingClient(fake.url, "k") as client:
        assert [r["id"] for r in client.results(page_size=2)] == ["r1", "r2", "r3"]
    first, second = fake.calls()
    assert first.query == {"limit": ["2"]}
    assert second.query == {"limit": ["2"], "after": ["c2"]}


def test_ack_is_sent_in_chunks_the_relay_accepts(fake: FakeRelay) -> None:
    ids = [f"r{n}" for n in range(2500)]
    for start in (0, 1000, 2000):
        chunk = ids[start : start + 1000]
        fake.script(
            "POST",
            "/api/v1/results/ack",
            Reply(body={"processed": chunk[1:], "already_processed": chunk[:1]}),
        )
    with AccountingClient(fake.url, "k") as client:
        acked = client.ack([*ids, "r0"])
    assert [len(s.body["ids"]) for s in fake.calls()] == [1000, 1000, 500]
    assert len(acked.processed) == 2497
    assert acked.already_processed == ["r0", "r1000", "r2000"]


def test_the_accounting_calls(fake: FakeRelay) -> None:
    for method, path in [
        ("GET", "/api/v1/documents"),
        ("GET", "/api/v1/documents/d"),
        ("POST", "/api/v1/documents/d/cancel"),
        ("POST", "/api/v1/documents/d/reroute"),
        ("POST", "/api/v1/documents/d/close"),
        ("GET", "/api/v1/results/r"),
    ]:
        fake.script(method, path, Reply(body={"documents": [], "id": "x"}))
    with AccountingClient(fake.url, "k") as client:
        assert list(client.documents(state="queued", external_id="e")) == []
        client.document("d")
        client.cancel("d")
        client.reroute("d", {"pin": "1234"}, instance_id="i")
        client.close_document("d", instance_id="i")
        client.result("r")
    calls = fake.calls()
    assert calls[0].query == {"state": ["queued"], "external_id": ["e"]}
    assert calls[3].body == {"target": {"pin": "1234"}, "instance_id": "i"}
    assert calls[4].body == {"instance_id": "i"}


def test_an_unscripted_call_is_a_typed_404(fake: FakeRelay) -> None:
    fake.script("GET", "/api/v1/devices", error(404, "not_found", "Nothing here."))
    with AccountingClient(fake.url, "k") as client, pytest.raises(Exception, match="not_found"):
        client.devices()

"""What each client call sends: paging, ETag polling, acks in chunks, the admin's calls."""

import pytest

from relay.client import AccountingClient, AdminClient, TerminalClient
from tests.unit.fake_relay import FakeRelay, Reply, error

INBOX = "/api/v1/terminal/documents"


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


def test_a_list_named_otherwise_is_still_read(fake: FakeRelay) -> None:
    fake.script("GET", "/api/v1/admin/dead-letters", Reply(body={"items": [{"id": "d"}]}))
    with AdminClient(fake.url, "k") as client:
        assert list(client.dead_letters()) == [{"id": "d"}]


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


def test_the_inbox_is_polled_with_its_etag(fake: FakeRelay) -> None:
    fake.script(
        "GET",
        INBOX,
        Reply(body={"documents": [{"id": "a"}], "next": "a"}, headers={"ETag": '"v1"'}),
        Reply(body={"documents": [{"id": "b"}], "next": None}, headers={"ETag": '"v1p2"'}),
        Reply(304, headers={"ETag": '"v1"'}),
        Reply(body={"documents": [], "next": None}, headers={"ETag": '"v2"'}),
    )
    with TerminalClient(fake.url, "relay_dev_x") as client:
        first = client.poll_inbox()
        unchanged = client.poll_inbox()
        emptied = client.poll_inbox()
    assert first.changed
    assert [d["id"] for d in first.documents] == ["a", "b"]
    assert first.etag == '"v1"'
    assert not unchanged.changed
    assert [d["id"] for d in unchanged.documents] == ["a", "b"]
    assert emptied.changed
    assert emptied.documents == []
    calls = fake.calls()
    assert "If-None-Match" not in calls[0].headers
    assert calls[1].query == {"after": ["a"]}
    assert calls[2].headers["If-None-Match"] == '"v1"'
    assert calls[3].headers["If-None-Match"] == '"v1"'


def test_claims_are_remembered_and_forgotten(fake: FakeRelay) -> None:
    fake.script("POST", f"{INBOX}/a/claim", Reply(body={"id": "a", "claim_token": "t1"}))
    fake.script("POST", f"{INBOX}/b/join", Reply(body={"part_id": "p", "claim_token": "t2"}))
    fake.script("POST", f"{INBOX}/a/release", Reply(body={"id": "a", "state": "queued"}))
    with TerminalClient(fake.url, "relay_dev_x") as client:
        assert client.claim("a") == "t1"
        assert client.join("b")["part_id"] == "p"
        assert client.claims == {"a": "t1", "b": "t2"}
        client.release("a")
        assert client.claims == {"b": "t2"}
        with pytest.raises(ValueError, match="claim or join it first"):
            client.completion("a", [])


def test_an_operator_logs_in_on_the_same_connections(fake: FakeRelay) -> None:
    fake.script(
        "POST",
        "/api/v1/terminal/sessions",
        Reply(201, {"session_token": "relay_ses_x", "user": {"login": "ivanov"}}),
    )
    fake.script("DELETE", "/api/v1/terminal/sessions/current", Reply(204))
    with TerminalClient(fake.url, "relay_dev_x") as device:
        operator, answer = device.login("ivanov", "secret")
        operator.logout()
        assert operator.session is device.session
        assert answer["user"] == {"login": "ivanov"}
    login, logout = fake.calls()
    assert login.body == {"login": "ivanov", "password": "secret"}
    assert logout.headers["Authorization"] == "Bearer relay_ses_x"


def test_enroll_keeps_the_new_token(fake: FakeRelay) -> None:
    fake.script(
        "POST",
        "/api/v1/terminal/enroll",
        Reply(201, {"device_id": "d", "pin": "5546", "token": "relay_dev_new", "name": "T"}),
    )
    client, enrollment = TerminalClient.enroll(fake.url, "ENR-1", name="T", serial="S1")
    with client:
        assert client.token == "relay_dev_new"
    assert enrollment.pin == "5546"
    assert enrollment.mode == "offline"
    assert fake.calls()[0].body == {"code": "ENR-1", "name": "T", "model": "", "serial": "S1"}


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


def test_the_admin_calls(fake: FakeRelay) -> None:
    admin = "/api/v1/admin"
    calls = [
        ("POST", f"{admin}/enrollment-codes"),
        ("POST", f"{admin}/users"),
        ("GET", f"{admin}/users/%D0%B8%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2"),
        ("PATCH", f"{admin}/users/ivanov"),
        ("DELETE", f"{admin}/users/ivanov"),
        ("POST", f"{admin}/groups"),
        ("GET", f"{admin}/groups"),
        ("GET", f"{admin}/groups/%D0%9E%D0%B1%D1%89%D0%B0%D1%8F%20%2F%201"),
        ("PATCH", f"{admin}/groups/g"),
        ("DELETE", f"{admin}/groups/g"),
        ("GET", f"{admin}/devices"),
        ("GET", f"{admin}/devices/d"),
        ("PATCH", f"{admin}/devices/d"),
        ("POST", f"{admin}/devices/d/revoke"),
        ("POST", f"{admin}/devices/d/new-pin"),
        ("POST", "/api/v1/documents/x/release"),
        ("GET", f"{admin}/business-processes"),
        ("GET", f"{admin}/business-processes/price-check"),
        ("PUT", f"{admin}/business-processes/price-check"),
        ("PATCH", f"{admin}/business-processes/price-check"),
        ("PUT", f"{admin}/webhook"),
        ("POST", f"{admin}/webhook/rotate-secret"),
        ("POST", f"{admin}/webhook/test"),
        ("GET", f"{admin}/dead-letters"),
        ("POST", f"{admin}/dead-letters/dl/replay"),
    ]
    for method, path in calls:
        fake.script(method, path, Reply(204) if method == "DELETE" else Reply(body={"ok": True}))
    with AdminClient(fake.url, "relay_adm_x") as client:
        client.create_enrollment_code(uses=30)
        client.create_user("ivanov", "secret", name="Иванов")
        client.user("иванов")
        client.update_user("ivanov", password="new-secret")
        client.delete_user("ivanov")
        client.create_group("g", ["ivanov"])
        list(client.groups())
        client.group("Общая / 1")
        client.update_group("g", new_name="h", members=[])
        client.delete_group("g")
        list(client.admin_devices(status="revoked"))
        client.device("d")
        client.update_device("d", mode="online")
        client.revoke_device("d")
        client.new_pin("d")
        client.release_document("x", instance_id="i")
        list(client.business_processes())
        client.business_process("price-check")
        client.put_business_process("price-check", {"enabled": True})
        client.patch_business_process("price-check", {"enabled": False})
        assert client.set_webhook("https://1c.example/relay") == {"ok": True}
        client.rotate_webhook_secret()
        client.test_webhook()
        list(client.dead_letters())
        client.replay_dead_letter("dl")
    seen = fake.calls()
    assert [(s.method, s.path) for s in seen] == calls
    assert seen[0].body == {"uses": 30}
    assert seen[3].body == {"password": "new-secret"}
    assert seen[8].body == {"name": "h", "members": []}
    assert seen[10].query == {"status": ["revoked"]}
    assert seen[12].body == {"mode": "online"}
    assert seen[20].body == {"url": "https://1c.example/relay", "enabled": True}


def test_an_unscripted_call_is_a_typed_404(fake: FakeRelay) -> None:
    fake.script("GET", "/api/v1/devices", error(404, "not_found", "Nothing here."))
    with AccountingClient(fake.url, "k") as client, pytest.raises(Exception, match="not_found"):
        client.devices()

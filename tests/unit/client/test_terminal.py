"""The terminal client's calls: ETag polling, claims, operator login, enrollment."""

import pytest

from relay.client import TerminalClient
from tests.unit.client.fake_relay import FakeRelay, Reply

INBOX = "/api/v1/terminal/documents"


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

"""The client's retry policy: what is retried, how often, how long it waits, what it raises."""

from decimal import Decimal

import pytest
import requests

from relay.client import (
    AccountingClient,
    Conflict,
    RateLimited,
    RetryPolicy,
    ServerError,
    TerminalClient,
    TransportError,
    ValidationFailed,
)
from relay.client.http import HttpClient
from relay.client.tools.localserver import free_port
from tests.unit.client.conftest import Sleeps
from tests.unit.client.fake_relay import FakeRelay, Reply, error

POLICY = RetryPolicy(attempts=4, backoff=0.1, max_backoff=0.4, max_retry_after=30)
COMPLETE = "/api/v1/terminal/documents/i-1/complete"
ENROLL = "/api/v1/terminal/enroll"
ANSWER = {"id": "i-1", "state": "completed", "result_id": "r-1"}


def terminal(fake: FakeRelay, sleeps: Sleeps, **kwargs: object) -> TerminalClient:
    client = TerminalClient(fake.url, "relay_dev_x", retry=POLICY, sleep=sleeps, **kwargs)  # type: ignore[arg-type]
    client.claims["i-1"] = "relay_clm_x"
    return client


def test_a_get_is_retried_on_503_with_growing_waits(fake: FakeRelay, sleeps: Sleeps) -> None:
    fake.script(
        "GET",
        "/api/v1/devices",
        error(503, "database_unavailable"),
        Reply(502, raw=b"<html>Bad gateway</html>"),
        error(504, "timeout"),
        Reply(body={"devices": [{"pin": "5546"}], "next": None}),
    )
    with AccountingClient(fake.url, "relay_acc_x", retry=POLICY, sleep=sleeps) as client:
        assert client.devices() == [{"pin": "5546"}]
    assert len(fake.calls()) == 4
    assert len(sleeps) == 3
    assert 0.05 <= sleeps[0] <= 0.1
    assert 0.1 <= sleeps[1] <= 0.2
    assert 0.2 <= sleeps[2] <= 0.4


def test_retry_after_is_honoured(fake: FakeRelay, sleeps: Sleeps) -> None:
    fake.script(
        "GET",
        "/api/v1/results",
        Reply(429, {"error": {"code": "rate_limited", "message": "Wait."}}, {"Retry-After": "7"}),
        Reply(body={"results": [], "next": None}),
    )
    with AccountingClient(fake.url, "k", retry=POLICY, sleep=sleeps) as client:
        assert list(client.results()) == []
    assert sleeps == [7.0]


def test_a_retry_after_beyond_the_policy_is_raised_not_waited(
    fake: FakeRelay, sleeps: Sleeps
) -> None:
    fake.script(
        "GET",
        "/api/v1/results",
        Reply(429, {"error": {"code": "rate_limited", "message": "Wait."}}, {"Retry-After": "900"}),
    )
    with (
        AccountingClient(fake.url, "k", retry=POLICY, sleep=sleeps) as client,
        pytest.raises(RateLimited) as raised,
    ):
        list(client.results())
    assert raised.value.retry_after == 900
    assert sleeps == []


def test_attempts_run_out_with_the_last_error(fake: FakeRelay, sleeps: Sleeps) -> None:
    fake.script("GET", "/api/v1/devices", *[error(503, "database_unavailable")] * 4)
    with (
        AccountingClient(fake.url, "k", retry=POLICY, sleep=sleeps) as client,
        pytest.raises(ServerError) as raised,
    ):
        client.devices()
    assert raised.value.code == "database_unavailable"
    assert len(fake.calls()) == 4


@pytest.mark.parametrize(
    ("status", "code", "exc"),
    [(409, "claim_lost", Conflict), (422, "quantity_control", ValidationFailed)],
)
def test_other_4xx_are_never_retried(
    fake: FakeRelay, sleeps: Sleeps, status: int, code: str, exc: type[Exception]
) -> None:
    fake.script("POST", COMPLETE, error(status, code, "Refused.", lines=[1]))
    with terminal(fake, sleeps) as client, pytest.raises(exc) as raised:
        client.complete("i-1", [{"line_id": "1", "qty": 1}])
    assert raised.value.details == {"lines": [1]}  # type: ignore[attr-defined]
    assert len(fake.calls()) == 1
    assert sleeps == []


def test_busy_is_retried(fake: FakeRelay, sleeps: Sleeps) -> None:
    fake.script(
        "POST",
        COMPLETE,
        Reply(409, {"error": {"code": "busy", "message": "Retry."}}, {"Retry-After": "1"}),
        Reply(body=ANSWER),
    )
    with terminal(fake, sleeps) as client:
        assert client.complete("i-1", [])["result_id"] == "r-1"
    assert sleeps == [1.0]


def test_a_completion_cut_off_is_retried_with_the_same_submission(
    fake: FakeRelay, sleeps: Sleeps
) -> None:
    fake.script("POST", COMPLETE, Reply(drop=True), Reply(body=ANSWER))
    with terminal(fake, sleeps) as client:
        answer = client.complete("i-1", [{"line_id": "1", "qty": Decimal("0.001")}])
        assert "i-1" not in client.claims
    assert answer == ANSWER
    first, second = fake.calls("POST", COMPLETE)
    assert first.body == second.body
    assert first.body["submission_id"]
    assert first.body["claim_token"] == "relay_clm_x"
    assert first.body["lines"] == [{"line_id": "1", "qty": Decimal("0.001")}]


def test_two_completions_get_two_submission_ids(fake: FakeRelay, sleeps: Sleeps) -> None:
    fake.script("POST", COMPLETE, Reply(body=ANSWER), Reply(body=ANSWER))
    with terminal(fake, sleeps) as client:
        client.complete("i-1", [], close=False)
        client.complete("i-1", [])
    first, second = fake.calls("POST", COMPLETE)
    assert first.body["submission_id"] != second.body["submission_id"]


def test_an_enrollment_cut_off_is_not_sent_again(fake: FakeRelay, sleeps: Sleeps) -> None:
    fake.script("POST", ENROLL, Reply(drop=True))
    with pytest.raises(TransportError) as raised:
        TerminalClient.enroll(fake.url, "ENR-1", name="T", retry=POLICY)
    assert raised.value.sent is True
    assert "cut" in raised.value.message
    assert len(fake.calls()) == 1


def test_an_enrollment_refused_by_a_503_is_not_sent_again(fake: FakeRelay) -> None:
    fake.script("POST", ENROLL, error(503, "database_unavailable"))
    with pytest.raises(ServerError):
        TerminalClient.enroll(fake.url, "ENR-1", name="T", retry=POLICY)
    assert len(fake.calls()) == 1


def test_a_call_that_never_left_is_retried_even_if_not_idempotent(sleeps: Sleeps) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with (
        HttpClient(dead, retry=POLICY, sleep=sleeps) as client,
        pytest.raises(TransportError) as raised,
    ):
        client.post(ENROLL, {"code": "x"}, idempotent=False)
    assert raised.value.sent is False
    assert "refused" in raised.value.message
    assert isinstance(raised.value.cause, requests.ConnectionError)
    assert len(sleeps) == POLICY.attempts - 1


def test_a_read_timeout_is_retried_only_when_idempotent(fake: FakeRelay, sleeps: Sleeps) -> None:
    fake.script("GET", "/api/v1/devices", Reply(delay=0.5), Reply(body={"devices": []}))
    fake.script("POST", ENROLL, Reply(delay=0.5))
    with HttpClient(fake.url, "k", retry=POLICY, sleep=sleeps, timeout=(1, 0.2)) as client:
        assert client.get("/api/v1/devices") == {"devices": []}
        with pytest.raises(TransportError) as raised:
            client.post(ENROLL, {}, idempotent=False)
    assert "timed out" in raised.value.message
    assert len(fake.calls("POST")) == 1


def test_headers_and_exact_decimals_both_ways(fake: FakeRelay) -> None:
    fake.script(
        "POST",
        "/api/v1/documents",
        Reply(201, {"documents": [{"lines": [{"declared_qty": Decimal("0.001")}]}]}),
    )
    order = {"external_id": "Заказ-1", "lines": [{"declared_qty": Decimal("0.001")}]}
    with AccountingClient(fake.url, "relay_acc_x") as client:
        answer = client.push("purchase-receipt", [order], target={"pin": "5546"})
    assert answer["documents"][0]["lines"][0]["declared_qty"] == Decimal("0.001")
    (seen,) = fake.calls()
    assert seen.headers["Authorization"] == "Bearer relay_acc_x"
    assert seen.headers["Content-Type"] == "application/json; charset=utf-8"
    assert seen.headers["User-Agent"].startswith("relay-client/")
    assert seen.body == {
        "business_process": "purchase-receipt",
        "documents": [order],
        "target": {"pin": "5546"},
    }


def test_a_shared_session_is_left_open_by_its_borrowers(fake: FakeRelay) -> None:
    fake.script("GET", "/api/v1/devices", Reply(body={"devices": []}))
    with requests.Session() as session:
        with AccountingClient(fake.url, "k", session=session) as client:
            assert client.session is session
        with AccountingClient(fake.url, "k", session=session) as again:
            assert again.devices() == []


def test_a_non_json_success_has_no_body(fake: FakeRelay) -> None:
    broken = Reply(raw=b"{", headers={"Content-Type": "application/json"})
    fake.script("GET", "/healthz", Reply(raw=b"ok"), broken)
    with HttpClient(fake.url) as client:
        assert client.get("/healthz") is None
        assert client.get("/healthz") is None

"""Failure limits under two real gunicorn workers: the configured number exactly, not per worker."""

from collections import Counter
from typing import Any

import pytest
import requests

from tests.e2e.test_gunicorn import create_tenant
from tests.racing import race
from tests.serving import LiveServer, children_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

TIMEOUT = 20


def post(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    """POST on a connection of its own, so the two workers share the requests."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with requests.post(url, json=body, headers=headers, timeout=TIMEOUT) as response:
        return response.status_code, response.json()


def test_failed_enrollments_are_limited_across_both_workers(
    server: LiveServer, server_env: dict[str, str]
) -> None:
    assert len(children_of(server.proc.pid)) == 2
    keys = create_tenant(server_env, "limits")
    enroll = f"{server.url}/api/v1/terminal/enroll"
    wrong = {"code": "ENR-WRONG-CODE", "name": "T", "model": "", "serial": ""}
    answers = race([lambda: post(enroll, wrong) for _ in range(30)])
    statuses = Counter(status for status, _ in answers)
    # RELAY_RATELIMIT_ENROLL's default, "10 per 10 minutes": ten 401s whatever the workers.
    assert statuses == {401: 10, 429: 20}, statuses
    assert {body["error"]["code"] for status, body in answers if status == 429} == {"rate_limited"}
    # The throttled address still enrolls with a valid code.
    status, code = post(
        f"{server.url}/api/v1/admin/enrollment-codes", {"uses": 1}, keys["admin_key"]
    )
    assert status == 201, code
    status, device = post(enroll, {**wrong, "code": code["code"]})
    assert status == 201, device


def test_wrong_passwords_lock_after_exactly_five_across_both_workers(
    server: LiveServer, server_env: dict[str, str]
) -> None:
    keys = create_tenant(server_env, "lockout")
    base = f"{server.url}/api/v1"
    status, code = post(f"{base}/admin/enrollment-codes", {"uses": 1}, keys["admin_key"])
    assert status == 201, code
    status, device = post(
        f"{base}/terminal/enroll", {"code": code["code"], "name": "T", "model": "", "serial": ""}
    )
    assert status == 201, device
    status, _ = post(
        f"{base}/admin/users", {"login": "ivanov", "password": "pass-1234"}, keys["admin_key"]
    )
    assert status == 201
    wrong = {"login": "ivanov", "password": "wrong-pass"}
    answers = race([lambda: post(f"{base}/terminal/sessions", wrong, device["token"])] * 12)
    assert Counter(status for status, _ in answers) == {401: 5, 429: 7}, answers

"""The whole cycle against a real gunicorn (`relay serve`, two sync workers) over HTTP."""

import json
import uuid
from functools import partial
from typing import Any

import pytest
import requests

from tests.conftest import ON_POSTGRES
from tests.helpers import doc
from tests.racing import race
from tests.serving import LiveServer, children_of, run_relay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

TIMEOUT = 10  # seconds, per HTTP call


class Http:
    """requests with the relay's bearer header, a timeout on every call, closed at the end."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        with self.session.request(
            method, self.base + path, json=body, headers=all_headers, timeout=TIMEOUT
        ) as response:
            payload = response.json() if response.content else None
            return response.status_code, dict(response.headers), payload


def http_claim(base: str, token: str, instance_id: str) -> tuple[int, Any]:
    """Claim over a connection of its own, so the two workers share the load."""
    http = Http(base)
    try:
        status, _, body = http.call(
            "POST", f"/api/v1/terminal/documents/{instance_id}/claim", token
        )
        return status, body
    finally:
        http.close()


def create_tenant(env: dict[str, str], name: str) -> dict[str, str]:
    out = run_relay(["tenant", "create", name, "--json"], env)
    keys: dict[str, str] = json.loads(out.stdout)
    assert keys["tenant"] == name
    assert keys["admin_key"].startswith("relay_adm_")
    assert keys["accounting_key"].startswith("relay_acc_")
    return keys


def enroll(http: Http, admin_key: str, name: str) -> dict[str, Any]:
    status, _, body = http.call(
        "POST", "/api/v1/admin/enrollment-codes", admin_key, {"uses": 1, "ttl_seconds": 3600}
    )
    assert status == 201, body
    status, _, device = http.call(
        "POST",
        "/api/v1/terminal/enroll",
        body={"code": body["code"], "name": name, "model": "EDA50", "serial": ""},
    )
    assert status == 201, device
    return dict(device)


def test_gunicorn_serves_the_whole_cycle(server: LiveServer, server_env: dict[str, str]) -> None:
    assert len(children_of(server.proc.pid)) == 2, "relay serve --workers 2 runs two workers"
    keys = create_tenant(server_env, "e2e-ромашка")
    admin, acct = keys["admin_key"], keys["accounting_key"]
    http = Http(server.url)
    try:
        device = enroll(http, admin, "Склад-1")
        pin, token = device["pin"], device["token"]

        status, _, pushed = http.call(
            "POST",
            "/api/v1/documents",
            acct,
            {"business_process": "purchase-receipt", "target": {"pin": pin}, "documents": [doc()]},
        )
        assert status == 201, pushed
        instance = pushed["documents"][0]["instances"][0]
        assert instance["addressee"]["pin"] == pin

        # The inbox carries an ETag, the same whichever worker answers (304: see below).
        status, headers, inbox = http.call("GET", "/api/v1/terminal/documents", token)
        assert status == 200, inbox
        assert [d["id"] for d in inbox["documents"]] == [instance["id"]]
        etag = headers["ETag"]
        for _ in range(6):
            status, headers, _ = http.call("GET", "/api/v1/terminal/documents", token)
            assert (status, headers["ETag"]) == (200, etag)

        status, _, claimed = http.call(
            "POST", f"/api/v1/terminal/documents/{instance['id']}/claim", token
        )
        assert status == 200, claimed
        assert claimed["state"] == "claimed"

        # The claim changed the inbox: the old ETag no longer matches.
        status, headers, inbox = http.call(
            "GET", "/api/v1/terminal/documents", token, headers={"If-None-Match": etag}
        )
        assert status == 200, inbox
        assert headers["ETag"] != etag
        assert inbox["documents"][0]["claimed_by_me"] is True

        completion = {
            "submission_id": str(uuid.uuid4()),
            "claim_token": claimed["claim_token"],
            "header": {"comment": "2 boxes damaged"},
            "lines": [
                {"line_id": "1", "qty": 6},
                {"line_id": "1", "qty": 3, "serial": "SN-42"},
                {"line_id": "2", "qty": 5},
            ],
        }
        path = f"/api/v1/terminal/documents/{instance['id']}/complete"
        status, _, done = http.call("POST", path, token, completion)
        assert status == 200, done
        assert done["state"] == "completed"
        # A retry of the same submission (the answer was lost) gets the same answer.
        status, _, again = http.call("POST", path, token, completion)
        assert (status, again) == (200, done)

        status, _, feed = http.call("GET", "/api/v1/results", acct)
        assert status == 200, feed
        assert [r["id"] for r in feed["results"]] == [done["result_id"]]
        result = feed["results"][0]
        assert result["external_id"] == doc()["external_id"]
        assert result["completed_by"]["pin"] == pin
        assert result["header"] == {"comment": "2 boxes damaged"}
        line = result["lines"][0]
        assert (line["declared_qty"], line["actual_qty"]) == (10, 9)
        assert line["actual"] == [{"qty": 6}, {"qty": 3, "serial": "SN-42"}]

        ack = {"ids": [done["result_id"]]}
        status, _, body = http.call("POST", "/api/v1/results/ack", acct, ack)
        assert (status, body) == (200, {"processed": [done["result_id"]], "already_processed": []})
        status, _, body = http.call("POST", "/api/v1/results/ack", acct, ack)
        assert (status, body) == (200, {"processed": [], "already_processed": [done["result_id"]]})
        status, _, body = http.call("GET", "/api/v1/results", acct)
        assert (status, body) == (200, {"results": [], "next": None})

        status, _, ready = http.call("GET", "/readyz")
        assert status == 200, ready
        assert ready == {
            "status": "ok",
            "database": "postgresql" if ON_POSTGRES else "sqlite",
        }
        status, _, health = http.call("GET", "/healthz")
        assert (status, health) == (200, {"status": "ok"})
    finally:
        http.close()
    assert server.alive(), server.log()
    assert "Traceback" not in server.log(), server.log()


def test_unchanged_inbox_answers_304_whichever_worker_serves(
    server: LiveServer, server_env: dict[str, str]
) -> None:
    keys = create_tenant(server_env, "e2e-etag")
    http = Http(server.url)
    try:
        token = enroll(http, keys["admin_key"], "Склад-1")["token"]
        status, _, pushed = http.call(
            "POST",
            "/api/v1/documents",
            keys["accounting_key"],
            {"business_process": "purchase-receipt", "documents": [doc()]},
        )
        assert status == 201, pushed
        status, headers, inbox = http.call("GET", "/api/v1/terminal/documents", token)
        assert (status, len(inbox["documents"])) == (200, 1), inbox
        etag = headers["ETag"]
        for _ in range(6):  # several calls: both workers answer some of them
            status, headers, body = http.call(
                "GET", "/api/v1/terminal/documents", token, headers={"If-None-Match": etag}
            )
            assert (status, body, headers.get("ETag")) == (304, None, etag)
    finally:
        http.close()
    assert server.alive(), server.log()


def test_two_workers_let_exactly_one_of_many_claims_win(
    server: LiveServer, server_env: dict[str, str]
) -> None:
    """Claims racing through two worker processes (on SQLite: two writers on one file)."""
    keys = create_tenant(server_env, "e2e-race")
    admin, acct = keys["admin_key"], keys["accounting_key"]
    racers = 8
    http = Http(server.url)
    try:
        terminals = []
        for n in range(racers):
            login = f"picker{n}"
            status, _, body = http.call(
                "POST",
                "/api/v1/admin/users",
                admin,
                {"login": login, "name": login, "password": "secret-1"},
            )
            assert status == 201, body
            device = enroll(http, admin, f"ТСД-{n}")
            status, _, session = http.call(
                "POST",
                "/api/v1/terminal/sessions",
                device["token"],
                {"login": login, "password": "secret-1"},
            )
            assert status == 201, session
            terminals.append((login, session["session_token"]))
        status, _, pushed = http.call(
            "POST",
            "/api/v1/documents",
            acct,
            {
                "business_process": "order-picking",
                "target": {"all": True},
                "documents": [doc(f"ЗаказКлиента-{n}") for n in range(3)],
            },
        )
        assert status == 201, pushed
        instance_ids = [d["instances"][0]["id"] for d in pushed["documents"]]
    finally:
        http.close()

    for instance_id in instance_ids:
        answers = race(
            [partial(http_claim, server.url, token, instance_id) for _, token in terminals]
        )
        statuses = sorted(status for status, _ in answers)
        assert statuses == [200] + [409] * (racers - 1), answers
        winner = next(
            login for (login, _), (s, _) in zip(terminals, answers, strict=True) if s == 200
        )
        for status, body in answers:
            if status == 409:
                assert body["error"]["code"] == "already_claimed", body
                assert body["error"]["details"]["holder"]["login"] == winner, body
    assert server.alive(), server.log()
    assert "Traceback" not in server.log(), server.log()
    assert "database is locked" not in server.log(), server.log()

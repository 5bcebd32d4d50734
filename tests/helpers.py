"""Test helpers: an API client with tokens, and builders for tenants, devices, users."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from werkzeug.test import TestResponse

from relay import create_app
from relay.db import transaction
from relay.directory import tenants
from relay.extensions import db
from tests.factories import doc as doc
from tests.factories import stock_lines as stock_lines


@contextmanager
def sql_sent(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the app's engine sends inside the block, with its parameters."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        sent.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", keep)


@dataclass
class TenantKeys:
    id: int
    name: str
    admin_key: str
    accounting_key: str


@dataclass
class Terminal:
    device_id: str
    pin: str
    token: str
    session_token: str | None = None
    claims: dict[str, str] = field(default_factory=dict)

    @property
    def bearer(self) -> str:
        return self.session_token or self.token


def new_tenant(app: Flask, name: str) -> TenantKeys:
    with app.app_context(), transaction():
        created = tenants.create(name)
        return TenantKeys(
            created.tenant.id, created.tenant.name, created.admin_key, created.accounting_key
        )


class Client:
    """The Flask test client with the relay's auth header and JSON bodies."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        if json is not None:
            kwargs["json"] = json
        return self.client.open(path, method=method, headers=all_headers, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.call("GET", path, token, **kwargs)

    def post(
        self, path: str, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> TestResponse:
        return self.call("POST", path, token, json=json, **kwargs)

    def put(
        self, path: str, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> TestResponse:
        return self.call("PUT", path, token, json=json, **kwargs)

    def patch(
        self, path: str, token: str | None = None, json: Any = None, **kwargs: Any
    ) -> TestResponse:
        return self.call("PATCH", path, token, json=json, **kwargs)

    def delete(self, path: str, token: str | None = None, **kwargs: Any) -> TestResponse:
        return self.call("DELETE", path, token, **kwargs)

    # -- builders ----------------------------------------------------------------------------

    def enrollment_code(self, tenant: TenantKeys, uses: int = 1) -> str:
        response = self.post("/api/v1/admin/enrollment-codes", tenant.admin_key, {"uses": uses})
        assert response.status_code == 201, response.json
        return str(response.json["code"])

    def enroll(
        self, tenant: TenantKeys, name: str = "Склад-1", serial: str = "", mode: str | None = None
    ) -> Terminal:
        code = self.enrollment_code(tenant)
        response = self.post(
            "/api/v1/terminal/enroll",
            json={"code": code, "name": name, "model": "EDA50", "serial": serial},
        )
        assert response.status_code == 201, response.json
        body = response.json
        terminal = Terminal(device_id=body["device_id"], pin=body["pin"], token=body["token"])
        if mode:
            r = self.patch(
                f"/api/v1/admin/devices/{terminal.device_id}", tenant.admin_key, {"mode": mode}
            )
            assert r.status_code == 200, r.json
        return terminal

    def user(
        self, tenant: TenantKeys, login: str, password: str = "secret-1", name: str = ""
    ) -> dict[str, Any]:
        response = self.post(
            "/api/v1/admin/users",
            tenant.admin_key,
            {"login": login, "name": name or login, "password": password},
        )
        assert response.status_code == 201, response.json
        return dict(response.json)

    def group(self, tenant: TenantKeys, name: str, members: list[str]) -> dict[str, Any]:
        response = self.post(
            "/api/v1/admin/groups", tenant.admin_key, {"name": name, "members": members}
        )
        assert response.status_code == 201, response.json
        return dict(response.json)

    def login(self, terminal: Terminal, login: str, password: str = "secret-1") -> Terminal:
        response = self.post(
            "/api/v1/terminal/sessions", terminal.token, {"login": login, "password": password}
        )
        assert response.status_code == 201, response.json
        return Terminal(
            terminal.device_id,
            terminal.pin,
            terminal.token,
            session_token=response.json["session_token"],
        )

    def push(
        self,
        tenant: TenantKeys,
        process: str,
        docs: list[dict[str, Any]],
        target: dict[str, Any] | None = None,
        expect: int | None = 201,
    ) -> TestResponse:
        body: dict[str, Any] = {"business_process": process, "documents": docs}
        if target is not None:
            body["target"] = target
        response = self.post("/api/v1/documents", tenant.accounting_key, body)
        if expect is not None:
            assert response.status_code == expect, response.json
        return response

    def inbox(self, terminal: Terminal) -> list[dict[str, Any]]:
        response = self.get("/api/v1/terminal/documents", terminal.bearer)
        assert response.status_code == 200, response.json
        return list(response.json["documents"])

    def claim(self, terminal: Terminal, instance_id: str, expect: int = 200) -> TestResponse:
        response = self.post(f"/api/v1/terminal/documents/{instance_id}/claim", terminal.bearer)
        assert response.status_code == expect, response.json
        if expect == 200:
            terminal.claims[instance_id] = response.json["claim_token"]
        return response

    def complete(
        self,
        terminal: Terminal,
        instance_id: str,
        lines: list[dict[str, Any]],
        expect: int | None = 200,
        **extra: Any,
    ) -> TestResponse:
        body = {
            "submission_id": extra.pop("submission_id", uuid.uuid4().hex),
            "claim_token": extra.pop("claim_token", terminal.claims.get(instance_id, "")),
            "lines": lines,
            **extra,
        }
        response = self.post(
            f"/api/v1/terminal/documents/{instance_id}/complete", terminal.bearer, body
        )
        if expect is not None:
            assert response.status_code == expect, response.json
        return response

    def result(self, tenant: TenantKeys, terminal: Terminal, n: int = 1) -> str:
        """Push a supplier order to the terminal, claim and complete it; return the result id."""
        pushed = self.push(
            tenant,
            "purchase-receipt",
            [doc(f"ЗаказПоставщику-0000-{n:06d}")],
            {"pin": terminal.pin},
        )
        instance_id = pushed.json["documents"][0]["instances"][0]["id"]
        self.claim(terminal, instance_id)
        done = self.complete(
            terminal,
            instance_id,
            [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": Decimal("0.5")}],
        )
        return str(done.json["result_id"])

    def set_webhook(self, tenant: TenantKeys, url: str, enabled: bool = True) -> str | None:
        """Set the tenant's webhook; return the secret when this answer shows it."""
        response = self.put(
            "/api/v1/admin/webhook", tenant.admin_key, {"url": url, "enabled": enabled}
        )
        assert response.status_code == 200, response.json
        return response.json.get("secret")


# -- builders for collective work, chaining, rerouting (appended) ------------------------------


def operator(api: Client, tenant: TenantKeys, login: str) -> Terminal:
    """A user of the tenant, logged in on a terminal of their own."""
    api.user(tenant, login)
    return api.login(api.enroll(tenant, name=f"ТСД {login}"), login)


def join(api: Client, terminal: Terminal, instance_id: str, expect: int = 200) -> TestResponse:
    """Join a collective document; the part's token is kept as the terminal's claim."""
    response = api.post(f"/api/v1/terminal/documents/{instance_id}/join", terminal.bearer)
    assert response.status_code == expect, response.json
    if expect == 200:
        terminal.claims[instance_id] = response.json["claim_token"]
    return response


def patch_process(
    api: Client, tenant: TenantKeys, key: str, changes: dict[str, Any], expect: int = 200
) -> TestResponse:
    response = api.patch(f"/api/v1/admin/business-processes/{key}", tenant.admin_key, changes)
    assert response.status_code == expect, response.json
    return response


def document(api: Client, tenant: TenantKeys, document_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/documents/{document_id}", tenant.accounting_key)
    assert response.status_code == 200, response.json
    return dict(response.json)


def results(api: Client, tenant: TenantKeys) -> list[dict[str, Any]]:
    response = api.get("/api/v1/results?limit=500", tenant.accounting_key)
    assert response.status_code == 200, response.json
    return list(response.json["results"])


def kinds(doc_out: dict[str, Any]) -> list[str]:
    """The event kinds of a document's timeline, oldest first."""
    return [event["kind"] for event in doc_out["timeline"]]


# -- appended for the accounting/admin API tests ---------------------------------------------


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """Check the one error shape (SPEC §11) and return its ``error`` object."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert isinstance(body, dict), body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str), error
    assert error["code"], error
    assert isinstance(error["details"], dict), error
    message = error["message"]
    # A human sentence, not an exception repr.
    assert isinstance(message, str), error
    assert len(message) >= 15, error
    assert " " in message, error
    assert "Traceback" not in message, error
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


def list_documents(api: Client, tenant: TenantKeys, **params: Any) -> list[dict[str, Any]]:
    """Every document of the tenant as GET /api/v1/documents lists them (all pages)."""
    found: list[dict[str, Any]] = []
    query = dict(params)
    while True:
        response = api.get("/api/v1/documents", tenant.accounting_key, query_string=query)
        assert response.status_code == 200, response.json
        found.extend(response.json["documents"])
        if not response.json["next"]:
            return found
        query["after"] = response.json["next"]


# -- a fresh app of its own (unit tests of the app factory and the engine) --------------------


@contextmanager
def built(tmp_path: Path, **overrides: Any) -> Iterator[Flask]:
    """A fresh app with its own instance folder; its engine is closed afterwards."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), **overrides})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


class AnyText:
    """Equal to any non-empty string (the wording of a message is not the contract)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    def __hash__(self) -> int:
        return 0

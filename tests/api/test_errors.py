"""Every status of SPEC §11 in the one error shape, and a sweep of bad bodies: never a 500."""

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.helpers import Client, TenantKeys, Terminal, assert_error, doc, list_documents

ON_POSTGRES = os.environ.get("RELAY_TEST_DATABASE_URL", "").startswith("postgresql")
JSON = {"Content-Type": "application/json"}


def raw(
    api: Client, method: str, path: str, token: str | None, data: str | bytes, **kw: Any
) -> Any:
    headers = {**JSON, **kw.pop("headers", {})}
    return api.call(method, path, token, data=data, headers=headers, **kw)


# -- each status of SPEC §11 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"business_process": "order-picking",',
        b"\xff\xfe\x00",
        b"{'single': 'quotes'}",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b"1" * 5000,
    ],
    ids=lambda b: repr(b[:20]),
)
def test_400_malformed_json(api: Client, tenant: TenantKeys, body: bytes) -> None:
    response = raw(api, "POST", "/api/v1/documents", tenant.accounting_key, body)
    error = assert_error(response, 400, "malformed_json")
    assert "JSON" in error["message"]
    assert list_documents(api, tenant) == []


def test_400_on_every_kind_of_endpoint(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    calls = [
        ("POST", "/api/v1/admin/users", tenant.admin_key),
        ("PUT", "/api/v1/admin/business-processes/price-check", tenant.admin_key),
        ("PATCH", "/api/v1/admin/business-processes/price-check", tenant.admin_key),
        ("POST", "/api/v1/results/ack", tenant.accounting_key),
        ("POST", "/api/v1/terminal/enroll", None),
        ("POST", "/api/v1/terminal/sessions", terminal.token),
        ("POST", "/api/v1/terminal/completions", terminal.token),
    ]
    for method, path, token in calls:
        assert_error(raw(api, method, path, token, b"{oops"), 400, "malformed_json")


def test_json_without_content_type_is_still_json(
    api: Client, tenant: TenantKeys, app: Flask
) -> None:
    terminal = api.enroll(tenant)
    body = app.json.dumps(
        {
            "business_process": "purchase-receipt",
            "target": {"pin": terminal.pin},
            "documents": [doc()],
        }
    )
    response = api.call("POST", "/api/v1/documents", tenant.accounting_key, data=body)
    assert response.status_code == 201, response.json
    response = api.call(
        "POST",
        "/api/v1/documents",
        tenant.accounting_key,
        data="{nope",
        headers={"Content-Type": "text/plain"},
    )
    assert_error(response, 400, "malformed_json")


def test_401_no_credentials(api: Client) -> None:
    error = assert_error(api.get("/api/v1/documents"), 401, "unauthorized")
    assert "Authorization" in error["message"]


def test_403_wrong_role(api: Client, tenant: TenantKeys) -> None:
    error = assert_error(api.get("/api/v1/admin/users", tenant.accounting_key), 403, "forbidden")
    assert error["details"] == {"needs": "admin", "credential": "accounting"}


def test_404_unknown_object_and_unknown_route(api: Client, tenant: TenantKeys) -> None:
    assert_error(
        api.get(f"/api/v1/documents/{uuid.uuid4()}", tenant.accounting_key),
        404,
        "document_not_found",
    )
    for path in ("/api/v1/nope", "/nope", "/api/v2/documents", "/api/v1/documents/x/y/z"):
        error = assert_error(api.get(path, tenant.accounting_key), 404, "not_found")
        assert path in error["message"]
    # Without credentials too.
    assert_error(api.get("/api/v1/nope"), 404, "not_found")


def test_405_method_not_allowed(api: Client, tenant: TenantKeys) -> None:
    for method, path in (
        ("DELETE", "/api/v1/documents"),
        ("PUT", "/api/v1/results/ack"),
        ("DELETE", "/api/v1/admin/business-processes/price-check"),
        ("POST", "/api/v1/devices"),
    ):
        response = api.call(method, path, tenant.admin_key)
        error = assert_error(response, 405, "method_not_allowed")
        assert method in error["message"]
        assert response.headers.get("Allow")


def test_409_state_conflicts(api: Client, tenant: TenantKeys) -> None:
    first, second = api.enroll(tenant, name="ТСД-1"), api.enroll(tenant, name="ТСД-2")
    api.user(tenant, "ivan")
    assert_error(
        api.post("/api/v1/admin/users", tenant.admin_key, {"login": "ivan", "password": "abcd"}),
        409,
        "user_exists",
    )
    pushed = api.push(tenant, "order-picking", [doc()], target={"all": True})
    instance = pushed.json["documents"][0]["instances"][0]["id"]
    api.claim(api.login(first, "ivan"), instance)
    other = api.login(second, "ivan")
    error = assert_error(api.claim(other, instance, expect=409), 409, "already_claimed")
    assert error["details"]["holder"]["login"] == "ivan"
    changed = api.push(tenant, "order-picking", [doc(lines=[])], target={"all": True}, expect=None)
    assert_error(changed, 409, "document_in_progress")


def test_413_body_over_the_limit(
    api: Client, tenant: TenantKeys, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b'{"business_process": "order-picking", "documents": []}' + b" " * (10 * 1024 * 1024)
    error = assert_error(
        raw(api, "POST", "/api/v1/documents", tenant.accounting_key, body), 413, "body_too_large"
    )
    assert str(10 * 1024 * 1024) in error["message"]
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 100)
    for method, path, token in (
        ("POST", "/api/v1/admin/users", tenant.admin_key),
        ("POST", "/api/v1/terminal/enroll", None),
    ):
        response = raw(api, method, path, token, b'{"login": "' + b"x" * 200 + b'"}')
        assert_error(response, 413, "body_too_large")


def test_413_for_a_chunked_body_over_the_limit(
    api: Client, tenant: TenantKeys, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Content-Length (Transfer-Encoding: chunked): measured, not cut and read as bad JSON."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 100)
    chunked = {"Transfer-Encoding": "chunked"}
    over = b'{"login": "' + b"x" * 200 + b'", "password": "abcd"}'
    response = api.call(
        "POST",
        "/api/v1/admin/users",
        tenant.admin_key,
        input_stream=io.BytesIO(over),
        headers={**JSON, **chunked},
    )
    assert_error(response, 413, "body_too_large")
    assert api.get("/api/v1/admin/users", tenant.admin_key).json["users"] == []
    # Exactly at the limit is read whole.
    body = b'{"login": "ivanov", "password": "abcd"}'
    at_limit = body + b" " * (100 - len(body))
    response = api.call(
        "POST",
        "/api/v1/admin/users",
        tenant.admin_key,
        input_stream=io.BytesIO(at_limit),
        headers={**JSON, **chunked},
    )
    assert response.status_code == 201, response.json


def test_422_validation_lists_field_errors(api: Client, tenant: TenantKeys) -> None:
    response = api.post(
        "/api/v1/documents",
        tenant.accounting_key,
        {"documents": [{"number": 5}], "target": {"pin": "abc"}},
    )
    error = assert_error(response, 422, "validation_failed")
    fields = error["details"]["fields"]
    assert {"business_process", "documents", "target"} <= set(fields)
    assert "external_id" in fields["documents"]["0"]
    assert "number" in fields["documents"]["0"]
    assert error["message"].startswith("The request is not valid")


def test_429_after_failed_enrollments_with_retry_after(api: Client) -> None:
    statuses = []
    for _ in range(12):
        response = api.post(
            "/api/v1/terminal/enroll", json={"code": "ENR-WRONG", "name": "x", "serial": "1"}
        )
        statuses.append(response.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    error = assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    assert "try again" in error["message"]


def test_429_login_locked_with_retry_after(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivan")
    for _ in range(5):
        wrong = api.post(
            "/api/v1/terminal/sessions", terminal.token, {"login": "ivan", "password": "wrong"}
        )
        assert_error(wrong, 401, "invalid_login")
    locked = api.post(
        "/api/v1/terminal/sessions", terminal.token, {"login": "ivan", "password": "secret-1"}
    )
    assert_error(locked, 429, "login_locked")
    assert int(locked.headers["Retry-After"]) > 60


# -- a refused request changes nothing ---------------------------------------------------------


@dataclass
class Scene:
    terminal: Terminal
    spare: Terminal
    instance: str
    document_id: str
    result_id: str


@pytest.fixture
def scene(api: Client, tenant: TenantKeys) -> Scene:
    terminal = api.enroll(tenant, name="ТСД-1")
    spare = api.enroll(tenant, name="ТСД-2")
    api.user(tenant, "ivan")
    api.group(tenant, "g", ["ivan"])
    pushed = api.push(
        tenant, "purchase-receipt", [doc("S-1"), doc("S-2")], target={"pin": terminal.pin}
    )
    done, queued = pushed.json["documents"]
    api.claim(terminal, done["instances"][0]["id"])
    result = api.complete(terminal, done["instances"][0]["id"], [{"line_id": "1", "qty": 1}])
    return Scene(
        terminal=terminal,
        spare=spare,
        instance=queued["instances"][0]["id"],
        document_id=queued["id"],
        result_id=result.json["result_id"],
    )


def snapshot(api: Client, tenant: TenantKeys, scene: Scene) -> Any:
    def get(path: str, token: str) -> Any:
        response = api.get(path, token)
        assert response.status_code == 200, (path, response.json)
        return response.json

    admin = tenant.admin_key
    return {
        "documents": [
            get(f"/api/v1/documents/{d['id']}", admin) for d in list_documents(api, tenant)
        ],
        "results": get("/api/v1/results", admin),
        "users": get("/api/v1/admin/users", admin),
        "groups": get("/api/v1/admin/groups", admin),
        "devices": get("/api/v1/admin/devices", admin),
        "processes": get("/api/v1/admin/business-processes", admin),
        "inbox": get("/api/v1/terminal/documents", scene.terminal.token),
    }


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    role: str  # admin | accounting | terminal | none
    base: Any  # a valid body (or {} for actions without fields)


def endpoints(scene: Scene) -> list[Endpoint]:
    instance = scene.instance
    device = scene.spare.device_id
    return [
        Endpoint(
            "POST",
            "/api/v1/documents",
            "accounting",
            {
                "business_process": "order-picking",
                "target": {"users": ["ivan"]},
                "documents": [
                    {
                        "external_id": "Z-1",
                        "number": "1",
                        "date": "2026-11-20",
                        "header": {"warehouse": "Склад"},
                        "lines": [{"line_id": "1", "product_id": "p", "declared_qty": 1}],
                    }
                ],
            },
        ),
        Endpoint("POST", f"/api/v1/documents/{scene.document_id}/cancel", "accounting", {}),
        Endpoint("POST", "/api/v1/results/ack", "accounting", {"ids": [scene.result_id]}),
        Endpoint(
            "POST", "/api/v1/admin/users", "admin", {"login": "u", "name": "n", "password": "pppp"}
        ),
        Endpoint("PATCH", "/api/v1/admin/users/ivan", "admin", {"name": "n", "password": "pppp"}),
        Endpoint("POST", "/api/v1/admin/groups", "admin", {"name": "h", "members": ["ivan"]}),
        Endpoint("PATCH", "/api/v1/admin/groups/g", "admin", {"name": "g2", "members": ["ivan"]}),
        Endpoint(
            "PATCH", f"/api/v1/admin/devices/{device}", "admin", {"name": "n", "mode": "online"}
        ),
        Endpoint("POST", f"/api/v1/admin/devices/{device}/new-pin", "admin", {}),
        Endpoint("POST", f"/api/v1/admin/devices/{device}/revoke", "admin", {}),
        Endpoint(
            "PATCH",
            "/api/v1/admin/business-processes/price-check",
            "admin",
            {"name": "n", "enabled": True, "on_load": {"post_after_load": True}},
        ),
        Endpoint(
            "PUT",
            "/api/v1/admin/business-processes/price-check",
            "admin",
            {
                "name": "n",
                "source_document_type": "s",
                "terminal_document_type": "t",
                "result_document_type": "r",
                "assign_to": "users",
                "assignees": {"users": ["ivan"], "groups": []},
                "quantity_control": "none",
                "claim_limit_minutes": 60,
                "fields": {"lines_to_terminal": ["price"]},
            },
        ),
        Endpoint(
            "POST", "/api/v1/admin/enrollment-codes", "admin", {"uses": 2, "ttl_seconds": 600}
        ),
        Endpoint(
            "POST",
            "/api/v1/terminal/enroll",
            "none",
            {"code": "ENR-X", "name": "n", "model": "m", "serial": "s"},
        ),
        Endpoint("POST", "/api/v1/terminal/sessions", "device", {"login": "ivan", "password": "x"}),
        Endpoint("POST", f"/api/v1/terminal/documents/{instance}/claim", "device", {}),
        Endpoint("POST", f"/api/v1/terminal/documents/{instance}/release", "device", {}),
        Endpoint(
            "POST",
            f"/api/v1/terminal/documents/{instance}/complete",
            "device",
            {
                "submission_id": "s",
                "claim_token": "c",
                "close": True,
                "header": {"comment": "c"},
                "lines": [{"line_id": "1", "qty": 1, "serial": "x"}],
            },
        ),
        Endpoint(
            "POST",
            "/api/v1/terminal/completions",
            "device",
            {
                "completions": [
                    {
                        "id": instance,
                        "submission_id": "s",
                        "claim_token": "c",
                        "lines": [{"line_id": "1", "qty": 1}],
                    }
                ]
            },
        ),
    ]


def token_for(endpoint: Endpoint, tenant: TenantKeys, scene: Scene) -> str | None:
    return {
        "admin": tenant.admin_key,
        "accounting": tenant.accounting_key,
        "device": scene.terminal.token,
        "none": None,
    }[endpoint.role]


WRONG_BODIES = [
    "[]",
    '"x"',
    "1",
    "null",
    "true",
    "-1e999",
    '"NaN"',
    "1" + "0" * 4000,
    '[{"documents": []}]',
    '{"documents": "x"}',
    '{"ids": {"a": 1}}',
    '{"a": {"b": {"c": [[[[{}]]]]}}}',
]


def test_wrong_top_level_bodies_are_refused_and_change_nothing(
    api: Client, tenant: TenantKeys, scene: Scene
) -> None:
    before = snapshot(api, tenant, scene)
    for endpoint in endpoints(scene):
        token = token_for(endpoint, tenant, scene)
        for body in WRONG_BODIES:
            response = raw(api, endpoint.method, endpoint.path, token, body)
            assert 400 <= response.status_code < 500, (endpoint, body, response.json)
            assert_error(response, response.status_code)
    assert snapshot(api, tenant, scene) == before


WEIRD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    10**20,
    -(10**20),
    1.5,
    1e308,
    "",
    "x" * 5000,
    "NaN",
    "Infinity",
    "-0",
    "1e999",
    "ЖЖЖ",
    "../../etc/passwd",
    "'; DROP TABLE users; --",
    [],
    ["x"],
    [None],
    {},
    {"nested": {"deeper": [1, {"x": None}]}},
]


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a body: dict keys and the first element of lists."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from paths_of(inner, (*prefix, key))
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from paths_of(value[0], (*prefix, 0))


def replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(body, dict):
        return {**body, head: replaced(body[head], rest, value)}
    return [replaced(body[0], rest, value), *body[1:]]


def test_weird_field_values_never_cause_a_500(
    api: Client, tenant: TenantKeys, scene: Scene, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Failed enrollments and logins must reach the parser, not the rate limit.
    monkeypatch.setitem(app.config, "RATELIMIT_ENROLL", "100000 per minute")
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "100000 per minute")
    failures = []
    for endpoint in endpoints(scene):
        if endpoint.path.endswith(("/revoke", "/new-pin")):
            continue  # no fields; a valid call would change the scene (top-level test covers them)
        token = token_for(endpoint, tenant, scene)
        for path in paths_of(endpoint.base):
            for value in WEIRD_VALUES:
                body = replaced(endpoint.base, path, value)
                response = api.call(endpoint.method, endpoint.path, token, json=body)
                if response.status_code >= 500:
                    failures.append((endpoint.method, endpoint.path, path, value))
                elif response.status_code >= 400:
                    assert_error(response, response.status_code)
                elif endpoint.path.endswith("/groups/g") and response.json["name"] != "g":
                    # A valid rename: name it back, so the next request finds the group.
                    back = api.patch(f"/api/v1/admin/groups/{response.json['name']}",
                                     tenant.admin_key, {"name": "g"})  # fmt: skip
                    assert back.status_code == 200, back.json
        # An extra unknown field, and a read-only one, are refused.
        if isinstance(endpoint.base, dict) and endpoint.base:
            for extra in ("colour", "id", "tenant_id", "created_at"):
                body = {**endpoint.base, extra: "x"}
                response = api.call(endpoint.method, endpoint.path, token, json=body)
                assert response.status_code in (400, 401, 404, 409, 422, 429), (
                    endpoint,
                    extra,
                    response.json,
                )
    assert failures == []


def test_weird_completion_values_never_cause_a_500(
    api: Client, tenant: TenantKeys, scene: Scene
) -> None:
    """Each completion works on a freshly claimed document, so every value reaches the rules."""
    base = {
        "submission_id": "s",
        "claim_token": "<claim>",
        "close": True,
        "header": {"comment": "c"},
        "lines": [{"line_id": "1", "qty": 1, "serial": "x"}],
    }
    cases = [(path, value) for path in paths_of(base) for value in WEIRD_VALUES]
    pushed = api.push(
        tenant,
        "purchase-receipt",
        [doc(f"W-{i}") for i in range(len(cases))],
        target={"pin": scene.terminal.pin},
    )
    instances = [d["instances"][0]["id"] for d in pushed.json["documents"]]
    failures = []
    for (path, value), instance in zip(cases, instances, strict=True):
        api.claim(scene.terminal, instance)
        body = replaced(base, path, value)
        if body["claim_token"] == "<claim>":
            body["claim_token"] = scene.terminal.claims[instance]
        if body["submission_id"] == "s":
            body["submission_id"] = uuid.uuid4().hex
        response = api.call(
            "POST",
            f"/api/v1/terminal/documents/{instance}/complete",
            scene.terminal.token,
            json=body,
        )
        if response.status_code >= 500:
            failures.append((path, value))
        elif response.status_code >= 400:
            assert_error(response, response.status_code)
    assert failures == []


def test_refused_requests_change_nothing(api: Client, tenant: TenantKeys, scene: Scene) -> None:
    before = snapshot(api, tenant, scene)
    refused = [
        ("POST", "/api/v1/documents", tenant.accounting_key, {"business_process": "order-picking",
         "target": {"users": ["ivan", "ghost"]}, "documents": [doc("R-1"), doc("R-2")]}),
        ("POST", "/api/v1/admin/users", tenant.admin_key, {"login": "ivan", "password": "abcd"}),
        ("PATCH", "/api/v1/admin/users/ivan", tenant.admin_key, {"name": "x", "id": "y"}),
        ("PATCH", "/api/v1/admin/groups/g", tenant.admin_key, {"name": "g2", "members": ["ghost"]}),
        ("PATCH", f"/api/v1/admin/devices/{scene.spare.device_id}", tenant.admin_key,
         {"name": "x", "mode": "never"}),
        ("PATCH", "/api/v1/admin/business-processes/price-check", tenant.admin_key,
         {"name": "x", "assign_to": "nobody"}),
        ("POST", "/api/v1/results/ack", tenant.accounting_key, {"ids": [scene.result_id,
         str(uuid.uuid4())]}),
        ("POST", f"/api/v1/documents/{scene.document_id}/cancel", tenant.accounting_key,
         {"reason": "x"}),
    ]  # fmt: skip
    for method, path, token, body in refused:
        response = api.call(method, path, token, json=body)
        assert 400 <= response.status_code < 500, (path, response.json)
        assert_error(response, response.status_code)
    assert snapshot(api, tenant, scene) == before


# -- text the databases cannot store -----------------------------------------------------------


def push_raw(api: Client, tenant: TenantKeys, document_json: str) -> Any:
    body = (
        '{"business_process": "order-picking", "target": {"all": true}, "documents": ['
        + document_json
        + "]}"
    )
    return raw(api, "POST", "/api/v1/documents", tenant.accounting_key, body)


@pytest.mark.parametrize(
    "document_json",
    ['{"external_id": "\\ud800"}', '{"external_id": "A", "header": {"c": "x\\udfff"}}'],
)
def test_lone_surrogate_is_refused_not_a_500(
    api: Client, tenant: TenantKeys, document_json: str
) -> None:
    api.user(tenant, "ivan")
    response = push_raw(api, tenant, document_json)
    assert response.status_code < 500, response.json
    assert_error(response, response.status_code)
    assert list_documents(api, tenant) == []


@pytest.mark.parametrize(
    ("method", "path", "role", "body"),
    [
        ("POST", "/api/v1/documents", "accounting", '{"external_id": "A\\u0000"}'),
        ("POST", "/api/v1/documents", "accounting",
         '{"external_id": "B", "header": {"c": "\\u0000"}}'),
        ("GET", "/api/v1/documents?external_id=A%00", "accounting", None),
        ("GET", "/api/v1/admin/users/a%00b", "admin", None),
        ("POST", "/api/v1/admin/users", "admin", '{"login": "a\\u0000b", "password": "abcd"}'),
        ("POST", "/api/v1/admin/groups", "admin", '{"name": "g", "members": ["\\u0000"]}'),
        ("PATCH", "/api/v1/admin/business-processes/price-check", "admin", '{"name": "\\u0000"}'),
    ],
    ids=["push-external-id", "push-header", "list-filter", "user-path", "user-login",
         "group-member", "process-name"],
)  # fmt: skip
def test_nul_character_never_causes_a_500(
    api: Client, tenant: TenantKeys, method: str, path: str, role: str, body: str | None
) -> None:
    api.user(tenant, "ivan")
    token = tenant.admin_key if role == "admin" else tenant.accounting_key
    if path == "/api/v1/documents" and method == "POST":
        response = push_raw(api, tenant, body or "")
    elif body is None:
        response = api.call(method, path, token)
    else:
        response = raw(api, method, path, token, body)
    assert response.status_code < 500, response.json


def test_huge_number_in_a_header_never_causes_a_500(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "ivan")
    response = push_raw(api, tenant, '{"external_id": "A", "header": {"sum": 1e1000000}}')
    assert response.status_code < 500, response.json

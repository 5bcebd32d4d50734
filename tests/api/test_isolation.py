"""Tenant isolation, addressee isolation between devices, the role matrix (SPEC §3, §11, §12)."""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.helpers import Client, TenantKeys, Terminal, assert_error, doc, list_documents

MISSING_ID = "01a204b8-633e-7efe-9143-0b25aa5b1bc2"


@dataclass
class World:
    """The other tenant's objects: everything the first tenant must not reach."""

    terminal: Terminal
    login: str
    group: str
    process: str
    document_id: str
    instance_id: str
    queued_document_id: str
    queued_instance_id: str
    result_id: str


@pytest.fixture
def other(api: Client, other_tenant: TenantKeys) -> World:
    terminal = api.enroll(other_tenant, name="Чужой ТСД")
    api.user(other_tenant, "boris-b")
    api.group(other_tenant, "group-b", ["boris-b"])
    body = {
        "name": "Только у Б",
        "source_document_type": "x",
        "terminal_document_type": "x",
        "result_document_type": "x",
        "assign_to": "users",
    }
    created = api.put("/api/v1/admin/business-processes/b-only", other_tenant.admin_key, body)
    assert created.status_code == 200, created.json
    pushed = api.push(
        other_tenant,
        "purchase-receipt",
        [doc("B-1"), doc("B-2")],
        target={"pin": terminal.pin},
    )
    done, queued = pushed.json["documents"]
    instance_id = done["instances"][0]["id"]
    api.claim(terminal, instance_id)
    completed = api.complete(terminal, instance_id, [{"line_id": "1", "qty": 1}])
    return World(
        terminal=terminal,
        login="boris-b",
        group="group-b",
        process="b-only",
        document_id=done["id"],
        instance_id=instance_id,
        queued_document_id=queued["id"],
        queued_instance_id=queued["instances"][0]["id"],
        result_id=completed.json["result_id"],
    )


def same_as_missing(
    foreign: TestResponse, missing: TestResponse, foreign_id: str, missing_id: str
) -> None:
    """A foreign object answers exactly like a missing one (only the id in the text differs)."""
    assert foreign.status_code == 404, foreign.json
    assert missing.status_code == 404, missing.json
    assert_error(foreign, 404)
    text = foreign.get_data(as_text=True).replace(foreign_id, "<ID>")
    assert text == missing.get_data(as_text=True).replace(missing_id, "<ID>")


def other_state(api: Client, other_tenant: TenantKeys, world: World) -> dict[str, Any]:
    """A snapshot of the other tenant, to show a refused request changed nothing."""

    def body(path: str) -> Any:
        response = api.get(path, other_tenant.admin_key)
        assert response.status_code == 200, (path, response.json)
        return response.json

    return {
        "documents": list_documents(api, other_tenant),
        "document": body(f"/api/v1/documents/{world.document_id}"),
        "queued": body(f"/api/v1/documents/{world.queued_document_id}"),
        "result": body(f"/api/v1/results/{world.result_id}"),
        "feed": body("/api/v1/results"),
        "devices": body("/api/v1/admin/devices"),
        "users": body("/api/v1/admin/users"),
        "groups": body("/api/v1/admin/groups"),
        "processes": body("/api/v1/admin/business-processes"),
    }


# -- accounting and admin endpoints ------------------------------------------------------------


def object_calls(world: World) -> list[tuple[str, str, str, str, Any]]:
    """(method, path with {}, foreign id, missing id of the same kind, body) per endpoint."""
    return [
        ("GET", "/api/v1/documents/{}", world.document_id, MISSING_ID, None),
        ("POST", "/api/v1/documents/{}/cancel", world.queued_document_id, MISSING_ID, None),
        ("GET", "/api/v1/results/{}", world.result_id, MISSING_ID, None),
        ("GET", "/api/v1/admin/devices/{}", world.terminal.device_id, MISSING_ID, None),
        ("PATCH", "/api/v1/admin/devices/{}", world.terminal.device_id, MISSING_ID, {"name": "x"}),
        ("POST", "/api/v1/admin/devices/{}/revoke", world.terminal.device_id, MISSING_ID, None),
        ("POST", "/api/v1/admin/devices/{}/new-pin", world.terminal.device_id, MISSING_ID, None),
        ("GET", "/api/v1/admin/users/{}", world.login, "nobody", None),
        ("PATCH", "/api/v1/admin/users/{}", world.login, "nobody", {"name": "x"}),
        ("DELETE", "/api/v1/admin/users/{}", world.login, "nobody", None),
        ("GET", "/api/v1/admin/groups/{}", world.group, "nobody", None),
        ("PATCH", "/api/v1/admin/groups/{}", world.group, "nobody", {"name": "renamed"}),
        ("DELETE", "/api/v1/admin/groups/{}", world.group, "nobody", None),
        ("GET", "/api/v1/admin/business-processes/{}", world.process, "nobody", None),
        (
            "PATCH",
            "/api/v1/admin/business-processes/{}",
            world.process,
            "nobody",
            {"name": "x"},
        ),
    ]


def test_every_object_endpoint_answers_404_for_another_tenants_object(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys, other: World
) -> None:
    before = other_state(api, other_tenant, other)
    for method, template, foreign_id, missing_id, body in object_calls(other):
        for key in (tenant.admin_key, tenant.accounting_key):
            if "/admin/" in template and key == tenant.accounting_key:
                continue
            foreign = api.call(method, template.format(foreign_id), key, json=body)
            missing = api.call(method, template.format(missing_id), key, json=body)
            same_as_missing(foreign, missing, foreign_id, missing_id)
    assert other_state(api, other_tenant, other) == before


def test_ack_of_another_tenants_result_is_404_and_acks_nothing(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys, other: World
) -> None:
    foreign = api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [other.result_id]})
    missing = api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [MISSING_ID]})
    same_as_missing(foreign, missing, other.result_id, MISSING_ID)
    assert assert_error(foreign, 404, "result_not_found")["details"]["ids"] == [other.result_id]
    feed = api.get("/api/v1/results", other_tenant.accounting_key).json
    assert [r["id"] for r in feed["results"]] == [other.result_id]


def test_lists_never_show_another_tenants_objects(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys, other: World
) -> None:
    mine = api.enroll(tenant)
    api.push(tenant, "purchase-receipt", [doc("A-1")], target={"pin": mine.pin})
    docs = list_documents(api, tenant)
    assert [d["external_id"] for d in docs] == ["A-1"]
    for state in ("queued", "completed"):
        assert other.document_id not in [d["id"] for d in list_documents(api, tenant, state=state)]
    assert list_documents(api, tenant, external_id="B-1") == []
    assert api.get("/api/v1/results", tenant.accounting_key).json["results"] == []
    devices = api.get("/api/v1/devices", tenant.accounting_key).json["devices"]
    assert [d["id"] for d in devices] == [mine.device_id]
    admin_devices = api.get("/api/v1/admin/devices", tenant.admin_key).json["devices"]
    assert [d["id"] for d in admin_devices] == [mine.device_id]
    assert api.get("/api/v1/admin/users", tenant.admin_key).json["users"] == []
    assert api.get("/api/v1/admin/groups", tenant.admin_key).json["groups"] == []
    keys = [
        p["key"]
        for p in api.get("/api/v1/admin/business-processes", tenant.admin_key).json[
            "business_processes"
        ]
    ]
    assert other.process not in keys


def test_push_to_another_tenants_pin_is_device_not_found(
    api: Client, tenant: TenantKeys, other: World
) -> None:
    response = api.push(
        tenant, "purchase-receipt", [doc()], target={"pin": other.terminal.pin}, expect=None
    )
    error = assert_error(response, 404, "device_not_found")
    assert error["message"] == (
        f"Device not found by PIN {other.terminal.pin}. Documents were not uploaded."
    )
    response = api.push(
        tenant,
        "purchase-receipt",
        [doc()],
        target={"device_id": other.terminal.device_id},
        expect=None,
    )
    assert_error(response, 404, "device_not_found")
    assert list_documents(api, tenant) == []


def test_push_to_another_tenants_users_and_groups_is_unknown(
    api: Client, tenant: TenantKeys, other: World
) -> None:
    for target in ({"users": [other.login]}, {"groups": [other.group]}):
        response = api.push(tenant, "order-picking", [doc()], target=target, expect=None)
        assert_error(response, 422, "unknown_assignee")
    # With no devices or users of its own, "all" reaches nobody, not the other tenant's users.
    response = api.push(tenant, "order-picking", [doc()], target={"all": True}, expect=None)
    assert_error(response, 422)
    # Nor does a device process pick the other tenant's only device.
    response = api.push(tenant, "purchase-receipt", [doc()], expect=None)
    assert_error(response, 422, "target_required")
    assert list_documents(api, tenant) == []


def test_push_under_another_tenants_process_is_404(
    api: Client, tenant: TenantKeys, other: World
) -> None:
    api.user(tenant, "ivan")
    response = api.push(tenant, other.process, [doc()], target={"users": ["ivan"]}, expect=None)
    assert_error(response, 404, "business_process_not_found")


def test_another_tenants_login_is_not_a_group_member(
    api: Client, tenant: TenantKeys, other: World
) -> None:
    response = api.post(
        "/api/v1/admin/groups", tenant.admin_key, {"name": "g", "members": [other.login]}
    )
    assert_error(response, 422, "unknown_user")


def test_same_names_live_apart_in_each_tenant(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    a = api.enroll(tenant)
    b = api.enroll(other_tenant)
    for keys in (tenant, other_tenant):
        api.user(keys, "ivan", name=keys.name)
        api.group(keys, "pickers", ["ivan"])
    api.delete("/api/v1/admin/users/ivan", tenant.admin_key)
    assert api.get("/api/v1/admin/users/ivan", other_tenant.admin_key).json["name"] == "globex"
    assert api.get("/api/v1/admin/groups/pickers", other_tenant.admin_key).json["members"] == [
        "ivan"
    ]
    api.patch("/api/v1/admin/business-processes/price-check", tenant.admin_key, {"enabled": False})
    assert (
        api.get("/api/v1/admin/business-processes/price-check", other_tenant.admin_key).json[
            "version"
        ]
        == 1
    )
    # The same external_id in both tenants is two documents.
    pa = api.push(tenant, "purchase-receipt", [doc("X-1")], target={"pin": a.pin})
    pb = api.push(other_tenant, "purchase-receipt", [doc("X-1")], target={"pin": b.pin})
    assert pa.json["documents"][0]["id"] != pb.json["documents"][0]["id"]
    assert pb.json["documents"][0]["status"] == "created"


def test_another_tenants_user_cannot_log_in_on_my_device(
    api: Client, tenant: TenantKeys, other: World
) -> None:
    mine = api.enroll(tenant)
    response = api.post(
        "/api/v1/terminal/sessions", mine.token, {"login": other.login, "password": "secret-1"}
    )
    assert_error(response, 401)


# -- terminal endpoints ------------------------------------------------------------------------


def terminal_calls(instance_id: str) -> list[tuple[str, Any]]:
    base = f"/api/v1/terminal/documents/{instance_id}"
    complete = {
        "submission_id": uuid.uuid4().hex,
        "claim_token": "relay_clm_x",
        "lines": [{"line_id": "1", "qty": 1}],
    }
    return [
        ("GET " + base, None),
        ("POST " + base + "/claim", None),
        ("POST " + base + "/release", None),
        ("POST " + base + "/complete", complete),
    ]


def test_terminal_cannot_reach_another_tenants_instances(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys, other: World
) -> None:
    mine = api.enroll(tenant)
    api.user(tenant, "ivan")
    session = api.login(mine, "ivan")
    before = other_state(api, other_tenant, other)
    for who in (mine.token, session.bearer):
        for foreign in (other.instance_id, other.queued_instance_id):
            for (call, body), (missing_call, _) in zip(
                terminal_calls(foreign), terminal_calls(MISSING_ID), strict=True
            ):
                method, path = call.split(" ", 1)
                _, missing_path = missing_call.split(" ", 1)
                same_as_missing(
                    api.call(method, path, who, json=body),
                    api.call(method, missing_path, who, json=body),
                    foreign,
                    MISSING_ID,
                )
    batch = api.post(
        "/api/v1/terminal/completions",
        mine.token,
        {
            "completions": [
                {
                    "id": other.queued_instance_id,
                    "submission_id": uuid.uuid4().hex,
                    "claim_token": "x",
                    "lines": [],
                }
            ]
        },
    )
    assert batch.status_code == 200, batch.json
    assert batch.json["results"][0]["status"] == 404
    assert api.inbox(mine) == []
    assert api.inbox(session) == []
    assert other_state(api, other_tenant, other) == before


def test_a_device_never_reads_a_document_addressed_to_another_device(
    api: Client, tenant: TenantKeys
) -> None:
    addressed = api.enroll(tenant, name="ТСД-1")
    stranger = api.enroll(tenant, name="ТСД-2")
    pushed = api.push(tenant, "purchase-receipt", [doc()], target={"pin": addressed.pin})
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    assert api.inbox(stranger) == []
    for call, body in terminal_calls(instance_id):
        method, path = call.split(" ", 1)
        assert_error(api.call(method, path, stranger.token, json=body), 404, "document_not_found")
    # Still queued for its addressee, who can work it.
    assert [d["id"] for d in api.inbox(addressed)] == [instance_id]
    api.claim(addressed, instance_id)
    # Once claimed, the stranger still cannot read, claim or complete it.
    for call, body in terminal_calls(instance_id):
        method, path = call.split(" ", 1)
        assert_error(api.call(method, path, stranger.token, json=body), 404, "document_not_found")
    api.complete(addressed, instance_id, [{"line_id": "1", "qty": 1}])


def test_an_operator_never_reads_what_is_addressed_to_someone_else(
    api: Client, tenant: TenantKeys
) -> None:
    first, second = api.enroll(tenant, name="ТСД-1"), api.enroll(tenant, name="ТСД-2")
    api.user(tenant, "anna")
    api.user(tenant, "boris")
    api.group(tenant, "annas", ["anna"])
    to_user = api.push(tenant, "order-picking", [doc("U-1")], target={"users": ["anna"]})
    to_group = api.push(tenant, "order-picking", [doc("U-2")], target={"groups": ["annas"]})
    to_device = api.push(tenant, "order-picking", [doc("U-3")], target={"pin": first.pin})
    boris = api.login(second, "boris")
    assert api.inbox(boris) == []
    for pushed in (to_user, to_group, to_device):
        instance_id = pushed.json["documents"][0]["instances"][0]["id"]
        for call, body in terminal_calls(instance_id):
            method, path = call.split(" ", 1)
            assert_error(api.call(method, path, boris.bearer, json=body), 404)
    anna = api.login(first, "anna")
    assert sorted(d["external_id"] for d in api.inbox(anna)) == ["U-1", "U-2", "U-3"]


def test_a_per_user_copy_is_only_its_users(api: Client, tenant: TenantKeys) -> None:
    first, second = api.enroll(tenant, name="ТСД-1"), api.enroll(tenant, name="ТСД-2")
    api.user(tenant, "anna")
    api.user(tenant, "boris")
    pushed = api.push(tenant, "price-check", [doc()], target={"users": ["anna", "boris"]})
    copies = {i["addressee"]["login"]: i["id"] for i in pushed.json["documents"][0]["instances"]}
    boris = api.login(second, "boris")
    assert_error(api.get(f"/api/v1/terminal/documents/{copies['anna']}", boris.bearer), 404)
    assert_error(api.post(f"/api/v1/terminal/documents/{copies['anna']}/claim", boris.bearer), 404)
    anna = api.login(first, "anna")
    api.claim(anna, copies["anna"])


# -- the role matrix ---------------------------------------------------------------------------

ACCOUNTING = [
    ("POST", "/api/v1/documents", {"business_process": "order-picking", "documents": [doc()]}),
    ("GET", "/api/v1/documents", None),
    ("GET", f"/api/v1/documents/{MISSING_ID}", None),
    ("POST", f"/api/v1/documents/{MISSING_ID}/cancel", None),
    ("GET", "/api/v1/devices", None),
    ("GET", "/api/v1/results", None),
    ("GET", f"/api/v1/results/{MISSING_ID}", None),
    ("POST", "/api/v1/results/ack", {"ids": [MISSING_ID]}),
]
ADMIN = [
    ("GET", "/api/v1/admin/business-processes", None),
    ("GET", "/api/v1/admin/business-processes/price-check", None),
    ("PATCH", "/api/v1/admin/business-processes/price-check", {"enabled": False}),
    ("PUT", "/api/v1/admin/business-processes/new-one", {"name": "x"}),
    ("GET", "/api/v1/admin/users", None),
    ("POST", "/api/v1/admin/users", {"login": "mallory", "password": "secret-1"}),
    ("GET", "/api/v1/admin/users/ivan", None),
    ("PATCH", "/api/v1/admin/users/ivan", {"password": "hacked-1"}),
    ("DELETE", "/api/v1/admin/users/ivan", None),
    ("GET", "/api/v1/admin/groups", None),
    ("POST", "/api/v1/admin/groups", {"name": "g2", "members": []}),
    ("GET", "/api/v1/admin/groups/g", None),
    ("PATCH", "/api/v1/admin/groups/g", {"members": []}),
    ("DELETE", "/api/v1/admin/groups/g", None),
    ("GET", "/api/v1/admin/devices", None),
    ("GET", "/api/v1/admin/devices/{device}", None),
    ("PATCH", "/api/v1/admin/devices/{device}", {"mode": "online"}),
    ("POST", "/api/v1/admin/devices/{device}/revoke", None),
    ("POST", "/api/v1/admin/devices/{device}/new-pin", None),
    ("POST", "/api/v1/admin/enrollment-codes", {}),
]
TERMINAL = [
    ("POST", "/api/v1/terminal/sessions", {"login": "ivan", "password": "secret-1"}),
    ("DELETE", "/api/v1/terminal/sessions/current", None),
    ("GET", "/api/v1/terminal/documents", None),
    ("GET", "/api/v1/terminal/documents/{instance}", None),
    ("POST", "/api/v1/terminal/documents/{instance}/claim", None),
    ("POST", "/api/v1/terminal/documents/{instance}/release", None),
    (
        "POST",
        "/api/v1/terminal/documents/{instance}/complete",
        {"submission_id": "s-1", "claim_token": "x", "lines": []},
    ),
    ("POST", "/api/v1/terminal/completions", {"completions": [{"id": "x"}]}),
]


@dataclass
class Setup:
    terminal: Terminal
    session: Terminal
    instance: str


@pytest.fixture
def setup(api: Client, tenant: TenantKeys) -> Setup:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivan")
    api.group(tenant, "g", ["ivan"])
    session = api.login(terminal, "ivan")
    pushed = api.push(tenant, "order-picking", [doc("R-1")], target={"pin": terminal.pin})
    return Setup(terminal, session, pushed.json["documents"][0]["instances"][0]["id"])


def expand(path: str, setup: Setup) -> str:
    return path.format(device=setup.terminal.device_id, instance=setup.instance)


def snapshot(api: Client, tenant: TenantKeys, setup: Setup) -> Any:
    return (
        list_documents(api, tenant),
        api.get("/api/v1/admin/users", tenant.admin_key).json,
        api.get("/api/v1/admin/groups", tenant.admin_key).json,
        api.get("/api/v1/admin/devices", tenant.admin_key).json,
        api.get("/api/v1/admin/business-processes", tenant.admin_key).json,
        api.inbox(setup.terminal),
    )


def test_accounting_key_on_admin_endpoints_is_403(
    api: Client, tenant: TenantKeys, setup: Setup
) -> None:
    before = snapshot(api, tenant, setup)
    for method, path, body in ADMIN:
        response = api.call(method, expand(path, setup), tenant.accounting_key, json=body)
        error = assert_error(response, 403, "forbidden")
        assert "admin key" in error["message"], (method, path)
    assert snapshot(api, tenant, setup) == before


def test_terminal_credentials_on_accounting_and_admin_endpoints_are_403(
    api: Client, tenant: TenantKeys, setup: Setup
) -> None:
    before = snapshot(api, tenant, setup)
    for token in (setup.terminal.token, setup.session.bearer):
        for method, path, body in ACCOUNTING + ADMIN:
            response = api.call(method, expand(path, setup), token, json=body)
            assert_error(response, 403, "forbidden")
    assert snapshot(api, tenant, setup) == before


def test_admin_and_accounting_keys_on_terminal_endpoints_are_403(
    api: Client, tenant: TenantKeys, setup: Setup
) -> None:
    before = snapshot(api, tenant, setup)
    for key in (tenant.admin_key, tenant.accounting_key):
        for method, path, body in TERMINAL:
            response = api.call(method, expand(path, setup), key, json=body)
            error = assert_error(response, 403, "forbidden")
            assert "device token" in error["message"], (method, path)
    assert snapshot(api, tenant, setup) == before


def test_admin_key_may_do_what_the_accounting_key_may(
    api: Client, tenant: TenantKeys, setup: Setup
) -> None:
    for method, path, body in ACCOUNTING:
        response = api.call(method, path, tenant.admin_key, json=body)
        assert response.status_code not in (401, 403), (method, path, response.json)


BAD_AUTHORIZATION = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "garbage",
    "Bearer garbage",
    "Bearer relay_adm_" + "A" * 43,
    "Bearer relay_acc_" + "A" * 43,
    "Bearer relay_dev_" + "A" * 43,
    "Bearer relay_ses_" + "A" * 43,
    "Bearer relay_xyz_" + "A" * 43,
    "Bearer " + "Ж" * 40,
]


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION, ids=repr)
def test_missing_or_garbage_token_is_401_everywhere(
    api: Client, tenant: TenantKeys, setup: Setup, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    before = snapshot(api, tenant, setup)
    for method, path, body in ACCOUNTING + ADMIN + TERMINAL:
        response = api.call(method, expand(path, setup), json=body, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), (method, path)
    assert snapshot(api, tenant, setup) == before


def test_a_key_with_the_wrong_prefix_is_401(api: Client, tenant: TenantKeys) -> None:
    # The accounting key's secret under the admin prefix is not the admin key.
    forged = "relay_adm_" + tenant.accounting_key.removeprefix("relay_acc_")
    assert_error(api.get("/api/v1/admin/users", forged), 401)
    assert_error(api.get("/api/v1/documents", forged), 401)


def test_revoked_device_token_and_ended_session_are_401(
    api: Client, tenant: TenantKeys, setup: Setup
) -> None:
    out = api.call("DELETE", "/api/v1/terminal/sessions/current", setup.session.bearer)
    assert out.status_code == 204
    assert_error(api.get("/api/v1/terminal/documents", setup.session.bearer), 401)
    api.post(f"/api/v1/admin/devices/{setup.terminal.device_id}/revoke", tenant.admin_key)
    assert_error(api.get("/api/v1/terminal/documents", setup.terminal.token), 401)


def test_another_tenants_keys_only_see_their_tenant(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys, setup: Setup
) -> None:
    assert list_documents(api, other_tenant) == []
    response = api.get(f"/api/v1/admin/devices/{setup.terminal.device_id}", other_tenant.admin_key)
    assert_error(response, 404, "device_not_found")

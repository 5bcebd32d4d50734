"""The admin API: users, groups, devices, business processes, enrollment codes."""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import Client, TenantKeys, Terminal, assert_error, doc

USERS = "/api/v1/admin/users"
GROUPS = "/api/v1/admin/groups"
DEVICES = "/api/v1/admin/devices"
PROCESSES = "/api/v1/admin/business-processes"
CODES = "/api/v1/admin/enrollment-codes"

SHIPPED = [
    "order-picking",
    "price-check",
    "purchase-receipt",
    "stock-count",
    "transfer-receipt",
    "transfer-shipment",
]


def tick() -> None:
    """Let the clock pass a millisecond: ids made within one millisecond have no order."""
    time.sleep(0.002)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- users -------------------------------------------------------------------------------------


def test_create_user_is_201_and_never_returns_the_password(api: Client, tenant: TenantKeys) -> None:
    response = api.post(
        USERS, tenant.admin_key, {"login": "ivan", "name": "Иван Петров", "password": "pa55word"}
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["login"] == "ivan"
    assert body["name"] == "Иван Петров"
    assert body["groups"] == []
    assert body["id"]
    assert body["created_at"]
    assert body["locked_until"] is None
    for answer in (
        response,
        api.get(f"{USERS}/ivan", tenant.admin_key),
        api.get(USERS, tenant.admin_key),
        api.patch(f"{USERS}/ivan", tenant.admin_key, {"password": "other-pass"}),
    ):
        assert answer.status_code in (200, 201), answer.json
        text = answer.get_data(as_text=True)
        assert "pa55word" not in text
        assert "other-pass" not in text
        assert "password" not in text
        assert "hash" not in text


def test_duplicate_login_is_409(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "ivan", name="first")
    response = api.post(USERS, tenant.admin_key, {"login": "ivan", "password": "secret-2"})
    error = assert_error(response, 409, "user_exists")
    assert "ivan" in error["message"]
    assert api.get(f"{USERS}/ivan", tenant.admin_key).json["name"] == "first"


def test_get_list_patch_delete_by_login(api: Client, tenant: TenantKeys) -> None:
    ivan = api.user(tenant, "ivan")
    tick()
    api.user(tenant, "иван")  # Cyrillic logins are logins too
    listed = api.get(USERS, tenant.admin_key).json
    assert [u["login"] for u in listed["users"]] == ["ivan", "иван"]
    assert listed["next"] is None
    got = api.get(f"{USERS}/ivan", tenant.admin_key)
    assert got.status_code == 200
    assert got.json == ivan
    assert api.get(f"{USERS}/иван", tenant.admin_key).json["login"] == "иван"

    renamed = api.patch(f"{USERS}/ivan", tenant.admin_key, {"name": "Иван Иванович"})
    assert renamed.status_code == 200, renamed.json
    assert renamed.json["name"] == "Иван Иванович"
    assert api.get(f"{USERS}/ivan", tenant.admin_key).json["name"] == "Иван Иванович"

    deleted = api.delete(f"{USERS}/ivan", tenant.admin_key)
    assert deleted.status_code == 204
    assert deleted.get_data() == b""
    assert_error(api.get(f"{USERS}/ivan", tenant.admin_key), 404, "user_not_found")
    assert_error(api.delete(f"{USERS}/ivan", tenant.admin_key), 404, "user_not_found")
    assert_error(api.patch(f"{USERS}/ivan", tenant.admin_key, {"name": "x"}), 404, "user_not_found")
    assert [u["login"] for u in api.get(USERS, tenant.admin_key).json["users"]] == ["иван"]


def test_deleted_login_can_be_used_again(api: Client, tenant: TenantKeys) -> None:
    first = api.user(tenant, "ivan", name="old")
    api.delete(f"{USERS}/ivan", tenant.admin_key)
    second = api.user(tenant, "ivan", name="new")
    assert second["id"] != first["id"]
    assert api.get(f"{USERS}/ivan", tenant.admin_key).json["name"] == "new"


def test_new_password_works_and_ends_sessions(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivan", password="old-pass")
    session = api.login(terminal, "ivan", password="old-pass")
    response = api.patch(f"{USERS}/ivan", tenant.admin_key, {"password": "new-pass"})
    assert response.status_code == 200, response.json
    assert_error(api.get("/api/v1/terminal/documents", session.bearer), 401)
    old = api.post(
        "/api/v1/terminal/sessions", terminal.token, {"login": "ivan", "password": "old-pass"}
    )
    assert_error(old, 401)
    api.login(terminal, "ivan", password="new-pass")


def test_deleting_a_user_ends_their_sessions(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivan")
    session = api.login(terminal, "ivan")
    api.delete(f"{USERS}/ivan", tenant.admin_key)
    assert_error(api.get("/api/v1/terminal/documents", session.bearer), 401)


@pytest.mark.parametrize(
    "login", ["", " ivan", "ivan ", "a/b", "x" * 65, 123, None, ["ivan"], {"x": 1}], ids=repr
)
def test_bad_login_is_422(api: Client, tenant: TenantKeys, login: Any) -> None:
    response = api.post(USERS, tenant.admin_key, {"login": login, "password": "secret-1"})
    error = assert_error(response, 422)
    assert "login" in error["details"]["fields"]
    assert api.get(USERS, tenant.admin_key).json["users"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"login": "ivan"},
        {"login": "ivan", "password": "abc"},
        {"login": "ivan", "password": "x" * 201},
        {"login": "ivan", "password": "secret-1", "name": "x" * 201},
        {"login": "ivan", "password": "secret-1", "id": "x"},
        {"login": "ivan", "password": "secret-1", "created_at": "2026-01-01"},
        {"login": "ivan", "password": "secret-1", "password_hash": "x"},
        {"login": "ivan", "password": "secret-1", "tenant_id": 2},
        {"login": "ivan", "password": "secret-1", "groups": ["g"]},
    ],
    ids=lambda b: ",".join(sorted(b)),
)
def test_bad_user_body_is_422_naming_the_field(
    api: Client, tenant: TenantKeys, body: dict[str, Any]
) -> None:
    response = api.post(USERS, tenant.admin_key, body)
    error = assert_error(response, 422)
    fields = error["details"]["fields"]
    assert set(fields) <= set(body) | {"password"}
    assert api.get(USERS, tenant.admin_key).json["users"] == []


def test_user_patch_refuses_login_and_read_only_fields(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "ivan")
    for body in ({"login": "petr"}, {"id": "x"}, {"locked_until": None}, {"password": "ab"}):
        response = api.patch(f"{USERS}/ivan", tenant.admin_key, body)
        error = assert_error(response, 422)
        assert set(error["details"]["fields"]) == set(body)
    assert api.get(f"{USERS}/ivan", tenant.admin_key).status_code == 200


def test_users_paging(api: Client, tenant: TenantKeys) -> None:
    for login in ("a", "b", "c"):
        tick()
        api.user(tenant, login)
    page = api.get(USERS, tenant.admin_key, query_string={"limit": 2}).json
    rest = api.get(USERS, tenant.admin_key, query_string={"limit": 2, "after": page["next"]}).json
    assert [u["login"] for u in page["users"] + rest["users"]] == ["a", "b", "c"]
    assert rest["next"] is None


# -- groups ------------------------------------------------------------------------------------


def test_create_group_with_members(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "petr")
    api.user(tenant, "anna")
    response = api.post(
        GROUPS, tenant.admin_key, {"name": "Кладовщики", "members": ["petr", "anna"]}
    )
    assert response.status_code == 201, response.json
    assert response.json["name"] == "Кладовщики"
    assert response.json["members"] == ["anna", "petr"]
    assert response.json["id"]
    assert api.get(f"{GROUPS}/Кладовщики", tenant.admin_key).json == response.json
    assert api.get(f"{USERS}/anna", tenant.admin_key).json["groups"] == ["Кладовщики"]
    listed = api.get(GROUPS, tenant.admin_key).json
    assert [g["name"] for g in listed["groups"]] == ["Кладовщики"]


def test_group_without_members_is_allowed(api: Client, tenant: TenantKeys) -> None:
    response = api.post(GROUPS, tenant.admin_key, {"name": "empty"})
    assert response.status_code == 201, response.json
    assert response.json["members"] == []


def test_unknown_member_is_422_and_creates_nothing(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "petr")
    response = api.post(GROUPS, tenant.admin_key, {"name": "g", "members": ["petr", "ghost"]})
    error = assert_error(response, 422, "unknown_user")
    assert "ghost" in error["message"]
    assert "members" in error["details"]["fields"]
    assert_error(api.get(f"{GROUPS}/g", tenant.admin_key), 404, "group_not_found")
    assert api.get(f"{USERS}/petr", tenant.admin_key).json["groups"] == []


def test_duplicate_group_name_is_409(api: Client, tenant: TenantKeys) -> None:
    api.group(tenant, "g", [])
    assert_error(api.post(GROUPS, tenant.admin_key, {"name": "g"}), 409, "group_exists")


def test_rename_group(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "petr")
    api.group(tenant, "old", ["petr"])
    api.group(tenant, "taken", [])
    response = api.patch(f"{GROUPS}/old", tenant.admin_key, {"name": "new"})
    assert response.status_code == 200, response.json
    assert response.json["name"] == "new"
    assert response.json["members"] == ["petr"]
    assert_error(api.get(f"{GROUPS}/old", tenant.admin_key), 404, "group_not_found")
    assert api.get(f"{GROUPS}/new", tenant.admin_key).status_code == 200
    assert api.get(f"{USERS}/petr", tenant.admin_key).json["groups"] == ["new"]
    clash = api.patch(f"{GROUPS}/new", tenant.admin_key, {"name": "taken"})
    assert_error(clash, 409, "group_exists")
    assert api.get(f"{GROUPS}/new", tenant.admin_key).status_code == 200


def test_replace_members(api: Client, tenant: TenantKeys) -> None:
    for login in ("anna", "boris", "vera"):
        api.user(tenant, login)
    api.group(tenant, "g", ["anna", "boris"])
    response = api.patch(f"{GROUPS}/g", tenant.admin_key, {"members": ["boris", "vera"]})
    assert response.status_code == 200, response.json
    assert response.json["members"] == ["boris", "vera"]
    refused = api.patch(f"{GROUPS}/g", tenant.admin_key, {"members": ["anna", "ghost"]})
    assert_error(refused, 422, "unknown_user")
    assert api.get(f"{GROUPS}/g", tenant.admin_key).json["members"] == ["boris", "vera"]
    both = api.patch(f"{GROUPS}/g", tenant.admin_key, {"name": "h", "members": []})
    assert both.json == {**both.json, "name": "h", "members": []}


def test_rename_with_bad_members_changes_nothing(api: Client, tenant: TenantKeys) -> None:
    api.group(tenant, "g", [])
    response = api.patch(f"{GROUPS}/g", tenant.admin_key, {"name": "h", "members": ["ghost"]})
    assert_error(response, 422, "unknown_user")
    assert api.get(f"{GROUPS}/g", tenant.admin_key).status_code == 200
    assert_error(api.get(f"{GROUPS}/h", tenant.admin_key), 404)


def test_group_membership_routes_documents(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "anna")
    api.user(tenant, "boris")
    api.group(tenant, "g", ["anna"])
    api.push(tenant, "order-picking", [doc()], target={"groups": ["g"]})
    anna, boris = api.login(terminal, "anna"), api.login(terminal, "boris")
    assert len(api.inbox(anna)) == 1
    assert api.inbox(boris) == []
    api.patch(f"{GROUPS}/g", tenant.admin_key, {"members": ["boris"]})
    assert api.inbox(anna) == []
    assert len(api.inbox(boris)) == 1


def test_delete_group(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "anna")
    api.group(tenant, "g", ["anna"])
    response = api.delete(f"{GROUPS}/g", tenant.admin_key)
    assert response.status_code == 204
    assert_error(api.get(f"{GROUPS}/g", tenant.admin_key), 404, "group_not_found")
    assert_error(api.delete(f"{GROUPS}/g", tenant.admin_key), 404, "group_not_found")
    # The member stays; the name is free again.
    assert api.get(f"{USERS}/anna", tenant.admin_key).json["groups"] == []
    api.group(tenant, "g", [])


def test_deleting_a_user_removes_them_from_groups(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "anna")
    api.user(tenant, "boris")
    api.group(tenant, "g", ["anna", "boris"])
    api.delete(f"{USERS}/anna", tenant.admin_key)
    assert api.get(f"{GROUPS}/g", tenant.admin_key).json["members"] == ["boris"]
    # A new "anna" is not silently a member of the old one's groups.
    api.user(tenant, "anna")
    assert api.get(f"{GROUPS}/g", tenant.admin_key).json["members"] == ["boris"]


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": "a/b"}, {"name": " g"}, {"name": "g", "members": "anna"}, {}],
    ids=str,
)
def test_bad_group_body_is_422(api: Client, tenant: TenantKeys, body: dict[str, Any]) -> None:
    assert_error(api.post(GROUPS, tenant.admin_key, body), 422)
    assert api.get(GROUPS, tenant.admin_key).json["groups"] == []


# -- devices -----------------------------------------------------------------------------------


@pytest.fixture
def terminals(api: Client, tenant: TenantKeys) -> list[Terminal]:
    found = []
    for i in range(3):
        tick()
        found.append(api.enroll(tenant, name=f"ТСД-{i}", serial=f"SN-{i}"))
    return found


def test_device_list_with_status_filter(
    api: Client, tenant: TenantKeys, terminals: list[Terminal]
) -> None:
    api.post(f"{DEVICES}/{terminals[1].device_id}/revoke", tenant.admin_key)

    def ids(**query: Any) -> list[str]:
        response = api.get(DEVICES, tenant.admin_key, query_string=query)
        assert response.status_code == 200, response.json
        return [d["id"] for d in response.json["devices"]]

    everyone = [t.device_id for t in terminals]
    assert ids() == everyone
    assert ids(status="active") == [everyone[0], everyone[2]]
    assert ids(status="revoked") == [everyone[1]]
    assert_error(api.get(DEVICES, tenant.admin_key, query_string={"status": "lost"}), 422)
    device = api.get(DEVICES, tenant.admin_key).json["devices"][1]
    assert device["status"] == "revoked"
    assert device["pin"] is None
    assert device["last_pin"] == terminals[1].pin
    assert device["serial"] == "SN-1"
    assert device["revoked_at"]


def test_get_one_device(api: Client, tenant: TenantKeys, terminals: list[Terminal]) -> None:
    response = api.get(f"{DEVICES}/{terminals[0].device_id}", tenant.admin_key)
    assert response.status_code == 200
    body = response.json
    assert body["pin"] == terminals[0].pin
    assert body["name"] == "ТСД-0"
    assert body["model"] == "EDA50"
    assert body["mode"] == "offline"
    assert body["status"] == "active"
    assert "token" not in response.get_data(as_text=True)
    for missing in ("01a204b8-633e-7efe-9143-0b25aa5b1bc2", "nope"):
        assert_error(api.get(f"{DEVICES}/{missing}", tenant.admin_key), 404, "device_not_found")


def test_patch_device_name_and_mode(
    api: Client, tenant: TenantKeys, terminals: list[Terminal]
) -> None:
    path = f"{DEVICES}/{terminals[0].device_id}"
    response = api.patch(path, tenant.admin_key, {"name": "Приёмка", "mode": "online"})
    assert response.status_code == 200, response.json
    assert response.json["name"] == "Приёмка"
    assert response.json["mode"] == "online"
    assert response.json["pin"] == terminals[0].pin
    again = api.get(path, tenant.admin_key).json
    assert (again["name"], again["mode"]) == ("Приёмка", "online")
    back = api.patch(path, tenant.admin_key, {"mode": "offline"})
    assert back.json["mode"] == "offline"
    assert back.json["name"] == "Приёмка"


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "sometimes"},
        {"mode": None},
        {"mode": 1},
        {"name": ""},
        {"name": "x" * 101},
        {"colour": "red"},
        {"pin": "1111"},
        {"status": "revoked"},
        {"serial": "X"},
        {"last_seen_at": "2026-01-01T00:00:00Z"},
    ],
    ids=str,
)
def test_bad_device_patch_is_422_and_changes_nothing(
    api: Client, tenant: TenantKeys, terminals: list[Terminal], body: dict[str, Any]
) -> None:
    path = f"{DEVICES}/{terminals[0].device_id}"
    before = api.get(path, tenant.admin_key).json
    error = assert_error(api.patch(path, tenant.admin_key, body), 422)
    assert set(error["details"]["fields"]) == set(body)
    assert api.get(path, tenant.admin_key).json == before


def test_revoke_frees_the_pin_kills_the_token_and_lists_unfinished_work(
    api: Client, tenant: TenantKeys, terminals: list[Terminal]
) -> None:
    terminal = terminals[0]
    pushed = api.push(
        tenant,
        "purchase-receipt",
        [doc("Q-1"), doc("Q-2"), doc("Q-3")],
        target={"pin": terminal.pin},
    )
    queued, claimed, completed = (d["instances"][0]["id"] for d in pushed.json["documents"])
    api.claim(terminal, claimed)
    api.claim(terminal, completed)
    api.complete(terminal, completed, [{"line_id": "1", "qty": 1}])

    response = api.post(f"{DEVICES}/{terminal.device_id}/revoke", tenant.admin_key)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "revoked"
    assert body["pin"] is None
    assert body["last_pin"] == terminal.pin
    assert sorted(u["instance_id"] for u in body["unfinished"]) == sorted([queued, claimed])
    # The token is dead.
    assert_error(api.get("/api/v1/terminal/documents", terminal.token), 401)
    # The PIN no longer addresses it.
    refused = api.push(
        tenant, "purchase-receipt", [doc("Q-4")], target={"pin": terminal.pin}, expect=None
    )
    assert_error(refused, 404, "device_not_found")
    # It left the accounting side's device list.
    listed = api.get("/api/v1/devices", tenant.accounting_key).json["devices"]
    assert terminal.device_id not in [d["id"] for d in listed]
    # Revoking again is harmless; a revoked device cannot be changed (a state conflict: 409).
    again = api.post(f"{DEVICES}/{terminal.device_id}/revoke", tenant.admin_key)
    assert again.status_code == 200
    assert again.json["status"] == "revoked"
    patch = api.patch(f"{DEVICES}/{terminal.device_id}", tenant.admin_key, {"name": "x"})
    assert_error(patch, 409, "device_revoked")
    assert_error(
        api.post(f"{DEVICES}/{terminal.device_id}/new-pin", tenant.admin_key),
        409,
        "device_revoked",
    )


def test_new_pin_is_different_and_the_old_one_stops_routing(
    api: Client, tenant: TenantKeys, terminals: list[Terminal]
) -> None:
    terminal = terminals[0]
    api.push(tenant, "purchase-receipt", [doc("N-1")], target={"pin": terminal.pin})
    response = api.post(f"{DEVICES}/{terminal.device_id}/new-pin", tenant.admin_key)
    assert response.status_code == 200, response.json
    new_pin = response.json["pin"]
    assert new_pin != terminal.pin
    assert new_pin.isdigit()
    assert len(new_pin) >= 4
    assert new_pin not in {t.pin for t in terminals}
    assert response.json["last_pin"] == terminal.pin
    old = api.push(
        tenant, "purchase-receipt", [doc("N-2")], target={"pin": terminal.pin}, expect=None
    )
    error = assert_error(old, 404, "device_not_found")
    assert error["message"] == (
        f"Device not found by PIN {terminal.pin}. Documents were not uploaded."
    )
    api.push(tenant, "purchase-receipt", [doc("N-3")], target={"pin": new_pin})
    # The token still works and what was queued stays queued.
    assert sorted(d["external_id"] for d in api.inbox(terminal)) == ["N-1", "N-3"]
    listed = api.get("/api/v1/devices", tenant.accounting_key).json["devices"]
    assert {d["id"]: d["pin"] for d in listed}[terminal.device_id] == new_pin


def test_device_admin_actions_on_unknown_device_are_404(api: Client, tenant: TenantKeys) -> None:
    missing = "01a204b8-633e-7efe-9143-0b25aa5b1bc2"
    assert_error(api.post(f"{DEVICES}/{missing}/revoke", tenant.admin_key), 404, "device_not_found")
    assert_error(
        api.post(f"{DEVICES}/{missing}/new-pin", tenant.admin_key), 404, "device_not_found"
    )
    assert_error(
        api.patch(f"{DEVICES}/{missing}", tenant.admin_key, {"name": "x"}), 404, "device_not_found"
    )


def test_revoke_and_new_pin_take_no_body_fields(
    api: Client, tenant: TenantKeys, terminals: list[Terminal]
) -> None:
    path = f"{DEVICES}/{terminals[0].device_id}"
    assert_error(api.post(f"{path}/revoke", tenant.admin_key, {"pin": "1234"}), 422)
    assert_error(api.post(f"{path}/new-pin", tenant.admin_key, {"pin": "1234"}), 422)
    assert api.get(path, tenant.admin_key).json["status"] == "active"
    assert api.get(path, tenant.admin_key).json["pin"] == terminals[0].pin


# -- business processes ------------------------------------------------------------------------


def get_process(api: Client, tenant: TenantKeys, key: str) -> dict[str, Any]:
    response = api.get(f"{PROCESSES}/{key}", tenant.admin_key)
    assert response.status_code == 200, response.json
    return dict(response.json)


def test_list_has_the_shipped_six(api: Client, tenant: TenantKeys) -> None:
    response = api.get(PROCESSES, tenant.admin_key)
    assert response.status_code == 200
    processes = response.json["business_processes"]
    assert [p["key"] for p in processes] == SHIPPED
    assert all(p["version"] == 1 for p in processes)


def test_get_one_process(api: Client, tenant: TenantKeys) -> None:
    process = get_process(api, tenant, "purchase-receipt")
    assert process["key"] == "purchase-receipt"
    assert process["version"] == 1
    assert process["updated_at"]
    definition = process
    assert definition["assign_to"] == "device"
    assert definition["quantity_control"] == "no_excess"
    assert definition["on_load"] == {
        "create_new_document": True,
        "post_after_load": False,
        "write_after_load": "online_only",
    }
    assert definition["result_document_type"] == "Приобретение товаров и услуг"
    assert "fields" in definition
    assert_error(
        api.get(f"{PROCESSES}/no-such", tenant.admin_key), 404, "business_process_not_found"
    )


def test_put_replaces_the_whole_process_and_bumps_the_version(
    api: Client, tenant: TenantKeys
) -> None:
    current = get_process(api, tenant, "order-picking")
    body = {
        "name": "Отбор (новый)",
        "source_document_type": "Заказ клиента",
        "terminal_document_type": "Отбор",
        "result_document_type": "Реализация",
        "assign_to": "users",
    }
    response = api.put(f"{PROCESSES}/order-picking", tenant.admin_key, body)
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    definition = response.json
    assert definition["key"] == "order-picking"
    assert definition["name"] == "Отбор (новый)"
    assert definition["result_document_type"] == "Реализация"
    # What the body left out is back at its defaults, not kept from before.
    assert current["quantity_control"] == "exact"
    assert definition["quantity_control"] == "none"
    assert get_process(api, tenant, "order-picking") == response.json


def put_body(api: Client, tenant: TenantKeys, key: str, /, **changes: Any) -> dict[str, Any]:
    definition = dict(get_process(api, tenant, key))
    definition.update(changes)
    return definition


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"assign_to": "robots"}, "assign_to"),
        ({"quantity_control": "roughly"}, "quantity_control"),
        ({"name": ""}, "name"),
        ({"enabled": "maybe"}, "enabled"),
        ({"on_load": {"write_after_load": "sometimes"}}, "on_load"),
        ({"on_load": {"colour": "red"}}, "on_load"),
        ({"colour": "red"}, "colour"),
        ({"per_user_copy": True}, "per_user_copy"),
        ({"assignees": {"users": ["ivan"]}}, "assignees"),
        ({"fields": {"lines_to_terminal": ["bad name"]}}, "fields"),
        ({"claim_limit_minutes": 0}, "claim_limit_minutes"),
        ({"next_business_process": "purchase-receipt"}, "next_business_process"),
        ({"next_business_process": "no-such"}, "next_business_process"),
        ({"key": "other-key"}, "key"),
        ({"updated_at": "2020-01-01T00:00:00.000Z"}, "updated_at"),
        ({"state": "x"}, "state"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_put_validation_errors_name_the_field_and_change_nothing(
    api: Client, tenant: TenantKeys, changes: dict[str, Any], field: str
) -> None:
    before = get_process(api, tenant, "purchase-receipt")
    body = put_body(api, tenant, "purchase-receipt", **changes)
    response = api.put(f"{PROCESSES}/purchase-receipt", tenant.admin_key, body)
    error = assert_error(response, 422)
    assert field in error["details"]["fields"], error
    assert field in error["message"] or field == "_schema"
    assert get_process(api, tenant, "purchase-receipt") == before


def test_put_missing_required_fields_is_422(api: Client, tenant: TenantKeys) -> None:
    before = get_process(api, tenant, "price-check")
    response = api.put(f"{PROCESSES}/price-check", tenant.admin_key, {"name": "x"})
    error = assert_error(response, 422)
    assert {"assign_to", "source_document_type"} <= set(error["details"]["fields"])
    assert get_process(api, tenant, "price-check") == before


def test_patch_merges_nested_on_load(api: Client, tenant: TenantKeys) -> None:
    response = api.patch(
        f"{PROCESSES}/purchase-receipt", tenant.admin_key, {"on_load": {"post_after_load": True}}
    )
    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    definition = response.json
    assert definition["on_load"] == {
        "create_new_document": True,
        "post_after_load": True,
        "write_after_load": "online_only",
    }
    # Everything else is kept.
    assert definition["quantity_control"] == "no_excess"
    assert definition["assign_to"] == "device"


def test_each_edit_bumps_the_version(api: Client, tenant: TenantKeys) -> None:
    for version in (2, 3, 4):
        response = api.patch(f"{PROCESSES}/stock-count", tenant.admin_key, {"name": f"v{version}"})
        assert response.json["version"] == version
    body = put_body(api, tenant, "stock-count")
    assert api.put(f"{PROCESSES}/stock-count", tenant.admin_key, body).json["version"] == 5
    # Refused edits do not.
    assert_error(api.patch(f"{PROCESSES}/stock-count", tenant.admin_key, {"assign_to": "x"}), 422)
    assert get_process(api, tenant, "stock-count")["version"] == 5


def test_patch_invalid_combination_is_422(api: Client, tenant: TenantKeys) -> None:
    before = get_process(api, tenant, "stock-count")
    response = api.patch(f"{PROCESSES}/stock-count", tenant.admin_key, {"per_user_copy": True})
    error = assert_error(response, 422)
    assert "collective_work" in error["details"]["fields"]
    assert get_process(api, tenant, "stock-count") == before


def test_loop_in_next_business_process_is_refused(api: Client, tenant: TenantKeys) -> None:
    # transfer-shipment already chains to transfer-receipt.
    before = get_process(api, tenant, "transfer-receipt")
    response = api.patch(
        f"{PROCESSES}/transfer-receipt",
        tenant.admin_key,
        {"next_business_process": "transfer-shipment"},
    )
    error = assert_error(response, 422, "process_chain_loop")
    assert "next_business_process" in error["details"]["fields"]
    assert "transfer-shipment" in error["message"]
    assert get_process(api, tenant, "transfer-receipt") == before


def test_longer_loop_is_refused_and_a_chain_is_allowed(api: Client, tenant: TenantKeys) -> None:
    ok = api.patch(
        f"{PROCESSES}/transfer-receipt", tenant.admin_key, {"next_business_process": "price-check"}
    )
    assert ok.status_code == 200, ok.json
    loop = api.patch(
        f"{PROCESSES}/price-check", tenant.admin_key, {"next_business_process": "transfer-shipment"}
    )
    assert_error(loop, 422, "process_chain_loop")
    self_loop = api.patch(
        f"{PROCESSES}/price-check", tenant.admin_key, {"next_business_process": "price-check"}
    )
    assert_error(self_loop, 422)


def test_put_creates_a_new_process(api: Client, tenant: TenantKeys) -> None:
    body = {
        "name": "Подбор в ячейку",
        "source_document_type": "Заказ",
        "terminal_document_type": "Подбор",
        "result_document_type": "Размещение",
        "assign_to": "users",
    }
    response = api.put(f"{PROCESSES}/cell-placement", tenant.admin_key, body)
    assert response.status_code == 200, response.json
    assert response.json["version"] == 1
    keys = [p["key"] for p in api.get(PROCESSES, tenant.admin_key).json["business_processes"]]
    assert "cell-placement" in keys
    api.user(tenant, "ivan")
    api.push(tenant, "cell-placement", [doc()], target={"users": ["ivan"]})


@pytest.mark.parametrize("key", ["Bad_Key", "-x", "x" * 65])
def test_put_with_a_bad_key_is_422(api: Client, tenant: TenantKeys, key: str) -> None:
    body = put_body(api, tenant, "price-check")
    body.pop("key")
    response = api.put(f"{PROCESSES}/{key}", tenant.admin_key, body)
    assert_error(response, 422)
    keys = [p["key"] for p in api.get(PROCESSES, tenant.admin_key).json["business_processes"]]
    assert keys == SHIPPED


def test_patch_unknown_process_is_404(api: Client, tenant: TenantKeys) -> None:
    response = api.patch(f"{PROCESSES}/no-such", tenant.admin_key, {"name": "x"})
    assert_error(response, 404, "business_process_not_found")


@pytest.mark.parametrize("body", [[], "x", 1, "null", [{"name": "x"}]], ids=repr)
def test_process_body_must_be_an_object(api: Client, tenant: TenantKeys, body: Any) -> None:
    before = get_process(api, tenant, "price-check")
    for method in ("PUT", "PATCH"):
        raw = body if body == "null" else json.dumps(body)
        response = api.call(method, f"{PROCESSES}/price-check", tenant.admin_key, data=raw)
        assert response.status_code == 422, (body, response.json)
        assert_error(response, 422)
    assert get_process(api, tenant, "price-check") == before


def test_empty_patch_body_is_refused_or_harmless(api: Client, tenant: TenantKeys) -> None:
    response = api.call("PATCH", f"{PROCESSES}/price-check", tenant.admin_key)
    assert response.status_code in (200, 400, 422), response.json
    assert response.status_code != 500


# -- enrollment codes --------------------------------------------------------------------------


def test_enrollment_code_defaults_to_one_use_and_24_hours(api: Client, tenant: TenantKeys) -> None:
    now = datetime.now(UTC)
    response = api.post(CODES, tenant.admin_key, {})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["uses_left"] == 1
    expires = parse_time(body["expires_at"])
    assert abs(expires - (now + timedelta(hours=24))) < timedelta(minutes=1)
    assert body["code"].startswith("ENR-")
    assert json.loads(body["qr_payload"])["code"] == body["code"]
    assert body["qr_svg"].lstrip().startswith("<svg")
    # Single use.
    first = api.post(
        "/api/v1/terminal/enroll", json={"code": body["code"], "name": "a", "serial": "1"}
    )
    assert first.status_code == 201, first.json
    second = api.post(
        "/api/v1/terminal/enroll", json={"code": body["code"], "name": "b", "serial": "2"}
    )
    assert_error(second, 401, "invalid_enrollment_code")


def test_enrollment_code_with_no_body_uses_the_defaults(api: Client, tenant: TenantKeys) -> None:
    response = api.post(CODES, tenant.admin_key)
    assert response.status_code == 201, response.json
    assert response.json["uses_left"] == 1


def test_enrollment_code_with_several_uses(api: Client, tenant: TenantKeys) -> None:
    response = api.post(CODES, tenant.admin_key, {"uses": 2, "ttl_seconds": 3600})
    assert response.status_code == 201, response.json
    assert response.json["uses_left"] == 2
    expires = parse_time(response.json["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)
    code = response.json["code"]
    pins = set()
    for serial in ("1", "2"):
        enrolled = api.post(
            "/api/v1/terminal/enroll", json={"code": code, "name": "ТСД", "serial": serial}
        )
        assert enrolled.status_code == 201, enrolled.json
        pins.add(enrolled.json["pin"])
    assert len(pins) == 2
    third = api.post("/api/v1/terminal/enroll", json={"code": code, "name": "ТСД", "serial": "3"})
    assert_error(third, 401)


@pytest.mark.parametrize(
    "body",
    [
        {"uses": 0},
        {"uses": -1},
        {"uses": 1001},
        {"uses": "2"},
        {"uses": 1.5},
        {"uses": True},
        {"ttl_seconds": 0},
        {"ttl_seconds": 59},
        {"ttl_seconds": 31 * 24 * 3600},
        {"ttl_seconds": "1h"},
        {"code": "ENR-AAAA"},
        {"expires_at": "2030-01-01T00:00:00Z"},
    ],
    ids=str,
)
def test_bad_enrollment_code_request_is_422(
    api: Client, tenant: TenantKeys, body: dict[str, Any]
) -> None:
    error = assert_error(api.post(CODES, tenant.admin_key, body), 422)
    assert set(error["details"]["fields"]) == set(body)


# -- SPEC §10 endpoints ------------------------------------------------------------------------


def test_webhook_settings_endpoint_exists(api: Client, tenant: TenantKeys) -> None:
    response = api.get("/api/v1/admin/webhook", tenant.admin_key)
    assert_error(response, 404, "webhook_not_configured")


def test_dead_letters_endpoint_exists(api: Client, tenant: TenantKeys) -> None:
    response = api.get("/api/v1/admin/dead-letters", tenant.admin_key)
    assert response.status_code == 200, response.json

"""Business processes round-trip (Appendix A): a GET body PUT back as is; optimistic locking."""

from typing import Any

import pytest

from tests.helpers import Client, TenantKeys, assert_error

PROCESSES = "/api/v1/admin/business-processes"


def read(api: Client, tenant: TenantKeys, key: str) -> tuple[dict[str, Any], str]:
    response = api.get(f"{PROCESSES}/{key}", tenant.admin_key)
    assert response.status_code == 200, response.json
    return dict(response.json), response.headers["ETag"]


def test_get_answers_the_flat_fields_with_key_version_and_updated_at(
    api: Client, tenant: TenantKeys
) -> None:
    body, tag = read(api, tenant, "purchase-receipt")
    assert "definition" not in body
    assert body["key"] == "purchase-receipt"
    assert body["version"] == 1
    assert body["updated_at"].endswith("Z")
    assert body["assign_to"] == "device"
    assert body["on_load"]["write_after_load"] == "online_only"
    assert tag == '"v1"'
    listed = api.get(PROCESSES, tenant.admin_key).json["business_processes"]
    assert next(p for p in listed if p["key"] == "purchase-receipt") == body


def test_a_get_body_changed_in_one_field_is_put_back(api: Client, tenant: TenantKeys) -> None:
    body, _ = read(api, tenant, "order-picking")
    body["quantity_control"] = "no_excess"
    saved = api.put(f"{PROCESSES}/order-picking", tenant.admin_key, body)
    assert saved.status_code == 200, saved.json
    assert saved.json["version"] == 2
    assert saved.json["quantity_control"] == "no_excess"
    assert saved.headers["ETag"] == '"v2"'
    again, _ = read(api, tenant, "order-picking")
    assert again == saved.json
    # Everything else came back as it was.
    assert {
        k: v for k, v in again.items() if k not in ("version", "updated_at", "quantity_control")
    } == {k: v for k, v in body.items() if k not in ("version", "updated_at", "quantity_control")}


def test_two_admins_editing_one_process_do_not_overwrite_each_other(
    api: Client, tenant: TenantKeys
) -> None:
    first, _ = read(api, tenant, "order-picking")
    second = dict(first)
    first["name"] = "Отбор (Иванов)"
    assert api.put(f"{PROCESSES}/order-picking", tenant.admin_key, first).status_code == 200
    second["quantity_control"] = "none"
    error = assert_error(
        api.put(f"{PROCESSES}/order-picking", tenant.admin_key, second), 409, "version_conflict"
    )
    assert error["details"] == {"current_version": 2, "sent_version": 1}
    assert "read it again" in error["message"].lower()
    current, _ = read(api, tenant, "order-picking")
    assert (current["version"], current["name"], current["quantity_control"]) == (
        2,
        "Отбор (Иванов)",
        "exact",
    )
    # PATCH takes a version too.
    stale = api.patch(f"{PROCESSES}/order-picking", tenant.admin_key, {"version": 1, "name": "x"})
    assert_error(stale, 409, "version_conflict")
    fresh = api.patch(f"{PROCESSES}/order-picking", tenant.admin_key, {"version": 2, "name": "y"})
    assert fresh.status_code == 200, fresh.json


def test_if_match_with_the_etag_works_the_same(api: Client, tenant: TenantKeys) -> None:
    body, tag = read(api, tenant, "price-check")
    del body["version"]
    body["name"] = "Проверка цен"
    changed = api.put(f"{PROCESSES}/price-check", tenant.admin_key, body, headers={"If-Match": tag})
    assert changed.status_code == 200, changed.json
    stale = api.patch(
        f"{PROCESSES}/price-check", tenant.admin_key, {"name": "z"}, headers={"If-Match": tag}
    )
    assert_error(stale, 409, "version_conflict")
    bogus = api.patch(
        f"{PROCESSES}/price-check", tenant.admin_key, {"name": "z"}, headers={"If-Match": '"x"'}
    )
    assert_error(bogus, 409, "version_conflict")
    assert read(api, tenant, "price-check")[0]["name"] == "Проверка цен"
    # Without a version nor If-Match, the edit simply applies (last writer wins, as before).
    plain = api.patch(f"{PROCESSES}/price-check", tenant.admin_key, {"name": "w"})
    assert plain.json["version"] == 3


def test_read_only_fields_sent_back_changed_are_refused(api: Client, tenant: TenantKeys) -> None:
    body, _ = read(api, tenant, "stock-count")
    changed = {**body, "updated_at": "2020-01-01T00:00:00.000Z"}
    error = assert_error(
        api.put(f"{PROCESSES}/stock-count", tenant.admin_key, changed), 422, "read_only_changed"
    )
    assert "updated_at" in error["details"]["fields"]
    renamed = {**body, "key": "other"}
    assert_error(
        api.put(f"{PROCESSES}/stock-count", tenant.admin_key, renamed), 422, "key_mismatch"
    )
    assert read(api, tenant, "stock-count")[0]["version"] == 1


def test_a_new_process_is_created_without_a_version(api: Client, tenant: TenantKeys) -> None:
    body, _ = read(api, tenant, "price-check")
    new = {k: v for k, v in body.items() if k not in ("key", "version", "updated_at")}
    assert_error(
        api.put(f"{PROCESSES}/returns", tenant.admin_key, {**new, "version": 1}),
        409,
        "version_conflict",
    )
    created = api.put(f"{PROCESSES}/returns", tenant.admin_key, new)
    assert created.status_code == 200, created.json
    assert (created.json["key"], created.json["version"]) == ("returns", 1)


@pytest.mark.parametrize(
    ("method", "change", "code"),
    [
        ("put", {"assign_to": "device", "per_user_copy": True}, "process_fields_disagree"),
        ("put", {"per_user_copy": True, "collective_work": True}, "process_fields_disagree"),
        ("put", {"next_business_process": "price-check"}, "process_chain_loop"),
        ("put", {"next_business_process": "nowhere"}, "unknown_business_process"),
        ("patch", {"assign_to": "device"}, "process_fields_disagree"),
        ("patch", {"next_business_process": "price-check"}, "process_chain_loop"),
    ],
)
def test_refusals_a_schema_cannot_foresee_have_codes_of_their_own(
    api: Client, tenant: TenantKeys, method: str, change: dict[str, Any], code: str
) -> None:
    """Rules of the address or of the stored process: the OpenAPI fuzz test accepts these."""
    body, _ = read(api, tenant, "price-check")  # per_user_copy: true
    sent = {**body, **change} if method == "put" else change
    response = api.call(method.upper(), f"{PROCESSES}/price-check", tenant.admin_key, json=sent)
    error = assert_error(response, 422, code)
    assert error["details"]["fields"]
    assert read(api, tenant, "price-check")[0]["version"] == 1


def test_a_key_with_a_final_newline_is_no_process_key(api: Client, tenant: TenantKeys) -> None:
    body, _ = read(api, tenant, "price-check")
    new = {k: v for k, v in body.items() if k not in ("key", "version", "updated_at")}
    assert_error(api.put(f"{PROCESSES}/returns%0A", tenant.admin_key, new), 422)
    assert api.get(f"{PROCESSES}/returns%0A", tenant.admin_key).status_code == 404

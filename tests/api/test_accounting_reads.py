"""What the accounting key may read for its push dialog (SPEC §10), and the document filters."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import Client, TenantKeys, assert_error, doc, operator

PICKER = {"business_processes", "users", "groups"}


def test_the_accounting_key_reads_processes_users_and_groups(
    api: Client, tenant: TenantKeys
) -> None:
    api.user(tenant, "ivanov", name="Иванов И.")
    api.user(tenant, "petrov", name="Петров П.")
    api.group(tenant, "Общая", ["ivanov", "petrov"])
    api.patch(
        "/api/v1/admin/business-processes/price-check",
        tenant.admin_key,
        {"assignees": {"users": ["ivanov"], "groups": ["Общая"]}},
    )
    processes = api.get("/api/v1/business-processes", tenant.accounting_key)
    assert processes.status_code == 200, processes.json
    by_key = {p["key"]: p for p in processes.json["business_processes"]}
    assert by_key["price-check"] == {
        "key": "price-check",
        "name": by_key["price-check"]["name"],
        "enabled": True,
        "assign_to": "users",
        "assignees": {"users": ["ivanov"], "groups": ["Общая"]},
        "per_user_copy": True,
        "collective_work": False,
        "version": 2,
    }
    assert by_key["purchase-receipt"]["assign_to"] == "device"
    assert by_key["stock-count"]["collective_work"] is True
    users = api.get("/api/v1/users", tenant.accounting_key).json
    assert users == {
        "users": [
            {"login": "ivanov", "name": "Иванов И."},
            {"login": "petrov", "name": "Петров П."},
        ],
        "next": None,
    }
    groups = api.get("/api/v1/groups", tenant.accounting_key).json
    assert groups == {"groups": [{"name": "Общая", "members": ["ivanov", "petrov"]}], "next": None}
    # The admin key reads them too; terminals do not; nothing else of users shows.
    assert api.get("/api/v1/users", tenant.admin_key).status_code == 200
    terminal = api.enroll(tenant)
    for path in ("/api/v1/business-processes", "/api/v1/users", "/api/v1/groups"):
        assert_error(api.get(path, terminal.token), 403, "forbidden")
        assert_error(api.get(path), 401, "unauthorized")


def test_the_lists_are_paged(api: Client, tenant: TenantKeys) -> None:
    for n in range(3):
        api.user(tenant, f"user{n}")
    first = api.get("/api/v1/users?limit=2", tenant.accounting_key).json
    assert len(first["users"]) == 2
    second = api.get(f"/api/v1/users?limit=2&after={first['next']}", tenant.accounting_key).json
    assert [u["login"] for u in second["users"]] == ["user2"]
    assert second["next"] is None
    assert_error(api.get("/api/v1/groups?limit=0", tenant.accounting_key), 422)


def test_another_tenants_directory_is_not_seen(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    api.user(other_tenant, "stranger")
    api.group(other_tenant, "Чужие", ["stranger"])
    assert api.get("/api/v1/users", tenant.accounting_key).json["users"] == []
    assert api.get("/api/v1/groups", tenant.accounting_key).json["groups"] == []


def test_the_unknown_process_message_says_what_accounting_can_do(
    api: Client, tenant: TenantKeys
) -> None:
    response = api.push(tenant, "no-such", [doc()], {"all": True}, expect=None)
    error = assert_error(response, 404, "business_process_not_found")
    assert "/api/v1/business-processes" in error["message"]
    assert "/admin/" not in error["message"]
    assert "purchase-receipt" in error["details"]["available"]


def ids(api: Client, tenant: TenantKeys, query: str) -> list[str]:
    response = api.get(f"/api/v1/documents?{query}", tenant.accounting_key)
    assert response.status_code == 200, response.json
    return [d["external_id"] for d in response.json["documents"]]


@pytest.fixture
def spread(api: Client, tenant: TenantKeys) -> dict[str, object]:
    """Documents to a device by PIN, to a user, to a group, and one claimed by a user."""
    a, b = api.enroll(tenant, serial="A"), api.enroll(tenant, serial="B")
    ivanov = operator(api, tenant, "ivanov")
    api.user(tenant, "petrov")
    api.group(tenant, "Склад", ["petrov"])
    api.push(tenant, "purchase-receipt", [doc("to-a")], {"pin": a.pin})
    api.push(tenant, "purchase-receipt", [doc("to-b")], {"device_id": b.device_id})
    api.push(tenant, "order-picking", [doc("to-ivanov")], {"users": ["ivanov"]})
    pushed = api.push(tenant, "order-picking", [doc("to-group")], {"groups": ["Склад"]})
    everyone = api.push(tenant, "order-picking", [doc("to-all")], {"all": True})
    api.claim(ivanov, everyone.json["documents"][0]["instances"][0]["id"])
    return {"a": a, "b": b, "group_doc": pushed.json["documents"][0]["id"]}


def test_documents_filter_by_device_user_and_group(
    api: Client, tenant: TenantKeys, spread: dict[str, object]
) -> None:
    a, b = spread["a"], spread["b"]
    assert ids(api, tenant, f"pin={a.pin}") == ["to-a"]  # type: ignore[attr-defined]
    assert ids(api, tenant, f"device_id={b.device_id}") == ["to-b"]  # type: ignore[attr-defined]
    # Addressed to ivanov, or held by him.
    assert ids(api, tenant, "user=ivanov") == ["to-ivanov", "to-all"]
    assert ids(api, tenant, "group=Склад") == ["to-group"]
    assert ids(api, tenant, "user=ivanov&state=claimed") == ["to-all"]
    assert ids(api, tenant, "business_process=order-picking&user=ivanov&state=queued") == [
        "to-ivanov"
    ]
    assert ids(api, tenant, "external_id=to-b") == ["to-b"]
    # Naming nobody known matches nothing.
    for query in ("pin=9999999", "user=nobody", "group=Никто", f"device_id={spread['group_doc']}"):
        assert ids(api, tenant, query) == []


def test_documents_filter_by_updated_since(
    api: Client, tenant: TenantKeys, spread: dict[str, object]
) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert len(ids(api, tenant, f"updated_since={past.replace('+', '%2B')}")) == 5
    future = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    assert ids(api, tenant, f"updated_since={future}") == []
    mark = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ivanov = operator(api, tenant, "sidorov")
    api.group(tenant, "Новая", ["sidorov"])
    assert ids(api, tenant, f"updated_since={mark}") == []
    pushed = api.push(tenant, "order-picking", [doc("later")], {"users": ["sidorov"]})
    assert ids(api, tenant, f"updated_since={mark}") == ["later"]
    # A claim is a change of the document too.
    api.claim(ivanov, pushed.json["documents"][0]["instances"][0]["id"])
    assert ids(api, tenant, f"updated_since={mark}") == ["later"]


@pytest.mark.parametrize(
    "query",
    ["pin=12ab", "device_id=not-a-uuid", "updated_since=yesterday", "state=lost", "colour=red"],
)
def test_bad_filters_are_422(api: Client, tenant: TenantKeys, query: str) -> None:
    assert_error(api.get(f"/api/v1/documents?{query}", tenant.accounting_key), 422)

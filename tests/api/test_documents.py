"""GET /api/v1/documents (filters, paging), GET one (instances, holder, results, timeline),
GET /api/v1/devices."""

import time
from typing import Any

import pytest

from tests.helpers import Client, TenantKeys, Terminal, assert_error, doc, list_documents

LIST = "/api/v1/documents"


@pytest.fixture
def terminal(api: Client, tenant: TenantKeys) -> Terminal:
    return api.enroll(tenant, name="Склад-1")


def tick() -> None:
    """Let the clock pass a millisecond: ids made within one millisecond have no order."""
    time.sleep(0.002)


def push_one(
    api: Client, tenant: TenantKeys, terminal: Terminal, external_id: str, process: str = ""
) -> dict[str, Any]:
    tick()
    response = api.push(
        tenant, process or "purchase-receipt", [doc(external_id)], target={"pin": terminal.pin}
    )
    return dict(response.json["documents"][0])


def get_document(api: Client, tenant: TenantKeys, document_id: str) -> dict[str, Any]:
    response = api.get(f"{LIST}/{document_id}", tenant.accounting_key)
    assert response.status_code == 200, response.json
    return dict(response.json)


# -- the list ----------------------------------------------------------------------------------


def test_empty_list(api: Client, tenant: TenantKeys) -> None:
    response = api.get(LIST, tenant.accounting_key)
    assert response.status_code == 200
    assert response.json == {"documents": [], "next": None}


def test_list_is_oldest_first_with_summary_fields(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    ids = [push_one(api, tenant, terminal, f"A-{i}")["id"] for i in range(3)]
    response = api.get(LIST, tenant.accounting_key)
    assert response.status_code == 200
    documents = response.json["documents"]
    assert [d["id"] for d in documents] == ids
    first = documents[0]
    assert first["external_id"] == "A-0"
    assert first["business_process"] == "purchase-receipt"
    assert first["business_process_version"] == 1
    assert first["number"] == "0"
    assert first["date"] == "2026-11-20"
    assert first["version"] == 1
    assert first["state"] == "queued"
    assert first["created_at"].endswith("Z") or "+00:00" in first["created_at"]
    assert response.json["next"] is None


def test_admin_key_may_list_too(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    push_one(api, tenant, terminal, "A-1")
    response = api.get(LIST, tenant.admin_key)
    assert response.status_code == 200
    assert len(response.json["documents"]) == 1


def test_filter_by_business_process(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    push_one(api, tenant, terminal, "A-1")
    push_one(api, tenant, terminal, "A-2", "order-picking")
    push_one(api, tenant, terminal, "A-3")
    found = list_documents(api, tenant, business_process="purchase-receipt")
    assert [d["external_id"] for d in found] == ["A-1", "A-3"]
    found = list_documents(api, tenant, business_process="order-picking")
    assert [d["external_id"] for d in found] == ["A-2"]
    assert list_documents(api, tenant, business_process="stock-count") == []


def test_filter_by_external_id(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    push_one(api, tenant, terminal, "A-1")
    push_one(api, tenant, terminal, "A-2")
    push_one(api, tenant, terminal, "A-1", "order-picking")
    found = list_documents(api, tenant, external_id="A-1")
    assert sorted(d["business_process"] for d in found) == ["order-picking", "purchase-receipt"]
    assert list_documents(api, tenant, external_id="A-9") == []
    # Cyrillic ids are matched as-is.
    push_one(api, tenant, terminal, "ЗаказПоставщику-0000-000123")
    found = list_documents(api, tenant, external_id="ЗаказПоставщику-0000-000123")
    assert len(found) == 1


def test_filter_by_state(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    queued = push_one(api, tenant, terminal, "S-1")
    claimed = push_one(api, tenant, terminal, "S-2")
    completed = push_one(api, tenant, terminal, "S-3")
    cancelled = push_one(api, tenant, terminal, "S-4")
    api.claim(terminal, claimed["instances"][0]["id"])
    api.claim(terminal, completed["instances"][0]["id"])
    api.complete(terminal, completed["instances"][0]["id"], [{"line_id": "1", "qty": 1}])
    api.post(f"{LIST}/{cancelled['id']}/cancel", tenant.accounting_key)
    expected = {
        "queued": queued,
        "claimed": claimed,
        "completed": completed,
        "cancelled": cancelled,
    }
    for state, document in expected.items():
        found = list_documents(api, tenant, state=state)
        assert [d["id"] for d in found] == [document["id"]], state
        assert found[0]["state"] == state
    assert list_documents(api, tenant, state="processed") == []


def test_filters_combine(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    push_one(api, tenant, terminal, "A-1")
    claimed = push_one(api, tenant, terminal, "A-1", "order-picking")
    api.claim(terminal, claimed["instances"][0]["id"])
    found = list_documents(api, tenant, external_id="A-1", state="queued")
    assert [d["business_process"] for d in found] == ["purchase-receipt"]


def test_state_filter_agrees_with_the_state_shown(api: Client, tenant: TenantKeys) -> None:
    first, second = api.enroll(tenant, name="ТСД-1"), api.enroll(tenant, name="ТСД-2")
    api.user(tenant, "anna")
    api.user(tenant, "boris")
    pushed = api.push(tenant, "price-check", [doc()], target={"users": ["anna", "boris"]})
    copies = {i["addressee"]["login"]: i["id"] for i in pushed.json["documents"][0]["instances"]}
    api.claim(api.login(first, "anna"), copies["anna"])
    assert api.login(second, "boris")
    # The document is "queued" (its least advanced copy); listing claimed documents should not
    # return a document whose state says queued.
    [listed] = list_documents(api, tenant)
    assert listed["state"] == "queued"
    for state in ("queued", "claimed"):
        for found in list_documents(api, tenant, state=state):
            assert found["state"] == state


def test_unknown_state_filter_is_422(api: Client, tenant: TenantKeys) -> None:
    response = api.get(LIST, tenant.accounting_key, query_string={"state": "lost"})
    error = assert_error(response, 422)
    assert "state" in error["details"]["fields"]


def test_unknown_query_parameter_is_422(api: Client, tenant: TenantKeys) -> None:
    response = api.get(LIST, tenant.accounting_key, query_string={"colour": "red"})
    error = assert_error(response, 422)
    assert "colour" in error["details"]["fields"]


# -- paging ------------------------------------------------------------------------------------


def test_paging_with_limit_and_next(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    ids = [push_one(api, tenant, terminal, f"P-{i}")["id"] for i in range(5)]
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        response = api.get(LIST, tenant.accounting_key, query_string=query)
        assert response.status_code == 200, response.json
        page = response.json["documents"]
        assert len(page) <= 2
        seen += [d["id"] for d in page]
        pages += 1
        if response.json["next"] is None:
            break
        query["after"] = response.json["next"]
    assert seen == ids
    assert pages == 3


def test_exact_page_has_no_next(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    for i in range(2):
        push_one(api, tenant, terminal, f"P-{i}")
    response = api.get(LIST, tenant.accounting_key, query_string={"limit": 2})
    assert len(response.json["documents"]) == 2
    assert response.json["next"] is None


def test_paging_combines_with_filters(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    for i in range(4):
        push_one(api, tenant, terminal, f"P-{i}", "order-picking" if i % 2 else "")
    first = api.get(
        LIST, tenant.accounting_key, query_string={"limit": 1, "business_process": "order-picking"}
    ).json
    assert [d["external_id"] for d in first["documents"]] == ["P-1"]
    second = api.get(
        LIST,
        tenant.accounting_key,
        query_string={"limit": 1, "business_process": "order-picking", "after": first["next"]},
    ).json
    assert [d["external_id"] for d in second["documents"]] == ["P-3"]
    assert second["next"] is None


@pytest.mark.parametrize("limit", ["0", "-1", "501", "100000", "abc", "1.5", ""])
def test_limit_out_of_range_is_422(api: Client, tenant: TenantKeys, limit: str) -> None:
    response = api.get(LIST, tenant.accounting_key, query_string={"limit": limit})
    error = assert_error(response, 422)
    assert "limit" in error["details"]["fields"]


@pytest.mark.parametrize("limit", ["1", "500"])
def test_limit_bounds_are_accepted(api: Client, tenant: TenantKeys, limit: str) -> None:
    response = api.get(LIST, tenant.accounting_key, query_string={"limit": limit})
    assert response.status_code == 200, response.json


def test_page_size_defaults_to_100(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    docs = [doc(f"Q-{i}") for i in range(101)]
    api.push(tenant, "purchase-receipt", docs, target={"pin": terminal.pin})
    response = api.get(LIST, tenant.accounting_key)
    assert len(response.json["documents"]) == 100
    assert response.json["next"]
    rest = api.get(LIST, tenant.accounting_key, query_string={"after": response.json["next"]})
    assert len(rest.json["documents"]) == 1
    assert rest.json["next"] is None
    everything = response.json["documents"] + rest.json["documents"]
    assert sorted(d["external_id"] for d in everything) == sorted(d["external_id"] for d in docs)


@pytest.mark.parametrize("cursor", ["garbage", "1", "' OR 1=1 --", "%00", "Zm9v"])
def test_bad_cursor_is_invalid_cursor(api: Client, tenant: TenantKeys, cursor: str) -> None:
    response = api.get(LIST, tenant.accounting_key, query_string={"after": cursor})
    error = assert_error(response, 422, "invalid_cursor")
    assert "after" in error["details"]["fields"]


# -- one document ------------------------------------------------------------------------------


def test_get_one_with_instances_holder_results_and_timeline(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    pushed = push_one(api, tenant, terminal, "ЗаказПоставщику-0000-000123")
    instance_id = pushed["instances"][0]["id"]

    fresh = get_document(api, tenant, pushed["id"])
    assert fresh["id"] == pushed["id"]
    assert fresh["state"] == "queued"
    assert fresh["header"] == doc()["header"]
    assert fresh["lines"] == doc()["lines"]
    assert fresh["target"] == {"pin": terminal.pin}
    [instance] = fresh["instances"]
    assert instance["id"] == instance_id
    assert instance["state"] == "queued"
    assert instance["holder"] is None
    assert instance["addressee"]["pin"] == terminal.pin
    assert fresh["result_ids"] == []
    assert [e["kind"] for e in fresh["timeline"]] == ["pushed"]
    assert fresh["timeline"][0]["actor"] == "accounting"

    api.claim(terminal, instance_id)
    claimed = get_document(api, tenant, pushed["id"])
    assert claimed["state"] == "claimed"
    holder = claimed["instances"][0]["holder"]
    assert holder["device_id"] == terminal.device_id
    assert holder["pin"] == terminal.pin
    assert holder["device_name"] == "Склад-1"
    assert holder["claimed_at"]

    done = api.complete(terminal, instance_id, [{"line_id": "1", "qty": 10}])
    completed = get_document(api, tenant, pushed["id"])
    assert completed["state"] == "completed"
    assert completed["instances"][0]["holder"] is None
    assert completed["result_ids"] == [done.json["result_id"]]

    ack = api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [done.json["result_id"]]})
    assert ack.status_code == 200, ack.json
    processed = get_document(api, tenant, pushed["id"])
    assert processed["state"] == "processed"
    timeline = processed["timeline"]
    assert [e["kind"] for e in timeline] == ["pushed", "claimed", "completed", "processed"]
    assert [e["actor"] for e in timeline] == ["accounting", "device", "device", "accounting"]
    assert timeline[1]["device_id"] == terminal.device_id
    assert timeline[1]["instance_id"] == instance_id
    assert timeline[2]["details"]["result_ids"] == [done.json["result_id"]]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)


def test_timeline_names_the_operator(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    user = api.user(tenant, "ivan")
    session = api.login(terminal, "ivan")
    pushed = api.push(tenant, "order-picking", [doc()], target={"users": ["ivan"]})
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    api.claim(session, instance_id)
    document = get_document(api, tenant, pushed.json["documents"][0]["id"])
    claim = document["timeline"][-1]
    assert claim["kind"] == "claimed"
    assert claim["actor"] == "user"
    assert claim["user_id"] == user["id"]
    assert claim["device_id"] == terminal.device_id
    holder = document["instances"][0]["holder"]
    assert holder["login"] == "ivan"


def test_cancel_shows_in_state_and_timeline(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    pushed = push_one(api, tenant, terminal, "C-1")
    response = api.post(f"{LIST}/{pushed['id']}/cancel", tenant.accounting_key)
    assert response.status_code == 200, response.json
    document = get_document(api, tenant, pushed["id"])
    assert document["state"] == "cancelled"
    assert [e["kind"] for e in document["timeline"]] == ["pushed", "cancelled"]


def test_per_user_copies_are_listed_with_their_addressees(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "anna")
    api.user(tenant, "boris")
    pushed = api.push(tenant, "price-check", [doc()], target={"users": ["anna", "boris"]})
    document = get_document(api, tenant, pushed.json["documents"][0]["id"])
    assert sorted(i["addressee"]["login"] for i in document["instances"]) == ["anna", "boris"]


@pytest.mark.parametrize(
    "document_id", ["01a204b8-633e-7efe-9143-0b25aa5b1bc2", "not-a-uuid", "1", "%20"]
)
def test_unknown_document_is_404(api: Client, tenant: TenantKeys, document_id: str) -> None:
    response = api.get(f"{LIST}/{document_id}", tenant.accounting_key)
    assert_error(response, 404, "document_not_found")


# -- devices for accounting --------------------------------------------------------------------


def test_devices_lists_active_devices_with_pins(api: Client, tenant: TenantKeys) -> None:
    first = api.enroll(tenant, name="Склад-1", serial="SN-1")
    tick()
    gone = api.enroll(tenant, name="Склад-2", serial="SN-2")
    tick()
    online = api.enroll(tenant, name="Склад-3", serial="SN-3", mode="online")
    api.post(f"/api/v1/admin/devices/{gone.device_id}/revoke", tenant.admin_key)
    response = api.get("/api/v1/devices", tenant.accounting_key)
    assert response.status_code == 200, response.json
    devices = response.json["devices"]
    assert [d["id"] for d in devices] == [first.device_id, online.device_id]
    assert response.json["next"] is None
    by_id = {d["id"]: d for d in devices}
    one = by_id[first.device_id]
    assert one["pin"] == first.pin
    assert one["name"] == "Склад-1"
    assert one["model"] == "EDA50"
    assert one["mode"] == "offline"
    assert one["last_seen_at"]
    assert by_id[online.device_id]["mode"] == "online"
    # Nothing secret travels.
    text = response.get_data(as_text=True)
    assert first.token not in text
    assert "token" not in text


def test_devices_paging(api: Client, tenant: TenantKeys) -> None:
    terminals = []
    for i in range(3):
        tick()
        terminals.append(api.enroll(tenant, name=f"ТСД-{i}"))
    page = api.get("/api/v1/devices", tenant.accounting_key, query_string={"limit": 2}).json
    assert len(page["devices"]) == 2
    rest = api.get(
        "/api/v1/devices", tenant.accounting_key, query_string={"limit": 2, "after": page["next"]}
    ).json
    assert [d["id"] for d in page["devices"] + rest["devices"]] == [t.device_id for t in terminals]
    assert rest["next"] is None


def test_devices_bad_paging_is_422(api: Client, tenant: TenantKeys) -> None:
    assert_error(api.get("/api/v1/devices", tenant.accounting_key, query_string={"limit": 0}), 422)
    assert_error(
        api.get("/api/v1/devices", tenant.accounting_key, query_string={"after": "x"}),
        422,
        "invalid_cursor",
    )


def test_reroute_moves_a_queued_document_to_another_device(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    other = api.enroll(tenant, name="Склад-2")
    pushed = push_one(api, tenant, terminal, "RR-1")
    response = api.post(
        f"{LIST}/{pushed['id']}/reroute", tenant.accounting_key, {"target": {"pin": other.pin}}
    )
    assert response.status_code == 200, response.json
    assert api.inbox(terminal) == []
    assert [d["external_id"] for d in api.inbox(other)] == ["RR-1"]

"""The results feed (SPEC §8): completion order, paging, ack, never skipped, the payload."""

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from relay.api.results.schemas import ResultList
from relay.extensions import db
from relay.models import Result
from tests.helpers import Client, TenantKeys, Terminal, assert_error, doc

FEED = "/api/v1/results"
ACK = "/api/v1/results/ack"


@pytest.fixture
def terminal(api: Client, tenant: TenantKeys) -> Terminal:
    return api.enroll(tenant, name="Склад-1")


def push(api: Client, tenant: TenantKeys, terminal: Terminal, *external_ids: str) -> list[str]:
    """Push documents to the terminal; return their instance ids, in push order."""
    response = api.push(
        tenant,
        "purchase-receipt",
        [doc(e) for e in external_ids],
        target={"pin": terminal.pin},
    )
    return [d["instances"][0]["id"] for d in response.json["documents"]]


def finish(api: Client, terminal: Terminal, instance_id: str) -> str:
    """Claim and complete an instance; return its result id."""
    api.claim(terminal, instance_id)
    done = api.complete(terminal, instance_id, [{"line_id": "1", "qty": 10}])
    return str(done.json["result_id"])


def feed(api: Client, tenant: TenantKeys, **query: Any) -> dict[str, Any]:
    response = api.get(FEED, tenant.accounting_key, query_string=query)
    assert response.status_code == 200, response.json
    return dict(response.json)


def feed_ids(api: Client, tenant: TenantKeys, **query: Any) -> list[str]:
    return [r["id"] for r in feed(api, tenant, **query)["results"]]


def ack(api: Client, tenant: TenantKeys, ids: list[str]) -> dict[str, Any]:
    response = api.post(ACK, tenant.accounting_key, {"ids": ids})
    assert response.status_code == 200, response.json
    return dict(response.json)


# -- the feed ----------------------------------------------------------------------------------


def test_empty_feed(api: Client, tenant: TenantKeys) -> None:
    assert feed(api, tenant) == {"results": [], "next": None}


def test_the_feed_body_is_exactly_its_documented_schema(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    # The feed is sent as built, without the schema's dump: the two must not drift apart.
    for instance_id in push(api, tenant, terminal, "A", "B"):
        finish(api, terminal, instance_id)
    body = feed(api, tenant)
    assert len(body["results"]) == 2
    assert ResultList().dump(body) == body


def test_feed_is_in_completion_order_not_push_order(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    a, b, c = push(api, tenant, terminal, "A", "B", "C")
    rb = finish(api, terminal, b)
    rc = finish(api, terminal, c)
    ra = finish(api, terminal, a)
    assert feed_ids(api, tenant) == [rb, rc, ra]


def test_next_pages_through_one_reading(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    instances = push(api, tenant, terminal, *(f"R-{i}" for i in range(5)))
    expected = [finish(api, terminal, i) for i in instances]
    seen: list[str] = []
    query: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        page = feed(api, tenant, **query)
        assert len(page["results"]) <= 2
        seen += [r["id"] for r in page["results"]]
        pages += 1
        if page["next"] is None:
            break
        query["after"] = page["next"]
    assert seen == expected
    assert pages == 3


def test_a_result_stays_in_the_feed_until_acked(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    [instance] = push(api, tenant, terminal, "A")
    result_id = finish(api, terminal, instance)
    for _ in range(3):
        assert feed_ids(api, tenant) == [result_id]
    assert ack(api, tenant, [result_id]) == {"processed": [result_id], "already_processed": []}
    assert feed_ids(api, tenant) == []


def test_ack_twice_is_harmless_and_says_already_processed(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    a, b = push(api, tenant, terminal, "A", "B")
    ra, rb = finish(api, terminal, a), finish(api, terminal, b)
    assert ack(api, tenant, [ra]) == {"processed": [ra], "already_processed": []}
    assert ack(api, tenant, [ra]) == {"processed": [], "already_processed": [ra]}
    assert ack(api, tenant, [rb, ra]) == {"processed": [rb], "already_processed": [ra]}
    assert feed_ids(api, tenant) == []


def test_ack_repeating_an_id_in_one_request_counts_it_once(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    [a] = push(api, tenant, terminal, "A")
    ra = finish(api, terminal, a)
    assert ack(api, tenant, [ra, ra]) == {"processed": [ra], "already_processed": []}


def test_ack_of_an_unknown_id_acknowledges_nothing(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    a, b = push(api, tenant, terminal, "A", "B")
    ra, rb = finish(api, terminal, a), finish(api, terminal, b)
    unknown = str(uuid.uuid4())
    response = api.post(ACK, tenant.accounting_key, {"ids": [ra, unknown, rb]})
    error = assert_error(response, 404, "result_not_found")
    assert error["details"]["ids"] == [unknown]
    assert unknown in error["message"]
    # The valid ids of the same request were not acknowledged.
    assert feed_ids(api, tenant) == [ra, rb]
    assert api.get(f"{FEED}/{ra}", tenant.accounting_key).json["processed_at"] is None
    assert ack(api, tenant, [ra, rb]) == {"processed": [ra, rb], "already_processed": []}


@pytest.mark.parametrize(
    "body",
    [{"ids": []}, {"ids": ["not-a-uuid"]}, {"ids": "x"}, {}, {"ids": [1]}, {"ids": None}],
    ids=str,
)
def test_ack_with_a_bad_body_is_422(
    api: Client, tenant: TenantKeys, terminal: Terminal, body: dict[str, Any]
) -> None:
    [a] = push(api, tenant, terminal, "A")
    ra = finish(api, terminal, a)
    response = api.post(ACK, tenant.accounting_key, body)
    assert_error(response, 422)
    assert feed_ids(api, tenant) == [ra]


def test_acked_results_leave_the_feed_and_stay_readable(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    a, b = push(api, tenant, terminal, "A", "B")
    ra, rb = finish(api, terminal, a), finish(api, terminal, b)
    before = api.get(f"{FEED}/{ra}", tenant.accounting_key)
    assert before.status_code == 200
    assert before.json["processed_at"] is None
    ack(api, tenant, [ra])
    assert feed_ids(api, tenant) == [rb]
    after = api.get(f"{FEED}/{ra}", tenant.accounting_key)
    assert after.status_code == 200
    assert after.json["processed_at"]
    assert after.json["id"] == ra
    assert after.json["lines"] == before.json["lines"]
    # The document and its instance moved on to processed.
    document_id = after.json["document_id"]
    document = api.get(f"/api/v1/documents/{document_id}", tenant.accounting_key).json
    assert document["state"] == "processed"
    assert document["instances"][0]["state"] == "processed"


def test_unknown_result_is_404(api: Client, tenant: TenantKeys) -> None:
    missing = str(uuid.uuid4())
    assert_error(api.get(f"{FEED}/{missing}", tenant.accounting_key), 404, "result_not_found")
    assert_error(api.get(f"{FEED}/nope", tenant.accounting_key), 404, "not_found")


def test_ack_is_not_taken_for_a_result_id(api: Client, tenant: TenantKeys) -> None:
    """GET /results/ack is 405, and OPTIONS advertises only what /results/ack does."""
    got = api.get(ACK, tenant.accounting_key)
    assert_error(got, 405, "method_not_allowed")
    assert set(got.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    options = api.call("OPTIONS", ACK, tenant.accounting_key)
    assert set(options.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    spec = api.get("/api/v1/openapi.json").json
    assert set(spec["paths"]["/api/v1/results/ack"]) == {"post"}
    assert spec["paths"]["/api/v1/results/{result_id}"]["parameters"][0]["schema"] == {
        "type": "string",
        "format": "uuid",
    }


def test_feed_bad_paging_is_422(api: Client, tenant: TenantKeys) -> None:
    for limit in (0, 501, -5):
        error = assert_error(
            api.get(FEED, tenant.accounting_key, query_string={"limit": limit}), 422
        )
        assert "limit" in error["details"]["fields"]
    for cursor in ("garbage", "WzFd", "eyJ4IjoxfQ", "!!"):
        response = api.get(FEED, tenant.accounting_key, query_string={"after": cursor})
        assert_error(response, 422, "invalid_cursor")


# -- never skipped -----------------------------------------------------------------------------


def move_completed_at(app_ctx: Flask, result_id: str, before: str) -> None:
    """Simulate a late commit: give ``result_id`` a completion time earlier than ``before``'s."""
    earlier = db.session.scalars(
        select(Result.completed_at).where(Result.id == uuid.UUID(before))
    ).one() - timedelta(seconds=1)
    db.session.execute(
        update(Result).where(Result.id == uuid.UUID(result_id)).values(completed_at=earlier)
    )
    db.session.commit()


def test_a_late_commit_is_found_on_the_next_poll(
    api: Client, tenant: TenantKeys, terminal: Terminal, app_ctx: Flask
) -> None:
    late, y1, y2 = push(api, tenant, terminal, "LATE", "Y1", "Y2")
    r1, r2 = finish(api, terminal, y1), finish(api, terminal, y2)
    # Accounting reads the feed page by page, past both results, and acknowledges them.
    page = feed(api, tenant, limit=1)
    assert [r["id"] for r in page["results"]] == [r1]
    cursor = page["next"]
    page = feed(api, tenant, limit=1, after=cursor)
    assert [r["id"] for r in page["results"]] == [r2]
    assert page["next"] is None
    ack(api, tenant, [r1, r2])
    # Meanwhile a completion whose time is earlier than both commits late.
    r_late = finish(api, terminal, late)
    move_completed_at(app_ctx, r_late, before=r1)
    # Paging on from the old cursor does not see it (after only pages) ...
    assert feed_ids(api, tenant, after=cursor) == []
    # ... but the next poll from the start does.
    assert feed_ids(api, tenant) == [r_late]


def test_a_late_commit_comes_first_in_the_next_reading(
    api: Client, tenant: TenantKeys, terminal: Terminal, app_ctx: Flask
) -> None:
    a, b = push(api, tenant, terminal, "A", "B")
    ra, rb = finish(api, terminal, a), finish(api, terminal, b)
    page = feed(api, tenant, limit=1)
    assert [r["id"] for r in page["results"]] == [ra]
    # B's transaction "committed late": its completion time is earlier than A's.
    move_completed_at(app_ctx, rb, before=ra)
    # The rest of this reading misses it, but it is not lost: it was never acknowledged.
    assert feed_ids(api, tenant, after=page["next"]) == []
    ack(api, tenant, [ra])
    assert feed_ids(api, tenant) == [rb]


# -- the payload -------------------------------------------------------------------------------


def test_result_payload_from_a_device(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    [instance] = push(api, tenant, terminal, "ЗаказПоставщику-0000-000123")
    api.claim(terminal, instance)
    done = api.complete(
        terminal,
        instance,
        [
            {"line_id": "1", "qty": 6},
            {"line_id": "1", "qty": 3, "serial": "SN-42"},
            {"line_id": "2", "qty": 5, "lot": "L-7"},
        ],
        header={"comment": "2 boxes damaged"},
    )
    [result] = feed(api, tenant)["results"]
    assert result["id"] == done.json["result_id"]
    assert result["instance_id"] == instance
    assert result["external_id"] == "ЗаказПоставщику-0000-000123"
    assert result["number"] == "000123"
    assert result["business_process"] == "purchase-receipt"
    assert result["business_process_version"] == 1
    assert result["source_document_type"] == "Заказ поставщику"
    assert result["result_document_type"] == "Приобретение товаров и услуг"
    assert result["load_into_source_document"] is False
    assert result["on_load"] == {
        "create_new_document": True,
        "post_after_load": False,
        "write_after_load": "online_only",
        # online_only, resolved against the device's mode: offline.
        "write": False,
    }
    assert result["completed_at"]
    assert result["processed_at"] is None
    by = result["completed_by"]
    assert by["login"] is None
    assert by["device_id"] == terminal.device_id
    assert by["pin"] == terminal.pin
    assert by["device_name"] == "Склад-1"
    assert by["mode"] == "offline"
    assert result["header"] == {"comment": "2 boxes damaged"}
    first, second = result["lines"]
    assert first["line_id"] == "1"
    assert first["product_id"] == "p-001"
    assert first["declared_qty"] == 10
    assert first["actual_qty"] == 9
    # Two actual lines for one declared line stay apart.
    assert first["actual"] == [{"qty": 6}, {"qty": 3, "serial": "SN-42"}]
    assert second["declared_qty"] == 5
    assert second["actual_qty"] == 5
    assert second["actual"] == [{"qty": 5, "lot": "L-7"}]
    assert result["undeclared"] == []
    # The same payload by id.
    assert api.get(f"{FEED}/{result['id']}", tenant.accounting_key).json == result


def test_result_payload_names_the_operator(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    api.user(tenant, "ivan", name="Иван Петров")
    session = api.login(terminal, "ivan")
    pushed = api.push(tenant, "order-picking", [doc()], target={"users": ["ivan"]})
    instance = pushed.json["documents"][0]["instances"][0]["id"]
    api.claim(session, instance)
    api.complete(session, instance, [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}])
    [result] = feed(api, tenant)["results"]
    assert result["business_process"] == "order-picking"
    assert result["result_document_type"] == "Расходный ордер на товары"
    assert result["on_load"]["write_after_load"] == "always"
    by = result["completed_by"]
    assert by["login"] == "ivan"
    assert by["name"] == "Иван Петров"
    assert by["device_id"] == terminal.device_id
    assert by["pin"] == terminal.pin


def test_result_payload_keeps_undeclared_goods_apart(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    pushed = api.push(
        tenant,
        "price-check",
        [doc(lines=[{"line_id": "1", "product_id": "p-1", "price": 99}])],
        target={"pin": terminal.pin},
    )
    instance = pushed.json["documents"][0]["instances"][0]["id"]
    api.claim(terminal, instance)
    api.complete(
        terminal,
        instance,
        [
            {"line_id": "1", "qty": 1, "price_tag_ok": True},
            {"product_id": "p-9", "barcode": "4600000000009", "qty": 2},
        ],
    )
    [result] = feed(api, tenant)["results"]
    [line] = result["lines"]
    assert line.get("declared_qty") is None
    assert line["actual_qty"] == 1
    assert line["actual"] == [{"qty": 1, "price_tag_ok": True}]
    assert result["undeclared"] == [{"product_id": "p-9", "barcode": "4600000000009", "qty": 2}]


def test_decimal_quantities_survive_the_round_trip(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    lines = [{"line_id": "1", "product_id": "p-1", "unit": "кг", "declared_qty": Decimal("0.3")}]
    pushed = api.push(tenant, "purchase-receipt", [doc(lines=lines)], target={"pin": terminal.pin})
    instance = pushed.json["documents"][0]["instances"][0]["id"]
    api.claim(terminal, instance)
    api.complete(terminal, instance, [{"line_id": "1", "qty": 0.1}, {"line_id": "1", "qty": 0.2}])
    response = api.get(FEED, tenant.accounting_key)
    text = response.get_data(as_text=True)
    # 0.1 + 0.2 is exactly 0.3 here, not 0.30000000000000004.
    assert [str(line["actual_qty"]) for line in response.json["results"][0]["lines"]] == ["0.3"]
    assert "0.30000000000000004" not in text


def test_result_of_a_revoked_device_still_names_its_pin(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    [instance] = push(api, tenant, terminal, "A")
    finish(api, terminal, instance)
    api.post(f"/api/v1/admin/devices/{terminal.device_id}/revoke", tenant.admin_key)
    [result] = feed(api, tenant)["results"]
    assert result["completed_by"]["device_id"] == terminal.device_id
    assert result["completed_by"]["pin"] == terminal.pin


def test_online_device_results_are_also_in_the_feed(api: Client, tenant: TenantKeys) -> None:
    online = api.enroll(tenant, mode="online")
    [instance] = push(api, tenant, online, "A")
    result_id = finish(api, online, instance)
    [result] = feed(api, tenant)["results"]
    assert result["id"] == result_id
    assert result["completed_by"]["mode"] == "online"


def test_admin_key_may_pull_and_ack(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    [instance] = push(api, tenant, terminal, "A")
    result_id = finish(api, terminal, instance)
    response = api.get(FEED, tenant.admin_key)
    assert [r["id"] for r in response.json["results"]] == [result_id]
    response = api.post(ACK, tenant.admin_key, {"ids": [result_id]})
    assert response.json == {"processed": [result_id], "already_processed": []}


def test_collective_work_returns_one_merged_result(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    second = api.enroll(tenant, name="Склад-2")
    api.user(tenant, "anna")
    api.user(tenant, "boris")
    pushed = api.push(
        tenant,
        "stock-count",
        [doc(lines=[{"line_id": "1", "product_id": "p-1"}])],
        target={"users": ["anna", "boris"]},
    )
    instance = pushed.json["documents"][0]["instances"][0]["id"]
    anna, boris = api.login(terminal, "anna"), api.login(second, "boris")
    for who in (anna, boris):
        joined = api.post(f"/api/v1/terminal/documents/{instance}/join", who.bearer)
        assert joined.status_code == 200, joined.json
        who.claims[instance] = joined.json["claim_token"]
    api.complete(anna, instance, [{"line_id": "1", "qty": 2}], close=False)
    api.complete(boris, instance, [{"line_id": "1", "qty": 3}], close=True)
    [result] = feed(api, tenant)["results"]
    assert result["lines"][0]["actual_qty"] == 5


def test_price_check_result_carries_a_fractional_shelf_price(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    pushed = api.push(
        tenant,
        "price-check",
        [doc(lines=[{"line_id": "1", "product_id": "p-1"}])],
        target={"pin": terminal.pin},
    )
    instance = pushed.json["documents"][0]["instances"][0]["id"]
    api.claim(terminal, instance)
    api.complete(terminal, instance, [{"line_id": "1", "qty": 1, "shelf_price": 99.9}])
    [result] = feed(api, tenant)["results"]
    assert result["lines"][0]["actual"] == [{"qty": 1, "shelf_price": Decimal("99.9")}]

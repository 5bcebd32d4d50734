"""The accounting side's catalog API (SPEC §13, Appendix B): merge, delete, uploads, limits."""

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.helpers import Client, TenantKeys

ITEMS = "/api/v1/catalogs/products/items"
UPLOADS = "/api/v1/catalogs/products/uploads"


def product(n: int, **extra: Any) -> dict[str, Any]:
    """A product as 1C sends it, with a unit barcode and a box of 12."""
    return {
        "id": f"p-{n:03}",
        "name": f"Товар {n}",
        "unit": "шт",
        "article": f"ART-{n}",
        "barcodes": [
            {"barcode": f"46{n:011}"},
            {"barcode": f"146{n:011}", "unit": "кор", "factor": 12},
        ],
        **extra,
    }


def merge(api: Client, tenant: TenantKeys, items: list[dict[str, Any]], expect: int = 200) -> Any:
    response = api.put(ITEMS, tenant.accounting_key, {"items": items})
    assert response.status_code == expect, response.json
    return response.json


def open_upload(api: Client, tenant: TenantKeys, mode: str, packets: int) -> str:
    response = api.post(UPLOADS, tenant.accounting_key, {"mode": mode, "packets": packets})
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def packet(
    api: Client, tenant: TenantKeys, upload: str, n: int, items: list[Any], expect: int = 200
) -> Any:
    response = api.put(f"{UPLOADS}/{upload}/packets/{n}", tenant.accounting_key, {"items": items})
    assert response.status_code == expect, response.json
    return response.json


def commit(api: Client, tenant: TenantKeys, upload: str, expect: int = 200, **body: Any) -> Any:
    response = api.post(f"{UPLOADS}/{upload}/commit", tenant.accounting_key, body)
    assert response.status_code == expect, response.json
    return response.json


def items_of(api: Client, tenant: TenantKeys, since: int = 0) -> dict[str, Any]:
    response = api.get(f"{ITEMS}?since={since}", tenant.accounting_key)
    assert response.status_code == 200, response.json
    return dict(response.json)


# -- merge and delete ----------------------------------------------------------------------------


def test_merge_makes_a_version_and_the_appendix_b_answer(api: Client, tenant: TenantKeys) -> None:
    body = merge(api, tenant, [product(1)])
    assert body == {"catalog": "products", "version": 1, "upserted": 1, "changed": 1, "deleted": 0}
    shown = api.get("/api/v1/catalogs/products", tenant.accounting_key).json
    assert (shown["name"], shown["version"], shown["items"]) == ("products", 1, 1)
    listed = api.get("/api/v1/catalogs", tenant.accounting_key).json["catalogs"]
    assert [(c["name"], c["version"]) for c in listed] == [("products", 1)]
    item = items_of(api, tenant)["items"][0]
    assert item["id"] == "p-001"
    assert item["barcodes"][1] == {"barcode": "14600000000001", "unit": "кор", "factor": 12}


def test_merging_the_same_items_again_changes_nothing(api: Client, tenant: TenantKeys) -> None:
    merge(api, tenant, [product(1), product(2)])
    again = merge(api, tenant, [product(1), product(2)])
    assert again == {"catalog": "products", "version": 1, "upserted": 2, "changed": 0, "deleted": 0}
    changed = merge(api, tenant, [product(1), product(2, name="Товар два")])
    assert (changed["version"], changed["changed"]) == (2, 1)
    delta = items_of(api, tenant, since=1)
    assert [i["id"] for i in delta["items"]] == ["p-002"]


def test_decimals_stay_exact(api: Client, tenant: TenantKeys) -> None:
    response = api.put(
        "/api/v1/catalogs/stock/items",
        tenant.accounting_key,
        {"items": [{"id": "s-1", "product_id": "p-001", "warehouse_id": "w-1", "qty": 0.001}]},
    )
    assert response.status_code == 200, response.json
    read = api.get("/api/v1/catalogs/stock/items", tenant.accounting_key)
    assert b'"qty": 0.001' in read.data or b'"qty":0.001' in read.data


def test_delete_makes_tombstones(api: Client, tenant: TenantKeys) -> None:
    merge(api, tenant, [product(1), product(2)])
    response = api.post(
        "/api/v1/catalogs/products/delete", tenant.accounting_key, {"ids": ["p-001"]}
    )
    assert response.status_code == 200, response.json
    assert response.json == {
        "catalog": "products",
        "version": 2,
        "upserted": 0,
        "changed": 0,
        "deleted": 1,
    }
    again = api.post(
        "/api/v1/catalogs/products/delete", tenant.accounting_key, {"ids": ["p-001", "p-404"]}
    )
    assert (again.json["version"], again.json["deleted"]) == (2, 0)
    delta = items_of(api, tenant, since=1)
    assert (delta["items"], delta["deleted"], delta["version"]) == ([], ["p-001"], 2)
    assert [i["id"] for i in items_of(api, tenant)["items"]] == ["p-002"]
    assert api.get("/api/v1/catalogs/products", tenant.accounting_key).json["items"] == 1


def test_deleting_from_an_unknown_catalog_is_not_found(api: Client, tenant: TenantKeys) -> None:
    response = api.post("/api/v1/catalogs/nothing/delete", tenant.accounting_key, {"ids": ["x"]})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "catalog_not_found"


@pytest.mark.parametrize(
    ("catalog", "item", "field"),
    [
        ("products", {"id": "p-1", "unit": "шт"}, "name"),
        (
            "products",
            {"id": "p-1", "name": "x", "unit": "шт", "barcodes": [{"code": "1"}]},
            "barcodes",
        ),
        ("products", {"id": "p-1", "name": "x", "unit": "шт", "tags": ["a"]}, "tags"),
        ("products", {"name": "x", "unit": "шт"}, "id"),
        ("warehouses", {"id": "w-1"}, "name"),
        ("cells", {"id": "c-1", "name": "A-01"}, "warehouse_id"),
        ("stock", {"id": "s-1", "product_id": "p", "warehouse_id": "w", "qty": "many"}, "qty"),
        ("prices", {"id": "pr-1", "product_id": "p", "price": -1}, "price"),
        ("loyalty-cards", {"id": "c-1", "owner": {"name": "x"}}, "owner"),
    ],
)
def test_known_catalogs_are_validated(
    api: Client, tenant: TenantKeys, catalog: str, item: dict[str, Any], field: str
) -> None:
    good = {
        "id": "ok-1",
        "name": "x",
        "unit": "шт",
        "warehouse_id": "w",
        "product_id": "p",
        "qty": 1,
        "price": 1,
    }
    response = api.put(
        f"/api/v1/catalogs/{catalog}/items", tenant.accounting_key, {"items": [good, item]}
    )
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert field in error["details"]["items"]["1"]
    assert error["message"].startswith("Item 2")
    assert api.get("/api/v1/catalogs", tenant.accounting_key).json["catalogs"] == []


def test_free_catalogs_hold_scalar_fields(api: Client, tenant: TenantKeys) -> None:
    item = {"id": "c-1", "owner": "Иванов", "discount": Decimal("5.5"), "active": True, "x": None}
    response = api.put(
        "/api/v1/catalogs/loyalty-cards/items", tenant.accounting_key, {"items": [item]}
    )
    assert response.status_code == 200, response.json
    assert items_of_catalog(api, tenant, "loyalty-cards") == [item]


def items_of_catalog(api: Client, tenant: TenantKeys, name: str) -> list[dict[str, Any]]:
    return list(api.get(f"/api/v1/catalogs/{name}/items", tenant.accounting_key).json["items"])


def test_a_bad_catalog_name_is_refused(api: Client, tenant: TenantKeys) -> None:
    response = api.put("/api/v1/catalogs/Products!/items", tenant.accounting_key, {"items": []})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_catalog_name"
    assert api.get("/api/v1/catalogs/Products!", tenant.accounting_key).status_code == 404


def test_duplicate_ids_in_one_call_are_refused(api: Client, tenant: TenantKeys) -> None:
    body = merge(api, tenant, [product(1), product(1)], expect=422)
    assert body["error"]["code"] == "duplicate_ids"
    assert body["error"]["details"]["ids"] == ["p-001"]


def test_a_barcode_twice_in_one_product_is_refused(api: Client, tenant: TenantKeys) -> None:
    item = product(1)
    item["barcodes"].append({"barcode": "4600000000001"})
    body = merge(api, tenant, [item], expect=422)
    assert "listed twice" in body["error"]["message"]


@pytest.mark.parametrize(
    "factor", [Decimal("1E+15"), Decimal("0.0000001"), "1000000000", 0, "1e3", "12\n"]
)
def test_a_factor_the_barcode_index_cannot_hold_is_refused(
    api: Client, tenant: TenantKeys, factor: Any
) -> None:
    """Not rounded into the index, nor a numeric overflow (a 500) on PostgreSQL."""
    item = product(1)
    item["barcodes"][1]["factor"] = factor
    body = merge(api, tenant, [item], expect=422)
    assert "factor" in body["error"]["details"]["items"]["0"]["barcodes"]["1"]


def test_the_largest_factor_is_kept_exactly(api: Client, tenant: TenantKeys) -> None:
    item = product(1)
    item["barcodes"][1]["factor"] = Decimal("999999999.999999")
    merge(api, tenant, [item])
    found = api.get("/api/v1/terminal/barcodes/14600000000001", api.enroll(tenant).token).json
    assert found["factor"] == Decimal("999999999.999999")


def test_limits_are_refused_with_clear_errors(app: Flask, api: Client, tenant: TenantKeys) -> None:
    app.config["CATALOG_PACKET_MAX_ITEMS"] = 3
    app.config["CATALOG_ITEM_MAX_BYTES"] = 300
    try:
        body = merge(api, tenant, [product(n) for n in range(4)], expect=422)
        assert body["error"]["code"] == "too_many_items"
        assert body["error"]["details"] == {"limit": 3, "items": 4}
        body = merge(api, tenant, [product(1, note="x" * 400)], expect=422)
        assert "bytes" in body["error"]["message"]
        response = api.post(UPLOADS, tenant.accounting_key, {"mode": "merge", "packets": 1001})
        assert response.status_code == 422
        assert response.json["error"]["code"] == "too_many_packets"
    finally:
        app.config["CATALOG_PACKET_MAX_ITEMS"] = 5000
        app.config["CATALOG_ITEM_MAX_BYTES"] = 16384


def test_a_body_over_the_limit_is_413(app: Flask, api: Client, tenant: TenantKeys) -> None:
    response = api.put(
        ITEMS,
        tenant.accounting_key,
        {"items": [product(1, note="x" * 200)] * (app.config["MAX_CONTENT_LENGTH"] // 200)},
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "body_too_large"


def test_terminals_and_other_tenants_cannot_write(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    assert api.put(ITEMS, terminal.token, {"items": [product(1)]}).status_code == 403
    assert api.put(ITEMS, None, {"items": [product(1)]}).status_code == 401
    merge(api, tenant, [product(1)])
    assert api.get("/api/v1/catalogs/products", other_tenant.accounting_key).status_code == 404
    assert api.put(ITEMS, tenant.admin_key, {"items": [product(2)]}).status_code == 200


# -- uploads in packets --------------------------------------------------------------------------


def test_an_upload_applies_only_at_its_commit(api: Client, tenant: TenantKeys) -> None:
    upload = open_upload(api, tenant, "merge", 2)
    assert packet(api, tenant, upload, 1, [product(1), product(2)]) == {"packet": 1, "items": 2}
    assert api.get("/api/v1/catalogs/products", tenant.accounting_key).status_code == 404
    status = api.get(f"{UPLOADS}/{upload}", tenant.accounting_key).json
    assert (status["state"], status["received"], status["missing"]) == ("open", [1], [2])
    packet(api, tenant, upload, 2, [product(3)])
    done = commit(api, tenant, upload)
    assert done == {"catalog": "products", "version": 1, "upserted": 3, "changed": 3, "deleted": 0}
    assert commit(api, tenant, upload) == done
    status = api.get(f"{UPLOADS}/{upload}", tenant.accounting_key).json
    assert (status["state"], status["outcome"]["version"]) == ("committed", 1)
    sent = packet(api, tenant, upload, 1, [product(1)], expect=409)
    assert sent["error"]["code"] == "upload_committed"


def test_packets_are_idempotent_and_cannot_change(api: Client, tenant: TenantKeys) -> None:
    upload = open_upload(api, tenant, "merge", 1)
    packet(api, tenant, upload, 1, [product(1)])
    assert packet(api, tenant, upload, 1, [product(1)]) == {"packet": 1, "items": 1}
    body = packet(api, tenant, upload, 1, [product(2)], expect=409)
    assert body["error"]["code"] == "packet_conflict"
    body = packet(api, tenant, upload, 2, [product(2)], expect=422)
    assert body["error"]["code"] == "packet_out_of_range"


def test_a_commit_names_the_missing_packets(api: Client, tenant: TenantKeys) -> None:
    upload = open_upload(api, tenant, "merge", 3)
    packet(api, tenant, upload, 1, [product(1)])
    body = commit(api, tenant, upload, expect=409)
    assert body["error"]["code"] == "packets_missing"
    assert body["error"]["details"] == {"missing": [2, 3]}


def test_an_id_in_two_packets_is_refused(api: Client, tenant: TenantKeys) -> None:
    upload = open_upload(api, tenant, "merge", 2)
    packet(api, tenant, upload, 1, [product(1)])
    packet(api, tenant, upload, 2, [product(1, name="again")])
    body = commit(api, tenant, upload, expect=422)
    assert body["error"]["code"] == "duplicate_ids"


def test_a_mirror_deleting_much_needs_confirmation(api: Client, tenant: TenantKeys) -> None:
    merge(api, tenant, [product(n) for n in range(1, 11)])
    upload = open_upload(api, tenant, "mirror", 1)
    packet(api, tenant, upload, 1, [product(n) for n in range(1, 6)])
    body = commit(api, tenant, upload, expect=409)
    assert body["error"]["code"] == "deletions_need_confirmation"
    assert body["error"]["details"] == {
        "deletions": 5,
        "items": 10,
        "sample": ["p-006", "p-007", "p-008", "p-009", "p-010"],
    }
    assert api.get("/api/v1/catalogs/products", tenant.accounting_key).json["version"] == 1
    done = commit(api, tenant, upload, confirm_deletions=True)
    assert (done["version"], done["changed"], done["deleted"]) == (2, 0, 5)
    assert [i["id"] for i in items_of(api, tenant)["items"]] == [f"p-{n:03}" for n in range(1, 6)]


def test_a_mirror_deleting_little_needs_no_confirmation(api: Client, tenant: TenantKeys) -> None:
    merge(api, tenant, [product(n) for n in range(1, 21)])
    upload = open_upload(api, tenant, "mirror", 1)
    packet(api, tenant, upload, 1, [product(n) for n in range(1, 20)] + [product(30)])
    done = commit(api, tenant, upload)
    assert (done["changed"], done["deleted"]) == (1, 1)
    assert api.get("/api/v1/catalogs/products", tenant.accounting_key).json["items"] == 20


def test_an_expired_upload_is_refused(app: Flask, api: Client, tenant: TenantKeys) -> None:
    app.config["CATALOG_UPLOAD_TTL_SECONDS"] = -1
    try:
        upload = open_upload(api, tenant, "merge", 1)
    finally:
        app.config["CATALOG_UPLOAD_TTL_SECONDS"] = 86400
    body = packet(api, tenant, upload, 1, [product(1)], expect=409)
    assert body["error"]["code"] == "upload_expired"
    assert commit(api, tenant, upload, expect=409)["error"]["code"] == "upload_expired"
    assert api.get(f"{UPLOADS}/{upload}", tenant.accounting_key).json["state"] == "expired"


def test_an_unknown_upload_is_not_found(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    upload = open_upload(api, tenant, "merge", 1)
    for path, key in [
        (f"{UPLOADS}/nonsense", tenant.accounting_key),
        (f"{UPLOADS}/{upload}", other_tenant.accounting_key),
        (f"/api/v1/catalogs/prices/uploads/{upload}", tenant.accounting_key),
    ]:
        response = api.get(path, key)
        assert response.status_code == 404
        assert response.json["error"]["code"] == "upload_not_found"


def test_a_bad_upload_body_is_422(api: Client, tenant: TenantKeys) -> None:
    response = api.post(UPLOADS, tenant.accounting_key, {"mode": "replace", "packets": 0})
    assert response.status_code == 422
    assert set(response.json["error"]["details"]["fields"]) == {"mode", "packets"}

"""What terminals read (SPEC §13, Appendix B): catalog versions, deltas by cursor, barcodes."""

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from relay.timeutil import utcnow
from relay.worker import Worker
from tests.api.test_catalogs import merge, product
from tests.helpers import Client, TenantKeys, Terminal

CATALOGS = "/api/v1/terminal/catalogs"
PRODUCTS = "/api/v1/terminal/catalogs/products"


@pytest.fixture
def terminal(api: Client, tenant: TenantKeys) -> Terminal:
    return api.enroll(tenant)


def delta(api: Client, terminal: Terminal, query: str = "", expect: int = 200) -> Any:
    response = api.get(f"{PRODUCTS}?{query}", terminal.bearer)
    assert response.status_code == expect, response.json
    return response.json


def sync(
    api: Client, terminal: Terminal, since: int, limit: int
) -> tuple[list[Any], list[str], int, int]:
    """Follow ``next`` to the end; return the items, deleted ids, version and pages read."""
    items: list[Any] = []
    deleted: list[str] = []
    after = ""
    pages = 0
    while True:
        body = delta(api, terminal, f"since={since}&limit={limit}&after={after}")
        pages += 1
        items += body["items"]
        deleted += body["deleted"]
        if body["next"] is None:
            return items, deleted, body["version"], pages
        after = body["next"]


def test_the_list_of_catalogs_with_versions_and_etag(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    empty = api.get(CATALOGS, terminal.token)
    assert empty.status_code == 200
    assert empty.json == {"catalogs": []}
    merge(api, tenant, [product(1), product(2)])
    listed = api.get(CATALOGS, terminal.token)
    assert [(c["name"], c["version"], c["items"]) for c in listed.json["catalogs"]] == [
        ("products", 1, 2)
    ]
    tag = listed.headers["ETag"]
    assert api.get(CATALOGS, terminal.token, headers={"If-None-Match": tag}).status_code == 304
    merge(api, tenant, [product(3)])
    assert api.get(CATALOGS, terminal.token, headers={"If-None-Match": tag}).status_code == 200


def test_a_full_load_pages_by_cursor(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    merge(api, tenant, [product(n) for n in range(1, 8)])
    merge(api, tenant, [product(n, name="new") for n in range(3, 5)])
    items, deleted, version, pages = sync(api, terminal, since=0, limit=3)
    assert sorted(i["id"] for i in items) == [f"p-{n:03}" for n in range(1, 8)]
    assert (deleted, version, pages) == ([], 2, 3)


def test_a_delta_holds_only_the_changes_with_tombstones(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    merge(api, tenant, [product(n) for n in range(1, 11)])
    merge(api, tenant, [product(5, name="Молоко 2,5%")])
    api.post("/api/v1/catalogs/products/delete", tenant.accounting_key, {"ids": ["p-007"]})
    body = delta(api, terminal, "since=1")
    assert body["version"] == 3
    assert [(i["id"], i["name"]) for i in body["items"]] == [("p-005", "Молоко 2,5%")]
    assert (body["deleted"], body["next"]) == (["p-007"], None)
    assert delta(api, terminal, "since=3")["items"] == []


def test_pages_stay_at_the_version_of_the_first_page(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    merge(api, tenant, [product(n) for n in range(1, 5)])
    first = delta(api, terminal, "since=0&limit=2")
    merge(api, tenant, [product(9)])
    second = delta(api, terminal, f"since=0&limit=2&after={first['next']}")
    assert second["version"] == first["version"] == 1
    assert [i["id"] for i in first["items"] + second["items"]] == [
        "p-001",
        "p-002",
        "p-003",
        "p-004",
    ]
    assert second["next"] is None
    assert [i["id"] for i in delta(api, terminal, "since=1")["items"]] == ["p-009"]


def test_an_unchanged_page_is_304(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    merge(api, tenant, [product(1)])
    response = api.get(f"{PRODUCTS}?since=1", terminal.token)
    tag = response.headers["ETag"]
    again = api.get(f"{PRODUCTS}?since=1", terminal.token, headers={"If-None-Match": tag})
    assert again.status_code == 304
    merge(api, tenant, [product(2)])
    changed = api.get(f"{PRODUCTS}?since=1", terminal.token, headers={"If-None-Match": tag})
    assert changed.status_code == 200
    assert [i["id"] for i in changed.json["items"]] == ["p-002"]


def test_purged_tombstones_make_older_versions_resync(
    app: Flask, api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    merge(api, tenant, [product(1), product(2), product(3)])
    api.post("/api/v1/catalogs/products/delete", tenant.accounting_key, {"ids": ["p-001"]})
    merge(api, tenant, [product(4)])
    app.config["CATALOG_TOMBSTONE_TTL_SECONDS"] = 0
    try:
        with app.app_context():
            Worker(app, "test").maintain_catalogs()
    finally:
        app.config["CATALOG_TOMBSTONE_TTL_SECONDS"] = 30 * 24 * 3600
    body = delta(api, terminal, "since=1", expect=410)
    assert body["error"]["code"] == "resync_required"
    assert body["error"]["details"] == {"since": 1, "purged_through": 2}
    assert [i["id"] for i in delta(api, terminal, "since=2")["items"]] == ["p-004"]
    assert len(delta(api, terminal, "since=0")["items"]) == 3


def test_a_version_from_the_future_must_resync(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    merge(api, tenant, [product(1)])
    body = delta(api, terminal, "since=5", expect=410)
    assert body["error"]["code"] == "resync_required"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("after=bm9uc2Vuc2U", "invalid_cursor"),
        ("after=!!", "invalid_cursor"),
        ("limit=0", "validation_failed"),
        ("limit=5001", "validation_failed"),
        ("since=-1", "validation_failed"),
        ("since=x", "validation_failed"),
        ("sinse=1", "validation_failed"),
    ],
)
def test_bad_queries_are_422(
    api: Client, tenant: TenantKeys, terminal: Terminal, query: str, code: str
) -> None:
    merge(api, tenant, [product(1)])
    assert delta(api, terminal, query, expect=422)["error"]["code"] == code


def test_an_unknown_catalog_is_404(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    for name in ("prices", "Prices!"):
        body = api.get(f"/api/v1/terminal/catalogs/{name}", terminal.token).json
        assert body["error"]["code"] == "catalog_not_found"


def test_barcodes_resolve_to_the_packaging(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    merge(api, tenant, [product(1)])
    box = api.get("/api/v1/terminal/barcodes/14600000000001", terminal.token)
    assert box.status_code == 200, box.json
    assert (box.json["type"], box.json["factor"], box.json["unit"]) == ("product", 12, "кор")
    assert box.json["item"]["id"] == "p-001"
    assert box.json["item"]["name"] == "Товар 1"
    unit = api.get("/api/v1/terminal/barcodes/4600000000001", terminal.token).json
    assert (unit["factor"], unit["unit"]) == (1, "шт")


def test_barcodes_follow_changes_and_deletions(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    merge(api, tenant, [product(1)])
    changed = product(1)
    changed["barcodes"] = [{"barcode": "2000000000015", "factor": 0.5}]
    merge(api, tenant, [changed])
    gone = api.get("/api/v1/terminal/barcodes/4600000000001", terminal.token)
    assert gone.status_code == 404
    assert gone.json["error"]["code"] == "barcode_not_found"
    assert api.get("/api/v1/terminal/barcodes/2000000000015", terminal.token).json["factor"] == 0.5
    api.post("/api/v1/catalogs/products/delete", tenant.accounting_key, {"ids": ["p-001"]})
    assert api.get("/api/v1/terminal/barcodes/2000000000015", terminal.token).status_code == 404


def test_cells_resolve_too(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    cell = {"id": "c-1", "warehouse_id": "w-1", "name": "A-01-02", "barcode": "CELL-A0102"}
    response = api.put("/api/v1/catalogs/cells/items", tenant.accounting_key, {"items": [cell]})
    assert response.status_code == 200, response.json
    body = api.get("/api/v1/terminal/barcodes/CELL-A0102", terminal.token).json
    assert (body["type"], body["item"]) == ("cell", cell)


def test_sessions_read_catalogs_and_accounting_keys_do_not(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys, terminal: Terminal
) -> None:
    api.user(tenant, "ivanov")
    session = api.login(terminal, "ivanov")
    merge(api, tenant, [product(1)])
    assert api.get(PRODUCTS, session.bearer).status_code == 200
    assert api.get("/api/v1/terminal/barcodes/4600000000001", session.bearer).status_code == 200
    assert api.get(PRODUCTS, tenant.accounting_key).status_code == 403
    stranger = api.enroll(other_tenant)
    assert api.get(PRODUCTS, stranger.token).status_code == 404
    assert api.get("/api/v1/terminal/barcodes/4600000000001", stranger.token).status_code == 404
    assert api.get(CATALOGS, stranger.token).json == {"catalogs": []}


def test_the_worker_drops_expired_uploads(app: Flask, api: Client, tenant: TenantKeys) -> None:
    app.config["CATALOG_UPLOAD_TTL_SECONDS"] = -1
    try:
        response = api.post(
            "/api/v1/catalogs/products/uploads",
            tenant.accounting_key,
            {"mode": "merge", "packets": 1},
        )
    finally:
        app.config["CATALOG_UPLOAD_TTL_SECONDS"] = 86400
    upload = response.json["id"]
    with app.app_context():
        Worker(app, "test").maintain_catalogs()
    gone = api.get(f"/api/v1/catalogs/products/uploads/{upload}", tenant.accounting_key)
    assert gone.status_code == 404


def test_the_worker_purges_only_old_tombstones(app: Flask, api: Client, tenant: TenantKeys) -> None:
    from relay.catalogs import maintenance

    merge(api, tenant, [product(1), product(2)])
    api.post("/api/v1/catalogs/products/delete", tenant.accounting_key, {"ids": ["p-001"]})
    with app.app_context():
        assert maintenance.purge_tombstones(utcnow() - timedelta(hours=1), utcnow()) == 0
        assert maintenance.purge_tombstones(utcnow() + timedelta(seconds=1), utcnow()) == 1

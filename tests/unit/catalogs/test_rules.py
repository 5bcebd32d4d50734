"""The delta and mirror rules, on the domain functions with a real database and no HTTP."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from relay.catalogs import changes, deltas, maintenance, uploads
from relay.catalogs.config import Settings
from relay.catalogs.deltas import Cursor
from relay.db import transaction
from relay.errors import Conflict, Gone, Invalid
from relay.extensions import db
from relay.models import CatalogBarcode, CatalogItem
from relay.timeutil import utcnow
from tests.helpers import TenantKeys

SETTINGS = Settings()


@pytest.mark.parametrize(
    ("deletions", "live", "needed"),
    [
        (0, 0, False),
        (0, 1000, False),
        (1, 10, False),
        (2, 10, True),  # 20 % of the catalog
        (100, 10_000, False),  # 1 %, and not above 100 items
        (101, 100_000, True),  # above 100 items
        (5, 10, True),  # half
    ],
)
def test_when_a_mirror_needs_confirmation(deletions: int, live: int, needed: bool) -> None:
    assert changes.needs_confirmation(deletions, live, SETTINGS) is needed


def test_the_threshold_is_configurable() -> None:
    lax = Settings(confirm_fraction=0.5, confirm_count=1000)
    assert not changes.needs_confirmation(5, 10, lax)
    assert changes.needs_confirmation(6, 10, lax)


def test_a_cursor_round_trips_and_forgeries_are_refused() -> None:
    cursor = Cursor(9, 7, "p-001")
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ["", "e30", "WzEsMiwzXQ", "W10", "WyJhIiwxLCJ4Il0"]:
        with pytest.raises(Invalid):
            Cursor.decode(bad)


@pytest.fixture
def tenant_id(app_ctx: Flask, tenant: TenantKeys) -> int:
    return tenant.id


def merge(tenant_id: int, items: list[dict[str, Any]], name: str = "prices") -> changes.Applied:
    with transaction():
        return changes.merge(tenant_id, name, items, SETTINGS, utcnow())


def price(n: int, value: int = 100) -> dict[str, Any]:
    return {"id": f"pr-{n}", "product_id": f"p-{n}", "price": value}


def read(tenant_id: int, since: int, limit: int = 1000) -> deltas.Page:
    return deltas.page(changes.find(tenant_id, "prices"), since, None, limit)


def test_only_changed_items_take_the_new_version(tenant_id: int) -> None:
    assert merge(tenant_id, [price(1), price(2), price(3)]).version == 1
    applied = merge(tenant_id, [price(1), price(2, 150), price(3)])
    assert (applied.version, applied.upserted, applied.changed) == (2, 3, 1)
    page = read(tenant_id, since=1)
    assert [(i["id"], i["price"]) for i in page.items] == [("pr-2", 150)]


def test_a_call_that_changes_nothing_makes_no_version(tenant_id: int) -> None:
    merge(tenant_id, [price(1)])
    assert merge(tenant_id, [price(1)]).version == 1
    with transaction():
        assert changes.remove(tenant_id, "prices", ["pr-9"], SETTINGS, utcnow()).version == 1


def test_a_deleted_item_comes_back_as_new(tenant_id: int) -> None:
    merge(tenant_id, [price(1), price(2)])
    with transaction():
        changes.remove(tenant_id, "prices", ["pr-1"], SETTINGS, utcnow())
    assert read(tenant_id, since=1).deleted == ["pr-1"]
    merge(tenant_id, [price(1)])
    page = read(tenant_id, since=2)
    assert ([i["id"] for i in page.items], page.deleted) == (["pr-1"], [])
    assert changes.find(tenant_id, "prices").items == 2


def test_a_full_load_leaves_tombstones_out(tenant_id: int) -> None:
    merge(tenant_id, [price(1), price(2)])
    with transaction():
        changes.remove(tenant_id, "prices", ["pr-1"], SETTINGS, utcnow())
    page = read(tenant_id, since=0)
    assert ([i["id"] for i in page.items], page.deleted, page.version) == (["pr-2"], [], 2)


def test_pages_follow_version_then_id(tenant_id: int) -> None:
    merge(tenant_id, [price(3), price(1)])
    merge(tenant_id, [price(2)])
    merge(tenant_id, [price(1, 5)])
    catalog = changes.find(tenant_id, "prices")
    seen = []
    after = None
    while True:
        page = deltas.page(catalog, 0, after, 1)
        seen += [i["id"] for i in page.items]
        if page.next is None:
            break
        after = page.next
    assert seen == ["pr-3", "pr-2", "pr-1"]


def test_since_beyond_the_version_or_before_a_purge_is_gone(tenant_id: int) -> None:
    merge(tenant_id, [price(1), price(2)])
    with pytest.raises(Gone):
        read(tenant_id, since=2)
    with transaction():
        changes.remove(tenant_id, "prices", ["pr-1"], SETTINGS, utcnow())
    merge(tenant_id, [price(3)])
    assert maintenance.purge_tombstones(utcnow() + timedelta(seconds=1), utcnow()) == 1
    with pytest.raises(Gone) as caught:
        read(tenant_id, since=1)
    assert caught.value.code == "resync_required"
    assert [i["id"] for i in read(tenant_id, since=2).items] == ["pr-3"]


def mirror(tenant_id: int, packets: list[list[dict[str, Any]]], confirm: bool = False) -> Any:
    now = utcnow()
    with transaction():
        upload = uploads.open_upload(tenant_id, "prices", "mirror", len(packets), SETTINGS, now)
        for n, items in enumerate(packets, 1):
            uploads.put_packet(tenant_id, "prices", upload.id, n, items, SETTINGS, now)
    with transaction():
        return uploads.commit(tenant_id, "prices", upload.id, confirm, SETTINGS, now)


def test_a_mirror_makes_the_catalog_exactly_the_upload(tenant_id: int) -> None:
    merge(tenant_id, [price(n) for n in range(1, 21)])
    outcome = mirror(
        tenant_id,
        [[price(n) for n in range(2, 11)], [price(n) for n in range(11, 21)], [price(30)]],
    )
    assert (outcome["changed"], outcome["deleted"]) == (1, 1)
    page = read(tenant_id, since=1)
    assert ([i["id"] for i in page.items], page.deleted) == (["pr-30"], ["pr-1"])


def test_a_refused_mirror_changes_nothing(tenant_id: int) -> None:
    merge(tenant_id, [price(n) for n in range(1, 11)])
    with pytest.raises(Conflict) as caught:
        mirror(tenant_id, [[price(1, 999)]])
    assert caught.value.code == "deletions_need_confirmation"
    assert caught.value.details["deletions"] == 9
    catalog = changes.find(tenant_id, "prices")
    assert (catalog.version, catalog.items) == (1, 10)
    assert read(tenant_id, since=0).items[0]["price"] == 100


def test_a_mirror_into_a_new_catalog_needs_no_confirmation(tenant_id: int) -> None:
    assert mirror(tenant_id, [[price(1)]])["version"] == 1


def test_rows_written_in_bulk_read_back_as_the_orm_writes_them(tenant_id: int) -> None:
    # The commit writes items and barcodes through the driver (COPY on PostgreSQL,
    # executemany on SQLite), converting each value itself: they must read back exact.
    now = utcnow()
    product = {
        "id": "p-1",
        "name": "Сыр весовой",
        "unit": "кг",
        "weight": Decimal("0.250"),
        "barcodes": [
            {"barcode": "2000000000015"},
            {"barcode": "2000000000022", "unit": "кор", "factor": 12},
            {"barcode": "2000000000039", "unit": "уп", "factor": "0.25"},
        ],
    }
    with transaction():
        changes.merge(tenant_id, "products", [product], SETTINGS, now)
    item = db.session.get(CatalogItem, (tenant_id, "products", "p-1"))
    assert item is not None
    assert (item.version, item.deleted, item.deleted_at, item.updated_at) == (1, False, None, now)
    assert item.data is not None
    assert (item.data["name"], str(item.data["weight"])) == ("Сыр весовой", "0.250")
    rows = db.session.scalars(
        select(CatalogBarcode)
        .where(CatalogBarcode.tenant_id == tenant_id)
        .order_by(CatalogBarcode.barcode)
    ).all()
    assert [(r.barcode, r.kind, r.item_id, r.unit, r.factor) for r in rows] == [
        ("2000000000015", "product", "p-1", None, None),
        ("2000000000022", "product", "p-1", "кор", Decimal("12")),
        ("2000000000039", "product", "p-1", "уп", Decimal("0.25")),
    ]
    db.session.expunge_all()
    # What was written compares equal to the same item sent again: no new version.
    with transaction():
        assert changes.merge(tenant_id, "products", [product], SETTINGS, utcnow()).changed == 0


def test_text_that_copy_escapes_reads_back_unchanged(tenant_id: int) -> None:
    # COPY's text format gives tab, newline and backslash a meaning of their own.
    awkward = "p\t1\\N\n\"'ё"
    product = {
        "id": awkward,
        "name": "a\\tb\r\nc",
        "unit": "\\",
        "barcodes": [{"barcode": "20\t00", "unit": "\\N", "factor": 2}],
    }
    with transaction():
        changes.merge(tenant_id, "products", [product], SETTINGS, utcnow())
    page = deltas.page(changes.find(tenant_id, "products"), 0, None, 10)
    assert page.items == [
        {
            "id": awkward,
            "name": "a\\tb\r\nc",
            "unit": "\\",
            "barcodes": [{"barcode": "20\t00", "unit": "\\N", "factor": 2}],
        }
    ]
    found = db.session.scalars(select(CatalogBarcode).where(CatalogBarcode.item_id == awkward))
    assert [(b.barcode, b.unit) for b in found] == [("20\t00", "\\N")]

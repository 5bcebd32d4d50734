"""What the admin console shows of catalogs: each catalog's figures, its items a page at a time,
one item with its barcodes, and what a barcode names.

Every query is bounded whatever a catalog holds (10⁶ items and more):

- the list of catalogs reads the ``catalogs`` rows, whose ``items`` column is the live count kept
  by every change; tombstones are counted from the partial index of tombstones
  (``ix_catalog_items_tombstones``), so that count costs what the tombstones are (the worker
  purges them after ``CATALOG_TOMBSTONE_TTL_SECONDS``), never the catalog's size;
- a page of items is an index range of the primary key ``(tenant_id, catalog, id)`` from the
  cursor on, ``limit + 1`` rows;
- an id search is one probe of that key; a name search reads names in id order, at most
  ``SCAN_ROWS`` rows per page view, and its cursor says where to read on (so a name found
  nowhere costs ``SCAN_ROWS`` rows a page, not the catalog);
- an item's barcodes come from ``ix_catalog_barcodes_item``, a barcode's items from the
  barcodes' primary key ``(tenant_id, barcode, …)``.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select

from relay.catalogs.barcodes import carrying
from relay.catalogs.changes import find
from relay.extensions import db
from relay.models import Catalog, CatalogBarcode, CatalogItem, CatalogPacket, CatalogUpload

# A name search reads at most this many items per page view.
SCAN_ROWS = 20_000
# Rows read per query while a name search scans.
SCAN_BATCH = 2_000
# Products before cells when one code names both, as the terminals' barcode lookup has it.
_KIND_ORDER = {"product": 0, "cell": 1}


@dataclass(frozen=True)
class OpenUpload:
    """An upload in packets not committed yet: how many of its packets arrived."""

    id: str
    mode: str
    packets: int
    received: int
    created_at: datetime
    expires_at: datetime


@dataclass
class Summary:
    """One catalog as the console lists it."""

    name: str
    version: int
    items: int
    tombstones: int
    updated_at: datetime
    purged_through: int
    uploads: list[OpenUpload] = field(default_factory=list)


def summaries(tenant_id: int, now: datetime) -> list[Summary]:
    """The tenant's catalogs by name, with tombstone counts and the uploads still open."""
    catalogs = db.session.scalars(
        select(Catalog).where(Catalog.tenant_id == tenant_id).order_by(Catalog.name)
    ).all()
    tombstones = dict(
        db.session.execute(
            select(CatalogItem.catalog, func.count())
            .where(CatalogItem.tenant_id == tenant_id, CatalogItem.deleted)
            .group_by(CatalogItem.catalog)
        ).all()
    )
    uploads = db.session.execute(
        select(CatalogUpload, func.count(CatalogPacket.number))
        .outerjoin(
            CatalogPacket,
            and_(
                CatalogPacket.tenant_id == CatalogUpload.tenant_id,
                CatalogPacket.upload_id == CatalogUpload.id,
            ),
        )
        .where(
            CatalogUpload.tenant_id == tenant_id,
            CatalogUpload.state == "open",
            CatalogUpload.expires_at > now,
        )
        .group_by(CatalogUpload.tenant_id, CatalogUpload.id)
        .order_by(CatalogUpload.created_at)
    )
    open_by_catalog: dict[str, list[OpenUpload]] = {}
    for upload, received in uploads:
        open_by_catalog.setdefault(upload.catalog, []).append(
            OpenUpload(
                id=str(upload.id),
                mode=upload.mode,
                packets=upload.packets,
                received=received,
                created_at=upload.created_at,
                expires_at=upload.expires_at,
            )
        )
    out = [
        Summary(
            name=c.name,
            version=c.version,
            items=c.items,
            tombstones=tombstones.get(c.name, 0),
            updated_at=c.updated_at,
            purged_through=c.purged_through,
            uploads=open_by_catalog.pop(c.name, []),
        )
        for c in catalogs
    ]
    # An upload to a catalog never written to yet: its catalog appears at version 0.
    for name, waiting in sorted(open_by_catalog.items()):
        out.append(Summary(name, 0, 0, 0, waiting[0].created_at, 0, waiting))
    out.sort(key=lambda s: s.name)
    return out


@dataclass(frozen=True)
class Row:
    """An item in a list: its id, name (when it has one) and version."""

    id: str
    name: str | None
    version: int


@dataclass(frozen=True)
class ItemsPage:
    rows: list[Row]
    # The id to read on from (the ``after`` of the next page), None at the end.
    next: str | None
    # How many items a name search read for this page.
    scanned: int = 0


def _name(value: Any) -> str | None:
    return None if value is None else str(value)


def items(
    tenant_id: int, name: str, *, query: str = "", after: str | None = None, limit: int = 50
) -> ItemsPage:
    """A page of the catalog's live items in id order; ``query`` finds by id or by name."""
    catalog = find(tenant_id, name)
    query = query.strip()
    item_name = CatalogItem.data["name"].as_string()
    base = select(CatalogItem.id, item_name, CatalogItem.version).where(
        CatalogItem.tenant_id == catalog.tenant_id,
        CatalogItem.catalog == catalog.name,
        CatalogItem.deleted.is_(False),
    )
    if not query:
        stmt = base.order_by(CatalogItem.id).limit(limit + 1)
        if after is not None:
            stmt = stmt.where(CatalogItem.id > after)
        rows = [Row(i, _name(n), v) for i, n, v in db.session.execute(stmt)]
        if len(rows) > limit:
            return ItemsPage(rows[:limit], rows[limit - 1].id)
        return ItemsPage(rows, None)
    found: list[Row] = []
    if after is None:
        # The item whose id is the query, first: one probe of the primary key.
        exact = db.session.execute(base.where(CatalogItem.id == query)).first()
        if exact is not None:
            found.append(Row(exact[0], _name(exact[1]), exact[2]))
    # Then the items whose name holds the query (any case), read in id order from the cursor.
    needle = query.casefold()
    scanned = 0
    cursor = after
    while scanned < SCAN_ROWS:
        size = min(SCAN_BATCH, SCAN_ROWS - scanned)
        stmt = base.order_by(CatalogItem.id).limit(size)
        if cursor is not None:
            stmt = stmt.where(CatalogItem.id > cursor)
        batch = db.session.execute(stmt).all()
        for ident, label, version in batch:
            scanned += 1
            cursor = ident
            if label is not None and needle in str(label).casefold() and ident != query:
                found.append(Row(ident, str(label), version))
                if len(found) > limit:
                    return ItemsPage(found[:limit], found[limit - 1].id, scanned)
        if len(batch) < size:
            return ItemsPage(found, None, scanned)
    # The window is read: say where to read on, unless nothing is left after it.
    more = db.session.execute(base.where(CatalogItem.id > cursor).limit(1)).first()
    return ItemsPage(found, cursor if more else None, scanned)


@dataclass(frozen=True)
class Packaging:
    """One barcode of an item: a product's packaging (unit, factor) or a cell's code."""

    barcode: str
    kind: str
    unit: str | None
    factor: Decimal | None


@dataclass(frozen=True)
class Item:
    catalog: str
    id: str
    version: int
    deleted: bool
    data: dict[str, Any]
    updated_at: datetime
    deleted_at: datetime | None
    barcodes: list[Packaging]


def item(tenant_id: int, name: str, item_id: str) -> Item | None:
    """One item (a tombstone too) with its barcodes; None when the catalog has no such id."""
    catalog = find(tenant_id, name)
    row = db.session.get(CatalogItem, (catalog.tenant_id, catalog.name, item_id))
    if row is None:
        return None
    codes = db.session.scalars(
        select(CatalogBarcode)
        .where(
            CatalogBarcode.tenant_id == catalog.tenant_id,
            CatalogBarcode.catalog == catalog.name,
            CatalogBarcode.item_id == item_id,
        )
        .order_by(CatalogBarcode.factor.is_not(None), CatalogBarcode.factor, CatalogBarcode.barcode)
    ).all()
    return Item(
        catalog=catalog.name,
        id=row.id,
        version=row.version,
        deleted=row.deleted,
        data=dict(row.data or {}),
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        barcodes=[Packaging(c.barcode, c.kind, c.unit, c.factor) for c in codes],
    )


@dataclass(frozen=True)
class Match:
    """An item a barcode names, with the packaging the barcode is on."""

    barcode: str
    kind: str
    catalog: str
    item_id: str
    name: str | None
    unit: str | None
    factor: Decimal | None
    version: int


def by_barcode(tenant_id: int, barcode: str, limit: int = 50) -> list[Match]:
    """Every item carrying this barcode: products first, then cells, then by catalog and id."""
    barcode = barcode.strip()
    if not barcode or len(barcode) > 100:
        return []
    rows = db.session.execute(
        carrying(tenant_id, barcode, CatalogItem.data, CatalogItem.version).limit(limit)
    )
    out = []
    for code, data, version in rows:
        data = data or {}
        out.append(
            Match(
                barcode=code.barcode,
                kind=code.kind,
                catalog=code.catalog,
                item_id=code.item_id,
                name=_name(data.get("name")),
                unit=code.unit or (None if code.kind != "product" else _name(data.get("unit"))),
                factor=(code.factor if code.factor is not None else Decimal(1))
                if code.kind == "product"
                else None,
                version=version,
            )
        )
    out.sort(key=lambda m: (_KIND_ORDER.get(m.kind, 9), m.catalog, m.item_id))
    return out

"""Catalogs: reference data from accounting (products, cells, stock, prices) for terminals.

Every change of a catalog makes a new catalog version, and each item row carries the version of
its last change, so a terminal's delta is the rows with ``version > since`` read in
``(version, id)`` order from one index. A deleted item stays as a tombstone (``deleted``, no
data) until the worker purges it; the catalog then remembers the newest purged version, and a
terminal asking for changes since an older one must reload in full.
"""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from relay.models.base import Base, TenantScoped
from relay.timeutil import utcnow

UPLOAD_MODES = ("merge", "mirror")
UPLOAD_STATES = ("open", "committed")
BARCODE_KINDS = ("product", "cell")


class Catalog(Base):
    """One named catalog of a tenant; its row is the lock every change of it takes."""

    __tablename__ = "catalogs"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    # Live items (tombstones not counted).
    items: Mapped[int] = mapped_column(default=0)
    # The newest version whose tombstones were purged: deltas since an older one cannot be told.
    purged_through: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogItem(Base):
    """An item keyed by the accounting side's id, with the catalog version of its last change."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "catalog"],
            ["catalogs.tenant_id", "catalogs.name"],
            ondelete="CASCADE",
        ),
        # The delta: version > since, in (version, id) order, a page at a time.
        Index("ix_catalog_items_delta", "tenant_id", "catalog", "version", "id"),
        # What the worker purges: tombstones by age.
        Index(
            "ix_catalog_items_tombstones",
            "deleted_at",
            sqlite_where=text("deleted = 1"),
            postgresql_where=text("deleted"),
        ),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    catalog: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int]
    deleted: Mapped[bool] = mapped_column(default=False)
    # The item without its id; None for a tombstone.
    data: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class CatalogBarcode(Base):
    """A barcode of a product's packaging (with its unit and factor) or of a cell."""

    __tablename__ = "catalog_barcodes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "catalog", "item_id"],
            ["catalog_items.tenant_id", "catalog_items.catalog", "catalog_items.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(f"kind IN {BARCODE_KINDS!r}", name="kind"),
        # An item's barcodes, replaced when the item changes.
        Index("ix_catalog_barcodes_item", "tenant_id", "catalog", "item_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    barcode: Mapped[str] = mapped_column(String(100), primary_key=True)
    catalog: Mapped[str] = mapped_column(String(64), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(64))
    factor: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))


class CatalogUpload(TenantScoped, Base):
    """A big catalog sent in numbered packets, applied at once by its commit."""

    __tablename__ = "catalog_uploads"
    __table_args__ = (
        CheckConstraint(f"mode IN {UPLOAD_MODES!r}", name="mode"),
        CheckConstraint(f"state IN {UPLOAD_STATES!r}", name="state"),
        # What the worker drops: uploads past their expiry.
        Index("ix_catalog_uploads_expires_at", "expires_at"),
    )

    catalog: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    packets: Mapped[int]
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # The commit's answer, given again to a repeated commit.
    outcome: Mapped[dict[str, Any] | None]


class CatalogPacket(Base):
    """One packet of an upload: its validated items and their digest."""

    __tablename__ = "catalog_packets"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "upload_id"],
            ["catalog_uploads.tenant_id", "catalog_uploads.id"],
            ondelete="CASCADE",
        ),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    count: Mapped[int]
    # The items' ids alone, so a commit checks duplicates and mirror deletions before it
    # reads any item.
    ids: Mapped[list[Any]]
    items: Mapped[list[Any]]

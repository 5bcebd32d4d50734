"""Merge, delete and mirror, each applied as one new catalog version.

Versions are given out under a lock on the catalog's row (``SELECT … FOR UPDATE`` on
PostgreSQL; on SQLite the database's one write lock does it): the next change waits until this
one commits, so versions commit in the order they were given, and a reader that sees version V
committed finds every item of the versions up to V. Readers bound what they read by the version
they saw, so a change committing meanwhile is never half seen.

An item whose content did not change keeps its version: sending the whole catalog again costs
terminals nothing, and a call that changes nothing makes no new version.
"""

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, null, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from relay.catalogs.config import Settings
from relay.catalogs.items import barcodes_of, check_name, validate_items
from relay.errors import N_, Invalid, NotFound
from relay.extensions import db
from relay.models import Catalog, CatalogBarcode, CatalogItem

# Ids per statement: well under SQLite's limit on bound parameters.
CHUNK = 500

T = TypeVar("T")


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Split a sequence into consecutive slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class Applied:
    """What a change did: the catalog's version after it and the counts."""

    catalog: str
    version: int
    upserted: int = 0
    changed: int = 0
    deleted: int = 0

    def answer(self) -> dict[str, Any]:
        """The body the API answers with."""
        return {
            "catalog": self.catalog,
            "version": self.version,
            "upserted": self.upserted,
            "changed": self.changed,
            "deleted": self.deleted,
        }


def find(tenant_id: int, name: str) -> Catalog:
    """Read a catalog without locking it; a catalog never written to is not found."""
    catalog = db.session.get(Catalog, (tenant_id, name))
    if catalog is None:
        raise NotFound(
            N_("There is no catalog %(name)r.", name=name[:80]), code="catalog_not_found"
        )
    return catalog


def lock(tenant_id: int, name: str, now: datetime, *, create: bool = True) -> Catalog:
    """Take the catalog's row lock (making the catalog first when ``create``); return it."""
    if create:
        dialect = db.session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        db.session.execute(
            upsert(Catalog)
            .values(
                tenant_id=tenant_id,
                name=name,
                version=0,
                items=0,
                purged_through=0,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )
    catalog = db.session.scalars(
        select(Catalog)
        .where(Catalog.tenant_id == tenant_id, Catalog.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if catalog is None:
        raise NotFound(
            N_("There is no catalog %(name)r.", name=name[:80]), code="catalog_not_found"
        )
    return catalog


def needs_confirmation(deletions: int, live: int, settings: Settings) -> bool:
    """Whether a mirror deleting ``deletions`` of ``live`` items must be confirmed first."""
    if deletions == 0:
        return False
    return deletions > settings.confirm_count or deletions > settings.confirm_fraction * live


class Writer:
    """Apply upserts and deletions to one locked catalog as its next version."""

    def __init__(self, catalog: Catalog, now: datetime) -> None:
        self.catalog = catalog
        self.version = catalog.version + 1
        self.now = now
        self.applied = Applied(catalog.name, catalog.version)
        self._live = 0
        # A catalog that never had a version has no rows: its first load inserts without
        # looking (and an upload's packets never share an id). Looking would also mislead
        # PostgreSQL's planner, whose statistics still say the table is empty.
        self._empty = catalog.version == 0

    def _where(self) -> list[Any]:
        return [
            CatalogItem.tenant_id == self.catalog.tenant_id,
            CatalogItem.catalog == self.catalog.name,
        ]

    def upsert(self, items: dict[str, dict[str, Any]]) -> None:
        """Insert new items, replace changed ones, revive tombstones; leave equal ones alone."""
        self.applied.upserted += len(items)
        tenant_id, name, version = self.catalog.tenant_id, self.catalog.name, self.version
        bind = _Binding.of(db.session.connection().dialect)
        data_of, factor_of = bind.data, bind.factor
        alive, now = bind.false, bind.datetime(self.now)
        for ids in chunks(list(items)):
            existing = {} if self._empty else self._existing(ids)
            inserts: list[tuple[Any, ...]] = []
            updates: list[dict[str, Any]] = []
            replaced: list[str] = []
            barcodes: list[tuple[Any, ...]] = []
            for ident in ids:
                data = items[ident]
                old = existing.get(ident)
                if old is not None and not old.deleted and old.data == data:
                    continue
                if old is None:
                    # In ITEM_COLUMNS order, each value as the driver takes it.
                    inserts.append(
                        (tenant_id, name, ident, version, alive, data_of(data), now, None)
                    )
                    self._live += 1
                else:
                    updates.append(
                        {
                            "tenant_id": tenant_id,
                            "catalog": name,
                            "id": ident,
                            "version": version,
                            "deleted": False,
                            "data": data,
                            "updated_at": self.now,
                            "deleted_at": None,
                        }
                    )
                    if old.deleted:
                        self._live += 1
                    else:
                        replaced.append(ident)
                barcodes += [
                    (tenant_id, b.barcode, name, ident, b.kind, b.unit, factor_of(b.factor))
                    for b in barcodes_of(name, data)
                ]
            if replaced:
                db.session.execute(
                    delete(CatalogBarcode).where(
                        CatalogBarcode.tenant_id == tenant_id,
                        CatalogBarcode.catalog == name,
                        CatalogBarcode.item_id.in_(replaced),
                    )
                )
            _insert_rows(CatalogItem.__tablename__, ITEM_COLUMNS, inserts)
            if updates:
                db.session.execute(update(CatalogItem), updates)
            _insert_rows(CatalogBarcode.__tablename__, BARCODE_COLUMNS, barcodes)
            self.applied.changed += len(inserts) + len(updates)

    def _existing(self, ids: Sequence[str]) -> dict[str, Any]:
        return {
            row.id: row
            for row in db.session.execute(
                select(CatalogItem.id, CatalogItem.deleted, CatalogItem.data).where(
                    *self._where(), CatalogItem.id.in_(ids)
                )
            )
        }

    def delete(self, ids: Iterable[str]) -> None:
        """Turn live items into tombstones; ids not in the catalog (or deleted) are skipped."""
        tenant_id, name = self.catalog.tenant_id, self.catalog.name
        for chunk in chunks(sorted(set(ids))):
            deleted = db.session.scalars(
                update(CatalogItem)
                .where(*self._where(), CatalogItem.id.in_(chunk), CatalogItem.deleted.is_(False))
                .values(
                    deleted=True,
                    data=null(),
                    version=self.version,
                    updated_at=self.now,
                    deleted_at=self.now,
                )
                .returning(CatalogItem.id)
                .execution_options(synchronize_session=False)
            ).all()
            if deleted:
                db.session.execute(
                    delete(CatalogBarcode).where(
                        CatalogBarcode.tenant_id == tenant_id,
                        CatalogBarcode.catalog == name,
                        CatalogBarcode.item_id.in_(deleted),
                    )
                )
            self._live -= len(deleted)
            self.applied.deleted += len(deleted)

    def finish(self) -> Applied:
        """Record the new version on the catalog, if anything changed."""
        if self.applied.changed or self.applied.deleted:
            self.catalog.version = self.version
            self.catalog.items += self._live
            self.catalog.updated_at = self.now
            self.applied.version = self.version
        return self.applied


ITEM_COLUMNS = (
    "tenant_id",
    "catalog",
    "id",
    "version",
    "deleted",
    "data",
    "updated_at",
    "deleted_at",
)
BARCODE_COLUMNS = ("tenant_id", "barcode", "catalog", "item_id", "kind", "unit", "factor")


@dataclass(frozen=True)
class _Binding:
    """The columns' own conversions to what the driver takes, for rows written without the ORM.

    They come from the columns' types (JSON text or psycopg's ``Jsonb``, naive UTC datetimes,
    SQLite's float for a decimal), so a row written here reads back as one the ORM wrote.
    """

    data: Callable[[Any], Any]
    factor: Callable[[Any], Any]
    datetime: Callable[[Any], Any]
    false: Any

    @staticmethod
    def of(dialect: Dialect) -> "_Binding":
        items, barcodes = CatalogItem.__table__.c, CatalogBarcode.__table__.c

        def processor(column: ColumnElement[Any]) -> Callable[[Any], Any]:
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            if process is None:
                return _same
            return lambda value: None if value is None else process(value)

        return _Binding(
            data=processor(items.data),
            factor=processor(barcodes.factor),
            datetime=processor(items.updated_at),
            false=processor(items.deleted)(False),
        )


def _same(value: Any) -> Any:
    return value


def _insert_rows(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows (tuples in ``columns`` order, values as the driver takes them) in bulk.

    On PostgreSQL with ``COPY … FROM STDIN``, on SQLite with the driver's ``executemany`` of one
    prepared INSERT: no SQL is built or compiled per row or per chunk, which for a first load of
    a big catalog was most of the commit's time (SQLAlchemy compiling multi-row INSERTs). Both
    run on the session's connection, inside its transaction: the commit stays atomic.
    """
    if not rows:
        return
    connection = db.session.connection()
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(column) for column in columns)
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        statement = f"COPY {quote(table)} ({names}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    else:
        # Only identifiers of this module's tables go in the text; the values are bound.
        marks = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})"  # noqa: S608
        connection.exec_driver_sql(statement, rows)


def live_ids(catalog: Catalog) -> set[str]:
    """The ids of a catalog's live items (tombstones left out)."""
    return set(
        db.session.scalars(
            select(CatalogItem.id).where(
                CatalogItem.tenant_id == catalog.tenant_id,
                CatalogItem.catalog == catalog.name,
                CatalogItem.deleted.is_(False),
            )
        )
    )


def merge(
    tenant_id: int, name: str, raw_items: Sequence[Any], settings: Settings, now: datetime
) -> Applied:
    """Upsert a batch of items as one new version (none when nothing changed)."""
    check_name(name)
    items = validate_items(name, raw_items, settings)
    writer = Writer(lock(tenant_id, name, now), now)
    writer.upsert(items)
    return writer.finish()


def remove(
    tenant_id: int, name: str, ids: Collection[str], settings: Settings, now: datetime
) -> Applied:
    """Delete items by id as one new version; deleting an item twice is harmless."""
    check_name(name)
    if len(ids) > settings.packet_max_items:
        raise Invalid(
            N_(
                "At most %(cap)s ids go in one delete; this one has %(count)s.",
                cap=settings.packet_max_items,
                count=len(ids),
            ),
            code="too_many_items",
            details={"limit": settings.packet_max_items, "items": len(ids)},
        )
    writer = Writer(lock(tenant_id, name, now, create=False), now)
    writer.delete(ids)
    return writer.finish()

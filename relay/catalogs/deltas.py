"""What terminals read: the catalogs with their versions, and the changes since a version.

A delta is the items with ``version > since``, deleted ones as tombstones, in ``(version, id)``
order, read a page at a time from the index that has exactly that order: a page costs what the
page holds, whatever the catalog's size. The first page fixes the version the terminal will
store (the catalog's version when it was read), and every later page reads only up to it, so a
change committed while the terminal pages is not half seen; the terminal gets it whole with its
next delta. ``since=0`` is the full catalog (tombstones left out).

A page is read from one snapshot (``snapshot()``): on PostgreSQL a REPEATABLE READ
transaction, so the catalog's version and the items come from the same moment; SQLite's read
transaction already is one.

When tombstones newer than ``since`` were purged, the deletions since then can no longer be
told: the terminal is answered ``410 resync_required`` and reloads from ``since=0``.
"""

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select

from relay import jsonutil
from relay.errors import N_, Gone, Invalid
from relay.extensions import db
from relay.models import Catalog, CatalogItem


def snapshot() -> None:
    """Make the reads that follow see one snapshot of the database (call before them)."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        # End the transaction the credential was read in: a new one takes the isolation level.
        session.commit()
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def catalogs(tenant_id: int) -> list[Catalog]:
    """The tenant's catalogs, by name."""
    return list(
        db.session.scalars(
            select(Catalog).where(Catalog.tenant_id == tenant_id).order_by(Catalog.name)
        )
    )


def list_etag(tenant_id: int, found: Sequence[Catalog]) -> str:
    """The ETag of the list of catalogs: their names and versions."""
    raw = "|".join([str(tenant_id), *(f"{c.name}:{c.version}:{c.items}" for c in found)])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def etag(catalog: Catalog, *params: object) -> str:
    """The ETag of one page of a delta: the catalog's version and purge mark, and the query."""
    raw = "|".join(
        map(
            str,
            (catalog.tenant_id, catalog.name, catalog.version, catalog.purged_through, *params),
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the version read up to, and the last row given."""

    bound: int
    version: int
    id: str

    def encode(self) -> str:
        raw = jsonutil.dumps([self.bound, self.version, self.id]).encode("utf-8")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            bound, version, ident = jsonutil.loads(raw)
            if not (isinstance(bound, int) and isinstance(version, int)):
                raise ValueError("not a cursor")
            if not isinstance(ident, str):
                raise ValueError("not a cursor")
        except (ValueError, TypeError, binascii.Error) as err:
            raise Invalid(
                N_("The cursor is not one this catalog gave out; start again without 'after'."),
                code="invalid_cursor",
                details={"fields": {"after": ["Unknown cursor."]}},
            ) from err
        return cls(bound, version, ident)


@dataclass
class Page:
    """One page of a delta."""

    catalog: str
    version: int
    items: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    next: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog,
            "version": self.version,
            "items": self.items,
            "deleted": self.deleted,
            "next": self.next,
        }


def check_since(catalog: Catalog, since: int) -> None:
    """Refuse a ``since`` the catalog cannot answer with a delta."""
    if since > catalog.version:
        raise Gone(
            N_(
                "Catalog %(catalog)s is at version %(version)s, older than the version "
                "%(since)s this terminal holds (the relay's data was restored?); reload it in "
                "full with since=0.",
                catalog=catalog.name,
                version=catalog.version,
                since=since,
            ),
            code="resync_required",
            details={"since": since, "version": catalog.version},
        )
    if 0 < since < catalog.purged_through:
        raise Gone(
            N_(
                "Deletions from catalog %(catalog)s before version %(purged)s were purged, so "
                "changes since version %(since)s cannot be told; reload it in full with since=0.",
                catalog=catalog.name,
                purged=catalog.purged_through,
                since=since,
            ),
            code="resync_required",
            details={"since": since, "purged_through": catalog.purged_through},
        )


def page(catalog: Catalog, since: int, after: str | None, limit: int) -> Page:
    """Read one page of the changes since ``since`` (the whole catalog when 0)."""
    check_since(catalog, since)
    cursor = Cursor.decode(after) if after else Cursor(catalog.version, since, "")
    if cursor.bound > catalog.version or cursor.version < since:
        raise Invalid(
            N_(
                "The cursor does not belong to this catalog and 'since'; start again without "
                "'after'."
            ),
            code="invalid_cursor",
            details={"fields": {"after": ["Unknown cursor."]}},
        )
    query = (
        select(CatalogItem.id, CatalogItem.version, CatalogItem.deleted, CatalogItem.data)
        .where(
            CatalogItem.tenant_id == catalog.tenant_id,
            CatalogItem.catalog == catalog.name,
            # One index range, from the cursor on: (version, id) > (cursor.version, cursor.id).
            CatalogItem.version >= max(cursor.version, since + 1),
            CatalogItem.version <= cursor.bound,
            or_(
                CatalogItem.version > cursor.version,
                and_(CatalogItem.version == cursor.version, CatalogItem.id > cursor.id),
            ),
        )
        .order_by(CatalogItem.version, CatalogItem.id)
        .limit(limit + 1)
    )
    if since == 0:
        query = query.where(CatalogItem.deleted.is_(False))
    rows = db.session.execute(query).all()
    out = Page(catalog.name, cursor.bound)
    for row in rows[:limit]:
        if row.deleted:
            out.deleted.append(row.id)
        else:
            out.items.append({"id": row.id, **(row.data or {})})
    if len(rows) > limit:
        last = rows[limit - 1]
        out.next = Cursor(cursor.bound, last.version, last.id).encode()
    return out

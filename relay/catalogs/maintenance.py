"""The worker's catalog chores: purge old tombstones, drop expired uploads.

A purge raises the catalog's ``purged_through`` to the newest version it purged, under the
catalog's row lock, so a terminal asking for changes since an older version is told to reload
(``410 resync_required``) rather than silently missing a deletion.
"""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, func, select

from relay.catalogs import changes
from relay.db import transaction
from relay.extensions import db
from relay.models import CatalogItem, CatalogUpload


def purge_catalog(tenant_id: int, name: str, cutoff: datetime, now: datetime) -> int:
    """Purge one catalog's tombstones deleted before ``cutoff``; return how many."""
    catalog = changes.lock(tenant_id, name, now, create=False)
    where = (
        CatalogItem.tenant_id == tenant_id,
        CatalogItem.catalog == name,
        CatalogItem.deleted.is_(True),
        CatalogItem.deleted_at < cutoff,
    )
    newest = db.session.scalar(select(func.max(CatalogItem.version)).where(*where))
    if newest is None:
        return 0
    purged = _count(db.session.execute(delete(CatalogItem).where(*where)))
    catalog.purged_through = max(catalog.purged_through, int(newest))
    return int(purged)


def purge_tombstones(cutoff: datetime, now: datetime) -> int:
    """Purge every catalog's old tombstones, one transaction per catalog; return how many."""
    with transaction():
        due = db.session.execute(
            select(CatalogItem.tenant_id, CatalogItem.catalog)
            .where(CatalogItem.deleted.is_(True), CatalogItem.deleted_at < cutoff)
            .distinct()
        ).all()
    purged = 0
    for tenant_id, name in due:
        with transaction():
            purged += purge_catalog(tenant_id, name, cutoff, now)
    return purged


def drop_expired_uploads(now: datetime) -> int:
    """Delete uploads (and their packets) past their expiry, committed or not."""
    with transaction():
        query = delete(CatalogUpload).where(CatalogUpload.expires_at <= now)
        return _count(db.session.execute(query))


def _count(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)

"""Retention: remove documents whose work is over, with everything hanging off them.

A document is removed when none of its instances is still queued, claimed or completed (all
processed or cancelled), every one of its results was processed (acknowledged or delivered),
and nothing about it changed since the cutoff. Removed with it: its instances and their
addressees, parts and submissions, its events, its results and their outbox entries.

Documents go in batches, each deleted in a short transaction of its own, so neither SQLite's one
writer nor PostgreSQL's row locks are held for long: terminals and accounting keep working
while a purge runs.
"""

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select

from relay.db import reads_only, transaction
from relay.extensions import db
from relay.models import (
    Document,
    Event,
    Instance,
    InstanceAddressee,
    OutboxEntry,
    Part,
    Result,
    Submission,
)

BATCH_SIZE = 200
# In the order they are deleted (children first), as purge() reports them.
TABLES = (
    "outbox",
    "submissions",
    "parts",
    "instance_addressees",
    "results",
    "events",
    "instances",
    "documents",
)
_OPEN_STATES = ("queued", "claimed", "completed")


def finished_before(
    cutoff: datetime, limit: int, among: list[tuple[int, uuid.UUID]] | None = None
) -> list[tuple[int, uuid.UUID]]:
    """Up to ``limit`` documents whose work ended before ``cutoff``, as (tenant, id).

    With ``among``, only those documents are considered (the check made again under the write
    lock, in case one was pushed again meanwhile).
    """
    open_or_recent_instance = exists().where(
        Instance.tenant_id == Document.tenant_id,
        Instance.document_id == Document.id,
        or_(Instance.state.in_(_OPEN_STATES), Instance.updated_at >= cutoff),
    )
    unprocessed_or_recent_result = exists().where(
        Result.tenant_id == Document.tenant_id,
        Result.document_id == Document.id,
        or_(Result.processed_at.is_(None), Result.processed_at >= cutoff),
    )
    query = (
        select(Document.tenant_id, Document.id)
        .where(
            Document.updated_at < cutoff,
            ~open_or_recent_instance,
            ~unprocessed_or_recent_result,
        )
        .limit(limit)
    )
    if among is not None:
        # Per tenant, so each lookup is by primary key (SQLite scans for a row-value IN).
        by_tenant: dict[int, list[uuid.UUID]] = defaultdict(list)
        for tenant_id, document_id in among:
            by_tenant[tenant_id].append(document_id)
        query = query.where(
            or_(
                *(
                    and_(Document.tenant_id == tenant_id, Document.id.in_(ids))
                    for tenant_id, ids in by_tenant.items()
                )
            )
        )
    return [(tenant_id, document_id) for tenant_id, document_id in db.session.execute(query)]


def delete_documents(keys: list[tuple[int, uuid.UUID]]) -> Counter[str]:
    """Delete these documents and what hangs off them; count the rows per table."""
    by_tenant: dict[int, list[uuid.UUID]] = defaultdict(list)
    for tenant_id, document_id in keys:
        by_tenant[tenant_id].append(document_id)
    counts: Counter[str] = Counter(dict.fromkeys(TABLES, 0))
    for tenant_id, document_ids in by_tenant.items():
        instance_ids = list(
            db.session.scalars(
                select(Instance.id).where(
                    Instance.tenant_id == tenant_id, Instance.document_id.in_(document_ids)
                )
            )
        )
        result_ids = list(
            db.session.scalars(
                select(Result.id).where(
                    Result.tenant_id == tenant_id, Result.document_id.in_(document_ids)
                )
            )
        )
        steps: list[tuple[str, Any]] = [
            ("outbox", _in(OutboxEntry, OutboxEntry.result_id, tenant_id, result_ids)),
            ("submissions", _in(Submission, Submission.instance_id, tenant_id, instance_ids)),
            ("parts", _in(Part, Part.instance_id, tenant_id, instance_ids)),
            (
                "instance_addressees",
                _in(InstanceAddressee, InstanceAddressee.instance_id, tenant_id, instance_ids),
            ),
            ("results", _in(Result, Result.id, tenant_id, result_ids)),
            ("events", _in(Event, Event.document_id, tenant_id, document_ids)),
            ("instances", _in(Instance, Instance.id, tenant_id, instance_ids)),
            ("documents", _in(Document, Document.id, tenant_id, document_ids)),
        ]
        for table, statement in steps:
            if statement is not None:
                counts[table] += db.session.execute(statement).rowcount  # type: ignore[attr-defined]
    return counts


def _in(model: Any, column: Any, tenant_id: int, ids: list[uuid.UUID]) -> Any:
    if not ids:
        return None
    return (
        delete(model)
        .where(and_(model.tenant_id == tenant_id, column.in_(ids)))
        .execution_options(synchronize_session=False)
    )


def purge(
    cutoff: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    should_stop: Callable[[], bool] = lambda: False,
) -> Counter[str]:
    """Remove every document finished before ``cutoff``, a batch per transaction; count rows."""
    totals: Counter[str] = Counter(dict.fromkeys(TABLES, 0))
    while not should_stop():
        # Found while reading (on SQLite a reader never holds the write lock), then checked
        # again and deleted in a short write transaction.
        with reads_only(), transaction():
            candidates = finished_before(cutoff, batch_size)
        if candidates:
            with transaction():
                totals.update(delete_documents(finished_before(cutoff, batch_size, candidates)))
        if len(candidates) < batch_size:
            break
    return totals

"""The durable outbox of webhook deliveries: enqueue, lease, dead letters, replay.

An entry is written in the transaction that stores its result, so a result of an online
device is never without its delivery. Workers take due entries with a lease rather than by
holding a transaction over the HTTP call (on SQLite a write transaction held for a slow
receiver would stop every terminal): a short transaction marks the entries as theirs and moves
``next_attempt_at`` to the end of the lease, the POST runs outside any transaction, and a
second short transaction records the verdict. A worker that dies mid-delivery leaves its lease
to run out; the entry is then due again, with the same id.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Select, and_, bindparam, func, or_, select, update

from relay.db import core
from relay.errors import N_, Conflict, NotFound
from relay.extensions import db
from relay.ids import new_id
from relay.models import Document, OutboxEntry, OutboxState, Result, WebhookEndpoint
from relay.paging import Page, bad_cursor, page
from relay.timeutil import utcnow


def enqueue(results: Sequence[Result]) -> list[OutboxEntry]:
    """Add one delivery per result, due at once (in the caller's transaction)."""
    entries = [
        OutboxEntry(
            tenant_id=r.tenant_id, id=new_id(), result_id=r.id, next_attempt_at=r.completed_at
        )
        for r in results
    ]
    db.session.add_all(entries)
    return entries


def lease(
    worker_id: str, now: datetime, *, limit: int, duration: timedelta
) -> list[tuple[int, uuid.UUID]]:
    """Take up to ``limit`` due entries for ``worker_id``; return their keys, oldest first.

    Only entries of tenants with an enabled endpoint are taken: without one they wait, and
    no attempt is spent. ``SKIP LOCKED`` lets workers on PostgreSQL pass over each other's
    rows instead of queueing behind them; SQLite renders no lock clause (its write
    transaction already excludes every other writer).
    """
    stmt = (
        select(OutboxEntry)
        .join(
            WebhookEndpoint,
            and_(
                WebhookEndpoint.tenant_id == OutboxEntry.tenant_id,
                WebhookEndpoint.enabled.is_(True),
            ),
        )
        .where(OutboxEntry.state == OutboxState.PENDING, OutboxEntry.next_attempt_at <= now)
        .order_by(OutboxEntry.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxEntry)
    )
    entries = list(db.session.scalars(stmt))
    until = now + duration
    for entry in entries:
        entry.leased_by = worker_id
        entry.leased_until = until
        entry.next_attempt_at = until
    return [(e.tenant_id, e.id) for e in entries]


def held(tenant_id: int, entry_id: uuid.UUID, worker_id: str) -> OutboxEntry | None:
    """Lock and return an entry still leased by ``worker_id``; None when the lease was lost."""
    entry = db.session.scalars(
        select(OutboxEntry)
        .where(OutboxEntry.tenant_id == tenant_id, OutboxEntry.id == entry_id)
        .with_for_update()
    ).first()
    if (
        entry is None
        or entry.state != OutboxState.PENDING
        or entry.leased_by != worker_id
        or entry.leased_until is None
    ):
        return None
    return entry


def release(keys: Sequence[tuple[int, uuid.UUID]], worker_id: str, now: datetime) -> None:
    """Give back leased entries not attempted (a stopping worker), due at once for others."""
    for tenant_id, entry_id in keys:
        db.session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.tenant_id == tenant_id,
                OutboxEntry.id == entry_id,
                OutboxEntry.state == OutboxState.PENDING,
                OutboxEntry.leased_by == worker_id,
            )
            .values(leased_until=None, next_attempt_at=now)
        )


def hurry(tenant_id: int, now: datetime) -> int:
    """Make the tenant's deliveries waiting out a back-off due now; return how many.

    Called when a retry gets through: the receiver is back, so the backlog of an outage goes
    now rather than each entry at its next scheduled step (up to hours away). Entries held
    by a worker, or refused with 429 (the receiver asked for a pause), are left alone; rows
    another transaction has locked are skipped rather than waited for, so two workers doing
    this at once never deadlock.
    """
    waiting = (
        select(OutboxEntry.id)
        .where(
            OutboxEntry.tenant_id == tenant_id,
            OutboxEntry.state == OutboxState.PENDING,
            OutboxEntry.next_attempt_at > now,
            OutboxEntry.leased_until.is_(None),
            OutboxEntry.attempts > 0,
            or_(OutboxEntry.last_status.is_(None), OutboxEntry.last_status != 429),
        )
        .with_for_update(skip_locked=True)
    )
    ids = list(db.session.scalars(waiting))
    if ids:
        db.session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.tenant_id == tenant_id, OutboxEntry.id.in_(ids))
            .values(next_attempt_at=now)
        )
    return len(ids)


def settle(result: Result) -> None:
    """A result processed another way (acknowledged by pull): its delivery is not needed."""
    db.session.execute(
        update(OutboxEntry)
        .where(
            OutboxEntry.tenant_id == result.tenant_id,
            OutboxEntry.result_id == result.id,
            OutboxEntry.state.in_((OutboxState.PENDING, OutboxState.DEAD)),
        )
        .values(state=OutboxState.SKIPPED, leased_until=None)
    )


_SETTLE_MANY = (
    update(OutboxEntry)
    .where(
        OutboxEntry.tenant_id == bindparam("b_tenant"),
        OutboxEntry.result_id.in_(bindparam("b_ids", expanding=True)),
        OutboxEntry.state.in_((OutboxState.PENDING, OutboxState.DEAD)),
    )
    .values(state=OutboxState.SKIPPED, leased_until=None)
)


def settle_many(tenant_id: int, result_ids: Sequence[uuid.UUID]) -> None:
    """``settle`` for results of one tenant, in one statement."""
    core(_SETTLE_MANY, {"b_tenant": tenant_id, "b_ids": list(result_ids)})


def counts(tenant_id: int) -> dict[str, int]:
    """How many deliveries are waiting and how many are dead letters."""
    rows = db.session.execute(
        select(OutboxEntry.state, func.count())
        .where(
            OutboxEntry.tenant_id == tenant_id,
            OutboxEntry.state.in_((OutboxState.PENDING, OutboxState.DEAD)),
        )
        .group_by(OutboxEntry.state)
    )
    found: dict[str, int] = {str(state): int(n) for state, n in rows}
    return {"pending": found.get("pending", 0), "dead": found.get("dead", 0)}


def parse_id(text: str) -> uuid.UUID | None:
    """Read an entry id as given: the webhook-id (``msg_…``) or the bare UUID."""
    try:
        return uuid.UUID(text.removeprefix("msg_"))
    except ValueError:
        return None


def _described() -> Select[OutboxEntry, Result, Document]:
    return (
        select(OutboxEntry, Result, Document)
        .join(
            Result,
            and_(Result.tenant_id == OutboxEntry.tenant_id, Result.id == OutboxEntry.result_id),
        )
        .join(
            Document,
            and_(Document.tenant_id == Result.tenant_id, Document.id == Result.document_id),
        )
    )


class DeadLetter(NamedTuple):
    """An outbox entry with the result it delivers and that result's document."""

    entry: OutboxEntry
    result: Result
    document: Document


def dead_letters(tenant_id: int, *, after: str | None, limit: int) -> Page[DeadLetter]:
    """Return a page of dead letters (oldest first) with their results and documents.

    The cursor is the last entry's webhook-id (its bare UUID is taken too).
    """
    stmt = (
        _described()
        .where(OutboxEntry.tenant_id == tenant_id, OutboxEntry.state == OutboxState.DEAD)
        .order_by(OutboxEntry.id)
        .limit(limit + 1)
    )
    if after is not None:
        after_id = parse_id(after)
        if after_id is None:
            raise bad_cursor()
        stmt = stmt.where(OutboxEntry.id > after_id)
    rows = [DeadLetter(*row) for row in db.session.execute(stmt)]
    return page(rows, limit, lambda row: row.entry.webhook_id)


def describe(entry: OutboxEntry) -> DeadLetter:
    """Return an entry with its result and document."""
    return DeadLetter(
        *db.session.execute(
            _described().where(OutboxEntry.tenant_id == entry.tenant_id, OutboxEntry.id == entry.id)
        ).one()
    )


def get(tenant_id: int, text: str, *, for_update: bool = False) -> OutboxEntry:
    """Return an outbox entry by its webhook-id or UUID, or raise 404."""
    entry_id = parse_id(text)
    stmt = select(OutboxEntry).where(OutboxEntry.tenant_id == tenant_id, OutboxEntry.id == entry_id)
    if for_update:
        stmt = stmt.with_for_update()
    entry = db.session.scalars(stmt).first() if entry_id else None
    if entry is None:
        raise NotFound(N_("There is no dead letter %(id)s.", id=text), code="dead_letter_not_found")
    return entry


def replay(entry: OutboxEntry) -> OutboxEntry:
    """Send a dead letter again from the first attempt, with the same webhook-id."""
    if entry.state != OutboxState.DEAD:
        raise Conflict(
            N_(
                "%(id)s is not a dead letter (it is %(state)s); only dead letters are replayed.",
                id=entry.webhook_id,
                state=entry.state,
            ),
            code="not_dead_letter",
            details={"state": entry.state},
        )
    _revive(entry, utcnow())
    return entry


def replay_all(tenant_id: int) -> int:
    """Send every dead letter of the tenant again; return how many."""
    now = utcnow()
    entries = list(
        db.session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.tenant_id == tenant_id, OutboxEntry.state == OutboxState.DEAD)
            .order_by(OutboxEntry.id)
            .with_for_update()
        )
    )
    for entry in entries:
        _revive(entry, now)
    return len(entries)


def _revive(entry: OutboxEntry, now: datetime) -> None:
    entry.state = OutboxState.PENDING
    entry.attempts = 0
    entry.next_attempt_at = now
    entry.leased_until = None

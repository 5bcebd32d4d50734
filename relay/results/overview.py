"""What the admin console's overview shows: a handful of aggregate queries, none per row.

Each figure is an indexed query that reads a bounded number of rows: counts stop at a cap
(the page shows "10 000+"), so the page costs the same few statements and about the same time
at any queue length (bench/console.py measures it at 10⁶ queued documents).
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select

from relay.extensions import db
from relay.models import Device, Document, Event, Instance, OutboxEntry, Result, WebhookEndpoint
from relay.models.document import INSTANCE_STATES
from relay.online import outbox
from relay.timeutil import utcnow

RECENT_FAILURES = 10
RECENT_DEVICES = 20


@dataclass
class Overview:
    """The overview page's figures."""

    states: dict[str, int]
    completed_today: int
    devices_seen: list[Device]
    devices_seen_count: int
    pending: int
    dead: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    webhook_disabled_reason: str | None = None


def _capped(column: Any, *conditions: Any, cap: int) -> Any:
    """Count matching rows, but read at most ``cap + 1`` of them (more shows as "cap+")."""
    return (
        select(func.count())
        .select_from(select(column).where(*conditions).limit(cap + 1).subquery())
        .scalar_subquery()
    )


def overview(
    tenant_id: int, *, now: datetime | None = None, seen_within: timedelta, cap: int
) -> Overview:
    """Gather the overview of one tenant; counts above ``cap`` are reported as ``cap + 1``."""
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    counted = db.session.execute(
        select(
            *(
                _capped(
                    Instance.id, Instance.tenant_id == tenant_id, Instance.state == state, cap=cap
                )
                for state in INSTANCE_STATES
            ),
            _capped(
                Result.id, Result.tenant_id == tenant_id, Result.completed_at >= midnight, cap=cap
            ),
        )
    ).one()
    states = {state: int(n) for state, n in zip(INSTANCE_STATES, counted, strict=False)}
    completed_today = int(counted[-1])
    seen_since = now - seen_within
    seen_filter = and_(
        Device.tenant_id == tenant_id,
        Device.status == "active",
        Device.last_seen_at >= seen_since,
    )
    devices_seen = list(
        db.session.scalars(
            select(Device)
            .where(seen_filter)
            .order_by(Device.last_seen_at.desc())
            .limit(RECENT_DEVICES)
        )
    )
    seen_count = (
        len(devices_seen)
        if len(devices_seen) < RECENT_DEVICES
        else int(
            db.session.scalar(select(func.count()).select_from(Device).where(seen_filter)) or 0
        )
    )
    counts = outbox.counts(tenant_id)
    endpoint = db.session.get(WebhookEndpoint, tenant_id)
    return Overview(
        states=states,
        completed_today=completed_today,
        devices_seen=devices_seen,
        devices_seen_count=seen_count,
        pending=counts["pending"],
        dead=counts["dead"],
        failures=recent_failures(tenant_id),
        webhook_disabled_reason=endpoint.disabled_reason if endpoint is not None else None,
    )


def recent_failures(tenant_id: int) -> list[dict[str, Any]]:
    """The latest failed deliveries and failed chains, newest first."""
    deliveries = db.session.execute(
        select(OutboxEntry, Document.id, Document.external_id)
        .join(
            Result,
            and_(Result.tenant_id == OutboxEntry.tenant_id, Result.id == OutboxEntry.result_id),
        )
        .join(
            Document,
            and_(Document.tenant_id == Result.tenant_id, Document.id == Result.document_id),
        )
        .where(
            OutboxEntry.tenant_id == tenant_id,
            OutboxEntry.state.in_(("pending", "dead")),
            OutboxEntry.last_error.is_not(None),
        )
        .order_by(OutboxEntry.last_attempt_at.desc())
        .limit(RECENT_FAILURES)
    )
    out: list[dict[str, Any]] = [
        {
            "kind": "dead_letter" if entry.state == "dead" else "delivery",
            "at": entry.last_attempt_at,
            "document_id": document_id,
            "external_id": external_id,
            "message": entry.last_error,
            "status": entry.last_status,
        }
        for entry, document_id, external_id in deliveries
    ]
    chains = db.session.execute(
        select(Event, Document.external_id)
        .join(
            Document,
            and_(Document.tenant_id == Event.tenant_id, Document.id == Event.document_id),
        )
        .where(Event.tenant_id == tenant_id, Event.kind == "chain_failed")
        .order_by(Event.at.desc())
        .limit(RECENT_FAILURES)
    )
    out += [
        {
            "kind": "chain",
            "at": event.at,
            "document_id": event.document_id,
            "external_id": external_id,
            "message": event.details.get("message"),
            "status": None,
        }
        for event, external_id in chains
    ]
    out.sort(key=lambda f: f["at"] or now_floor(), reverse=True)
    return out[:RECENT_FAILURES]


def now_floor() -> datetime:
    """A time older than any failure, to sort those without one last."""
    return datetime.min.replace(tzinfo=utcnow().tzinfo)


def chain_failures(tenant_id: int, document_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The failed chain of each document that has one (its message), in one query."""
    if not document_ids:
        return {}
    rows = db.session.execute(
        select(Event.document_id, Event.details).where(
            Event.tenant_id == tenant_id,
            Event.kind == "chain_failed",
            Event.document_id.in_(document_ids),
        )
    )
    return {document_id: str(details.get("message") or "") for document_id, details in rows}

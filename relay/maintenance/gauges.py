"""The domain's gauges for /metrics, read in one grouped query.

Queued and claimed instances by business process, the outbox backlog and its dead letters,
and devices seen in the last five minutes, sent to the database as one UNION ALL statement
(callers cache it). The outbox counts use its partial indexes; the instance counts read the
instances and join their documents, so they cost more as the queue (and history) grows.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, literal, select, union_all

from relay.extensions import db
from relay.models import Device, Document, Instance, OutboxEntry

# A terminal polls its inbox every few seconds and writes last_seen_at at most once a minute.
SEEN_WINDOW = timedelta(minutes=5)


@dataclass
class Snapshot:
    """The gauges at one moment."""

    # (business process, state) -> instances, for the states queued and claimed.
    instances: dict[tuple[str, str], int] = field(default_factory=dict)
    outbox_pending: int = 0
    outbox_dead: int = 0
    devices_seen: int = 0


def snapshot(now: datetime) -> Snapshot:
    """Count everything in one statement."""
    instances = (
        select(
            literal("instances").label("kind"),
            Document.business_process.label("process"),
            Instance.state.label("state"),
            func.count().label("n"),
        )
        .select_from(Instance)
        .join(
            Document,
            and_(Document.tenant_id == Instance.tenant_id, Document.id == Instance.document_id),
        )
        .where(Instance.state.in_(("queued", "claimed")))
        .group_by(Document.business_process, Instance.state)
    )
    outbox = (
        select(
            literal("outbox").label("kind"),
            literal("").label("process"),
            OutboxEntry.state.label("state"),
            func.count().label("n"),
        )
        .where(OutboxEntry.state.in_(("pending", "dead")))
        .group_by(OutboxEntry.state)
    )
    devices = select(
        literal("devices").label("kind"),
        literal("").label("process"),
        literal("seen").label("state"),
        func.count().label("n"),
    ).where(Device.status == "active", Device.last_seen_at >= now - SEEN_WINDOW)
    result = Snapshot()
    for kind, process, state, n in db.session.execute(union_all(instances, outbox, devices)):
        if kind == "instances":
            result.instances[(process, state)] = int(n)
        elif kind == "outbox" and state == "pending":
            result.outbox_pending = int(n)
        elif kind == "outbox":
            result.outbox_dead = int(n)
        else:
            result.devices_seen = int(n)
    return result


def delivery_lag(now: datetime) -> float:
    """Seconds the oldest due webhook delivery has been waiting (0 when none is due)."""
    oldest = db.session.scalar(
        select(func.min(OutboxEntry.next_attempt_at)).where(
            OutboxEntry.state == "pending", OutboxEntry.next_attempt_at <= now
        )
    )
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0

"""Document timelines: every transition recorded with who, when and from which device."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select

from relay.db import core
from relay.directory.auth import Identity
from relay.extensions import db
from relay.ids import new_id
from relay.models import Event
from relay.timeutil import utcnow

_INSERT = insert(Event)


def record(
    tenant_id: int,
    document_id: uuid.UUID,
    kind: str,
    by: Identity | None,
    *,
    instance_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    """Add one event to a document's timeline; ``by`` None means the relay itself.

    Written at once (a Core insert, not a pending ORM object): the document must be in the
    database already, as it is once pushed or flushed.
    """
    record_many([(tenant_id, document_id, kind, instance_id, details)], by)


def record_many(
    events: Sequence[tuple[int, uuid.UUID, str, uuid.UUID | None, dict[str, Any]]],
    by: Identity | None,
) -> None:
    """Add events of one actor, (tenant, document, kind, instance, details) each, in one insert."""
    if not events:
        return
    at = utcnow()
    actor = by.actor if by is not None else "system"
    device_id = by.device_id if by is not None else None
    user_id = by.user_id if by is not None else None
    core(
        _INSERT,
        [
            {
                "id": new_id(),
                "tenant_id": tenant_id,
                "document_id": document_id,
                "instance_id": instance_id,
                "kind": kind,
                "at": at,
                "actor": actor,
                "device_id": device_id,
                "user_id": user_id,
                "details": details,
            }
            for tenant_id, document_id, kind, instance_id, details in events
        ],
    )


def timeline(tenant_id: int, document_id: uuid.UUID) -> list[Event]:
    """Return a document's events, oldest first."""
    return list(
        db.session.scalars(
            select(Event)
            .where(Event.tenant_id == tenant_id, Event.document_id == document_id)
            .order_by(Event.at, Event.id)
        )
    )

"""Document timelines: every transition recorded with who, when and from which device."""

import uuid
from typing import Any

from sqlalchemy import select

from relay.directory.auth import Identity
from relay.extensions import db
from relay.models import Event


def record(
    tenant_id: int,
    document_id: uuid.UUID,
    kind: str,
    by: Identity | None,
    *,
    instance_id: uuid.UUID | None = None,
    **details: Any,
) -> None:
    """Add one event to a document's timeline; ``by`` None means the relay itself."""
    db.session.add(
        Event(
            tenant_id=tenant_id,
            document_id=document_id,
            instance_id=instance_id,
            kind=kind,
            actor=by.actor if by is not None else "system",
            device_id=by.device_id if by is not None else None,
            user_id=by.user_id if by is not None else None,
            details=details,
        )
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

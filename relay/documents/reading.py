"""Documents as the accounting side reads them: state, instances, holders, results, timeline.

The objects here extend a model with what is worked out from other rows; an attribute they do
not have themselves is read through to the model, so a response schema dumps them like it.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from relay.documents import events, lifecycle, parts, push, routing
from relay.documents.push import Addressed
from relay.extensions import db
from relay.models import Document, Event, InstanceState, Result
from relay.models.document import HELD_STATES


@dataclass(frozen=True)
class Summary:
    """A document with its state: the least advanced of its live instances' states."""

    document: Document
    state: InstanceState

    def __getattr__(self, name: str) -> Any:
        if name == "document":  # not set yet: never read through to itself
            raise AttributeError(name)
        return getattr(self.document, name)


@dataclass(frozen=True)
class Followed(Addressed):
    """An instance as the accounting side follows it: its holder and its collective parts."""

    holder: dict[str, Any] | None
    parts: list[dict[str, Any]]

    @property
    def claim_expires_at(self) -> datetime | None:
        return self.instance.claim_expires_at


@dataclass(frozen=True)
class Reading(Summary):
    """A whole document: its instances, the results made of it, and its timeline."""

    instances: list[Followed]
    result_ids: list[uuid.UUID]
    timeline: list[Event]


def summaries(tenant_id: int, documents: Sequence[Document]) -> list[Summary]:
    """Give each document its state (one query for them all)."""
    states = push.states_of(tenant_id, [d.id for d in documents])
    return [Summary(d, states[d.id]) for d in documents]


def read(document: Document) -> Reading:
    """Read a document with its instances (who holds each), results and timeline."""
    instances = push.instances_of(document)
    keys = lifecycle.addressee_keys(document.tenant_id, [i.id for i in instances])
    described = routing.describe_keys(document.tenant_id, [k for ks in keys.values() for k in ks])
    followed = [
        Followed(
            instance,
            [described[k] for k in keys[instance.id] if k in described],
            holder=(
                lifecycle.holder_of(instance)
                if instance.state in HELD_STATES and instance.holder_device_id
                else None
            ),
            parts=parts.parts_of(instance),
        )
        for instance in instances
    ]
    result_ids = db.session.scalars(
        select(Result.id)
        .where(Result.tenant_id == document.tenant_id, Result.document_id == document.id)
        .order_by(Result.completed_at)
    )
    return Reading(
        document,
        lifecycle.document_state(i.state for i in instances),
        instances=followed,
        result_ids=list(result_ids),
        timeline=events.timeline(document.tenant_id, document.id),
    )

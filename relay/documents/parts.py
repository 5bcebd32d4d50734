"""The parts of collective instances: who joined, and whose part is open, submitted or dropped.

Every query over parts is here; the rules that join, submit and close are in
``relay.work.collective``, and the transitions that drop parts in ``relay.documents.lifecycle``.
"""

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from relay.directory import users
from relay.directory.auth import Identity
from relay.extensions import db
from relay.ids import hash_token
from relay.models import Instance, Part, PartState
from relay.timeutil import iso


def _of(instance: Instance, *conditions: Any) -> Any:
    return select(Part).where(
        Part.tenant_id == instance.tenant_id, Part.instance_id == instance.id, *conditions
    )


def _by(identity: Identity) -> list[Any]:
    """Conditions for "the caller's part": its device, and its operator or none."""
    return [
        Part.device_id == identity.device_id,
        Part.user_id == identity.user_id
        if identity.user_id is not None
        else Part.user_id.is_(None),
    ]


def open_part(identity: Identity, instance: Instance) -> Part | None:
    """The caller's open part of a collective instance, if it has joined."""
    return db.session.scalars(_of(instance, *_by(identity), Part.state == PartState.OPEN)).first()


def by_token(instance: Instance, token: str) -> Part | None:
    """The part whose token the caller presents (open, submitted or dropped)."""
    return db.session.scalars(_of(instance, Part.token_hash == hash_token(token or ""))).first()


def live(instance: Instance) -> list[Part]:
    """The parts not dropped, in the order their participants joined."""
    stmt = _of(instance, Part.state != PartState.DROPPED).order_by(Part.joined_at, Part.id)
    return list(db.session.scalars(stmt))


def drop_open(instance: Instance) -> list[uuid.UUID]:
    """Drop a collective instance's open parts (their tokens stop working); return their ids."""
    dropped = list(db.session.scalars(_of(instance, Part.state == PartState.OPEN)))
    for part in dropped:
        part.state = PartState.DROPPED
        part.token_hash = None
    return [p.id for p in dropped]


def _any(instance: Instance, *states: PartState) -> bool:
    stmt = select(Part.id).where(
        Part.tenant_id == instance.tenant_id,
        Part.instance_id == instance.id,
        Part.state.in_(states),
    )
    return db.session.scalars(stmt).first() is not None


def has_submitted(instance: Instance) -> bool:
    """Whether any part of the instance is submitted (so the work is in progress)."""
    return _any(instance, PartState.SUBMITTED)


def has_live(instance: Instance) -> bool:
    """Whether any part of the instance is still open or submitted."""
    return _any(instance, PartState.OPEN, PartState.SUBMITTED)


def joined(identity: Identity, instance_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The instances among these in which the caller has an open part."""
    ids = list(instance_ids)
    if not ids:
        return set()
    stmt = select(Part.instance_id).where(
        Part.tenant_id == identity.tenant_id,
        Part.instance_id.in_(ids),
        *_by(identity),
        Part.state == PartState.OPEN,
    )
    return set(db.session.scalars(stmt))


def describe(part: Part) -> dict[str, Any]:
    """A part as terminals and accounting see it: its state, times and participant."""
    return {
        "part_id": str(part.id),
        "state": part.state,
        "joined_at": iso(part.joined_at),
        "submitted_at": iso(part.submitted_at),
        **users.who(part.tenant_id, part.device_id, part.user_id),
    }


def parts_of(instance: Instance) -> list[dict[str, Any]]:
    """The parts of a collective instance, as shown to terminals and accounting."""
    return [describe(p) for p in live(instance)]

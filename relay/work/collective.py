"""Collective work (SPEC §7): several operators join one instance and each submits a part.

The instance completes when a participant or the accounting side closes it and no joined part
is still open. The result is one merged document (per-line sums over the parts, every actual
line kept and marked with its part), or one result per part when the process says
``keep_merged_document: false``. Quantity control is checked on the merged totals either way.
Every step locks the instance row, so concurrent joins and submissions lose nothing.
"""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from relay.directory.auth import Identity
from relay.documents import events, lifecycle, lines
from relay.errors import Conflict
from relay.extensions import db
from relay.ids import hash_token, new_token
from relay.models import Device, Document, Instance, Part, Result
from relay.timeutil import iso, utcnow
from relay.work import finish
from relay.work.finish import Outcome

PART_TOKEN_PREFIX = "relay_prt"  # noqa: S105 - a prefix, not a secret


def join(identity: Identity, instance_id: uuid.UUID) -> tuple[Instance, Part, str]:
    """Join a collective instance (or rejoin: a new token for the caller's open part)."""
    loaded = lifecycle.load(identity, instance_id, for_update=True)
    instance = loaded.instance
    if not loaded.process.collective_work:
        raise Conflict(
            "This document is worked by one terminal at a time: claim it instead of joining.",
            code="not_collective",
        )
    if instance.state not in lifecycle.OPEN_STATES:
        raise lifecycle.refuse_state(loaded)
    part = lifecycle.open_part(identity, instance)
    if part is None:
        part = Part(
            tenant_id=identity.tenant_id,
            instance_id=instance.id,
            device_id=identity.device_id,
            user_id=identity.user_id,
        )
        db.session.add(part)
        db.session.flush()
        events.record(
            identity.tenant_id,
            instance.document_id,
            "joined",
            identity,
            instance_id=instance.id,
            part_id=str(part.id),
        )
    token = new_token(PART_TOKEN_PREFIX)
    part.token_hash = hash_token(token)
    lifecycle.move(instance, "claimed", loaded.keys, collective=True)
    return instance, part, token


def submit(
    identity: Identity,
    loaded: lifecycle.Loaded,
    token: str,
    header: dict[str, Any],
    actual: list[dict[str, Any]],
    *,
    close: bool,
) -> dict[str, Any]:
    """Submit the caller's part (its token is the claim token) and, with ``close``, close.

    Closing while another part is open is refused and stores nothing, not even this part.
    """
    instance = loaded.instance
    if instance.state not in lifecycle.OPEN_STATES:
        raise lifecycle.refuse_state(loaded)
    part = db.session.scalars(
        select(Part).where(
            Part.tenant_id == instance.tenant_id,
            Part.instance_id == instance.id,
            Part.token_hash == hash_token(token or ""),
        )
    ).first()
    if part is None or part.state == "dropped" or not _owns(identity, part):
        raise Conflict(
            "This terminal's part of the document was lost (it left, or the document was "
            "released or rerouted); the submission was not saved. Join again.",
            code="claim_lost",
        )
    if part.state == "open":
        lines.bind(loaded.document.lines, actual)  # refuses unknown line ids now
        part.header, part.lines = header, actual
        part.state = "submitted"
        part.submitted_at = utcnow()
        events.record(
            identity.tenant_id,
            instance.document_id,
            "part_submitted",
            identity,
            instance_id=instance.id,
            part_id=str(part.id),
            lines=len(actual),
        )
    elif actual or header:
        raise Conflict(
            "This part is already submitted; join again to add another part.",
            code="part_submitted",
        )
    if not close:
        lifecycle.move(instance, "claimed", loaded.keys, collective=True)
        return {
            "id": str(instance.id),
            "state": "claimed",
            "part_id": str(part.id),
            "result_id": None,
        }
    done = close_instance(identity, loaded)
    return completed_answer(instance, done)


def _owns(identity: Identity, part: Part) -> bool:
    """Whether the caller joined with this part: its token works for no other participant."""
    return part.device_id == identity.device_id and (
        part.user_id is None or part.user_id == identity.user_id
    )


def completed_answer(instance: Instance, done: Sequence[Result]) -> dict[str, Any]:
    return {
        "id": str(instance.id),
        "state": "completed",
        "result_id": str(done[0].id) if len(done) == 1 else None,
        "result_ids": [str(r.id) for r in done],
    }


def _parts(instance: Instance) -> list[Part]:
    return list(
        db.session.scalars(
            select(Part)
            .where(
                Part.tenant_id == instance.tenant_id,
                Part.instance_id == instance.id,
                Part.state != "dropped",
            )
            .order_by(Part.joined_at, Part.id)
        )
    )


def describe_part(part: Part) -> dict[str, Any]:
    return {
        "part_id": str(part.id),
        "state": part.state,
        "joined_at": iso(part.joined_at),
        "submitted_at": iso(part.submitted_at),
        **lifecycle.who(part.tenant_id, part.device_id, part.user_id),
    }


def close_instance(by: Identity, loaded: lifecycle.Loaded) -> list[Result]:
    """Merge the submitted parts into the result(s) and complete the instance."""
    instance, process = loaded.instance, loaded.process
    parts = _parts(instance)
    still_open = [p for p in parts if p.state == "open"]
    if still_open:
        described = [describe_part(p) for p in still_open]
        names = ", ".join(d.get("login") or d.get("device_name") or d["part_id"] for d in described)
        raise Conflict(
            f"{len(still_open)} part(s) are still open ({names}): they must be submitted, "
            "left or released before the document can be closed.",
            code="parts_open",
            details={"parts": described},
        )
    submitted = [p for p in parts if p.state == "submitted"]
    if not submitted:
        raise Conflict(
            "Nobody has submitted a part yet; there is nothing to close.", code="no_parts"
        )
    declared = loaded.document.lines
    merged_header: dict[str, Any] = {}
    for part in submitted:
        merged_header.update(part.header)
    merged_lines, merged_undeclared = lines.bind(
        declared, [{**line, "part_id": str(p.id)} for p in submitted for line in p.lines]
    )
    lines.check_quantities(process.quantity_control, merged_lines, merged_undeclared)
    merged = Outcome(merged_header, merged_lines, merged_undeclared)
    if process["keep_merged_document"]:
        outcomes = [merged]
    else:
        outcomes = [
            Outcome(p.header, *lines.bind(declared, p.lines), part_id=p.id) for p in submitted
        ]
    for part in submitted:
        part.token_hash = None
    return finish.finish(
        by, loaded, outcomes, merged, device_mode=by.device_mode or _last_device_mode(submitted)
    )


def _last_device_mode(parts: Sequence[Part]) -> str:
    """For a close by accounting: the mode of the device that submitted the last part."""
    last = max(parts, key=lambda p: p.submitted_at or p.joined_at)
    device = db.session.get(Device, (last.tenant_id, last.device_id)) if last.device_id else None
    return device.mode if device is not None else "offline"


def close_document(
    by: Identity, document: Document, instance_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """The accounting side closes a collective document."""
    (loaded,) = lifecycle.open_instances(document, instance_id)
    if not loaded.process.collective_work:
        raise Conflict(
            "Only a collective document is closed this way; this one completes when its "
            "terminal completes it.",
            code="not_collective",
        )
    return completed_answer(loaded.instance, close_instance(by, loaded))


def parts_of(instance: Instance) -> list[dict[str, Any]]:
    """The parts of a collective instance, as shown to terminals and accounting."""
    return [describe_part(p) for p in _parts(instance)]


def joined(identity: Identity, instance_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """The instances among these in which the caller has an open part."""
    ids = list(instance_ids)
    if not ids:
        return set()
    stmt = select(Part.instance_id).where(
        Part.tenant_id == identity.tenant_id,
        Part.instance_id.in_(ids),
        Part.device_id == identity.device_id,
        Part.state == "open",
    )
    if identity.user_id is not None:
        stmt = stmt.where(Part.user_id == identity.user_id)
    else:
        stmt = stmt.where(Part.user_id.is_(None))
    return set(db.session.scalars(stmt))

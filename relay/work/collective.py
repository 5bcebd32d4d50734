"""Collective work (SPEC §7): several operators join one instance and each submits a part.

The instance completes when a participant or the accounting side closes it and no joined part
is still open. The result is one merged document (per-line sums over the parts, every actual
line kept and marked with its part), or one result per part when the process says
``keep_merged_document: false``. Quantity control is checked on the merged totals either way.
Every step locks the instance row, so concurrent joins and submissions lose nothing.
"""

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from relay.directory.auth import Identity
from relay.documents import events, lifecycle, lines, parts
from relay.errors import N_, Conflict
from relay.extensions import db
from relay.ids import hash_token, new_token
from relay.models import Device, Document, Instance, InstanceState, Part, PartState, Result
from relay.timeutil import utcnow
from relay.work import finish
from relay.work.finish import Outcome

PART_TOKEN_PREFIX = "relay_prt"  # noqa: S105 - a prefix, not a secret


class Joined(NamedTuple):
    """A joined collective instance, the caller's part and the token that submits it."""

    instance: Instance
    part: Part
    claim_token: str


def join(identity: Identity, instance_id: uuid.UUID) -> Joined:
    """Join a collective instance (or rejoin: a new token for the caller's open part)."""
    loaded = lifecycle.load(identity, instance_id, for_update=True)
    instance = loaded.instance
    if not loaded.process.collective_work:
        raise Conflict(
            N_("This document is worked by one terminal at a time: claim it instead of joining."),
            code="not_collective",
        )
    if instance.state not in lifecycle.OPEN_STATES:
        raise lifecycle.refuse_state(loaded)
    part = parts.open_part(identity, instance)
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
    lifecycle.move(instance, InstanceState.CLAIMED, loaded.keys, collective=True)
    return Joined(instance, part, token)


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
    part = parts.by_token(instance, token)
    if part is None or part.state == PartState.DROPPED or not _owns(identity, part):
        raise Conflict(
            N_(
                "This terminal's part of the document was lost (it left, or the document was "
                "released or rerouted); the submission was not saved. Join again."
            ),
            code="claim_lost",
        )
    if part.state == PartState.OPEN:
        lines.bind(loaded.document.lines, actual)  # refuses unknown line ids now
        part.header, part.lines = header, actual
        part.state = PartState.SUBMITTED
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
            N_("This part is already submitted; join again to add another part."),
            code="part_submitted",
        )
    if not close:
        lifecycle.move(instance, InstanceState.CLAIMED, loaded.keys, collective=True)
        return {
            "id": str(instance.id),
            "state": InstanceState.CLAIMED,
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
        "state": InstanceState.COMPLETED,
        "result_id": str(done[0].id) if len(done) == 1 else None,
        "result_ids": [str(r.id) for r in done],
    }


def close_instance(by: Identity, loaded: lifecycle.Loaded) -> list[Result]:
    """Merge the submitted parts into the result(s) and complete the instance."""
    instance, process = loaded.instance, loaded.process
    live = parts.live(instance)
    still_open = [p for p in live if p.state == PartState.OPEN]
    if still_open:
        described = [parts.describe(p) for p in still_open]
        names = ", ".join(d.get("login") or d.get("device_name") or d["part_id"] for d in described)
        raise Conflict(
            N_(
                "%(count)s part(s) are still open (%(names)s): they must be submitted, left or "
                "released before the document can be closed.",
                count=len(still_open),
                names=names,
            ),
            code="parts_open",
            details={"parts": described},
        )
    submitted = [p for p in live if p.state == PartState.SUBMITTED]
    if not submitted:
        raise Conflict(
            N_("Nobody has submitted a part yet; there is nothing to close."), code="no_parts"
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
            N_(
                "Only a collective document is closed this way; this one completes when its "
                "terminal completes it."
            ),
            code="not_collective",
        )
    return completed_answer(loaded.instance, close_instance(by, loaded))

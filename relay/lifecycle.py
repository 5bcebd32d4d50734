"""The instance state machine (SPEC §7): queued → claimed → completed → processed, or cancelled.

Every transition locks the instance row first (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite
the write transaction already holds the database's write lock), so of two terminals claiming
the same instance exactly one wins, and a completion never races a release or a reroute.
"""

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from relay import events, inbox, lines, processes
from relay.auth import Identity
from relay.errors import Conflict, Invalid, NotFound
from relay.extensions import db
from relay.ids import hash_token, new_token
from relay.jsonutil import canonical
from relay.models import Device, Document, Instance, InstanceAddressee, Result, Submission, User
from relay.routing import Addressee
from relay.timeutil import iso, utcnow

CLAIM_TOKEN_PREFIX = "relay_clm"  # noqa: S105 - a prefix, not a secret


def create(document: Document, addressees: Sequence[Addressee]) -> Instance:
    """Create a queued instance of ``document`` for these addressees."""
    instance = Instance(tenant_id=document.tenant_id, document_id=document.id)
    db.session.add(instance)
    db.session.flush()
    for addressee in addressees:
        db.session.add(
            InstanceAddressee(
                tenant_id=document.tenant_id, instance_id=instance.id, key=addressee.key
            )
        )
    inbox.touch(document.tenant_id, [a.key for a in addressees])
    return instance


def addressee_keys(tenant_id: int, instance_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Return the addressee keys of each instance."""
    ids = list(instance_ids)
    out: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    if ids:
        rows = db.session.execute(
            select(InstanceAddressee.instance_id, InstanceAddressee.key)
            .where(InstanceAddressee.tenant_id == tenant_id, InstanceAddressee.instance_id.in_(ids))
            .order_by(InstanceAddressee.key)
        )
        for instance_id, key in rows:
            out[instance_id].append(key)
    return out


def holder_keys(instance: Instance) -> list[str]:
    keys = []
    if instance.holder_device_id is not None:
        keys.append(inbox.device_key(instance.holder_device_id))
    if instance.holder_user_id is not None:
        keys.append(inbox.user_key(instance.holder_user_id))
    return keys


def move(instance: Instance, state: str, keys: Sequence[str]) -> None:
    """Set an instance's state, keep the inbox index in step, and bump the affected inboxes.

    Call it after changing the holder: both the old and the new holder's inboxes change, so
    the caller passes the old holder's keys in ``keys`` when the holder is replaced.
    """
    instance.state = state
    instance.updated_at = utcnow()
    db.session.execute(
        update(InstanceAddressee)
        .where(
            InstanceAddressee.tenant_id == instance.tenant_id,
            InstanceAddressee.instance_id == instance.id,
        )
        .values(queued=state == "queued")
    )
    inbox.touch(instance.tenant_id, [*keys, *holder_keys(instance)])


@dataclass
class Loaded:
    instance: Instance
    document: Document
    keys: list[str]

    @property
    def process(self) -> processes.Process:
        return processes.at_version(
            self.document.tenant_id,
            self.document.business_process,
            self.document.business_process_version,
        )


def _not_found(instance_id: uuid.UUID | str) -> NotFound:
    return NotFound(
        f"There is no document {instance_id} for this terminal.", code="document_not_found"
    )


def load(identity: Identity, instance_id: uuid.UUID, *, for_update: bool = False) -> Loaded:
    """Return an instance the terminal may see, locked when asked; anything else is a 404."""
    stmt = select(Instance).where(
        Instance.tenant_id == identity.tenant_id, Instance.id == instance_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    instance = db.session.scalars(stmt).first()
    if instance is None:
        raise _not_found(instance_id)
    keys = addressee_keys(identity.tenant_id, [instance.id])[instance.id]
    if not inbox.can_see(identity, instance, keys):
        raise _not_found(instance_id)
    document = db.session.get(Document, (identity.tenant_id, instance.document_id))
    assert document is not None
    return Loaded(instance=instance, document=document, keys=keys)


def holder_of(instance: Instance) -> dict[str, Any]:
    """Describe who holds an instance, for the 409 of a second claim."""
    out: dict[str, Any] = {"claimed_at": iso(instance.claimed_at)}
    if instance.holder_device_id is not None:
        device = db.session.get(Device, (instance.tenant_id, instance.holder_device_id))
        if device is not None:
            out.update(device_id=str(device.id), pin=device.pin, device_name=device.name)
    if instance.holder_user_id is not None:
        user = db.session.get(User, (instance.tenant_id, instance.holder_user_id))
        if user is not None:
            out.update(login=user.login, user_name=user.name)
    return out


def _holds(identity: Identity, instance: Instance) -> bool:
    return (
        instance.holder_device_id == identity.device_id
        and instance.holder_user_id == identity.user_id
    )


def _refuse_state(loaded: Loaded) -> Conflict:
    instance = loaded.instance
    if instance.state == "cancelled":
        return Conflict(
            f"Document {loaded.document.number or loaded.document.external_id} was cancelled "
            "by the accounting side; do not work on it.",
            code="document_cancelled",
        )
    if instance.state in ("completed", "processed"):
        return Conflict("This document is already completed.", code="already_completed")
    if instance.state == "queued":
        return Conflict("Claim the document before completing it.", code="not_claimed")
    holder = holder_of(instance)
    who = holder.get("login") or holder.get("device_name") or holder.get("pin")
    return Conflict(
        f"The document is already being worked on by {who}.",
        code="already_claimed",
        details={"holder": holder},
    )


def claim(identity: Identity, instance_id: uuid.UUID) -> tuple[Instance, str]:
    """Take a queued instance and return a claim token; the holder claiming again gets a new one.

    A terminal that lost the answer to its claim can claim again and carry on; the earlier
    token stops working.
    """
    loaded = load(identity, instance_id, for_update=True)
    instance = loaded.instance
    if instance.state == "claimed" and _holds(identity, instance):
        token = new_token(CLAIM_TOKEN_PREFIX)
        instance.claim_token_hash = hash_token(token)
        events.record(
            identity.tenant_id,
            instance.document_id,
            "claim_renewed",
            identity,
            instance_id=instance.id,
        )
        return instance, token
    if instance.state != "queued":
        raise _refuse_state(loaded)
    token = new_token(CLAIM_TOKEN_PREFIX)
    instance.claim_token_hash = hash_token(token)
    instance.holder_device_id = identity.device_id
    instance.holder_user_id = identity.user_id
    instance.claimed_at = utcnow()
    move(instance, "claimed", loaded.keys)
    events.record(
        identity.tenant_id, instance.document_id, "claimed", identity, instance_id=instance.id
    )
    return instance, token


def release(identity: Identity, instance_id: uuid.UUID) -> Instance:
    """Give a claimed instance back to the queue; dismiss a cancelled one the terminal held."""
    loaded = load(identity, instance_id, for_update=True)
    instance = loaded.instance
    if instance.state == "queued":
        return instance
    held = instance.holder_device_id == identity.device_id or (
        identity.user_id is not None and instance.holder_user_id == identity.user_id
    )
    if instance.state not in ("claimed", "cancelled") or not held:
        raise (
            _refuse_state(loaded)
            if instance.state != "claimed"
            else Conflict(
                "Only the terminal holding the document can release it.",
                code="not_holder",
                details={"holder": holder_of(instance)},
            )
        )
    old = holder_keys(instance)
    state = "queued" if instance.state == "claimed" else "cancelled"
    instance.holder_device_id = instance.holder_user_id = None
    instance.claim_token_hash = None
    instance.claimed_at = None
    move(instance, state, [*loaded.keys, *old])
    events.record(
        identity.tenant_id,
        instance.document_id,
        "released" if state == "queued" else "cancellation_seen",
        identity,
        instance_id=instance.id,
    )
    return instance


def _request_hash(instance_id: uuid.UUID, payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical({"instance": str(instance_id), **payload}).encode()).hexdigest()


def complete(
    identity: Identity, instance_id: uuid.UUID, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """Complete a claimed instance with the terminal's actual lines; idempotent per submission.

    The same ``submission_id`` with the same body returns the first answer and applies nothing
    again. A duplicate arriving while the first is being applied waits for the instance's row
    lock and then finds the first answer.
    """
    submission_id = payload["submission_id"]
    request_hash = _request_hash(instance_id, payload)
    loaded = load(identity, instance_id, for_update=True)
    previous = db.session.get(Submission, (identity.tenant_id, submission_id))
    if previous is not None:
        if previous.request_hash != request_hash:
            raise Invalid(
                f"submission_id {submission_id!r} was already used for a different completion. "
                "Generate a new submission_id for each completion.",
                code="idempotency_key_reused",
            )
        return previous.response
    instance = loaded.instance
    if instance.state != "claimed":
        raise _refuse_state(loaded)
    if instance.claim_token_hash != hash_token(str(payload.get("claim_token") or "")):
        raise Conflict(
            "This terminal's claim on the document was lost (released, rerouted or claimed "
            "again elsewhere); the completion was not saved.",
            code="claim_lost",
        )
    process = loaded.process
    header = dict(payload.get("header") or {})
    actual = [dict(line) for line in payload.get("lines") or []]
    lines.check_from_terminal(process, header, actual)
    result_lines, undeclared = lines.bind(loaded.document.lines, actual)
    lines.check_quantities(process.quantity_control, result_lines, undeclared)

    now = utcnow()
    result = Result(
        tenant_id=identity.tenant_id,
        document_id=loaded.document.id,
        instance_id=instance.id,
        business_process=loaded.document.business_process,
        business_process_version=loaded.document.business_process_version,
        completed_at=now,
        completed_by_device_id=identity.device_id,
        completed_by_user_id=identity.user_id,
        device_mode=identity.device_mode or "offline",
        header=header,
        lines=result_lines,
        undeclared=undeclared,
    )
    db.session.add(result)
    instance.completed_at = now
    instance.claim_token_hash = None
    move(instance, "completed", loaded.keys)
    db.session.flush()
    events.record(
        identity.tenant_id,
        instance.document_id,
        "completed",
        identity,
        instance_id=instance.id,
        result_id=str(result.id),
        submission_id=submission_id,
    )
    response = {"id": str(instance.id), "state": "completed", "result_id": str(result.id)}
    db.session.add(
        Submission(
            tenant_id=identity.tenant_id,
            submission_id=submission_id,
            instance_id=instance.id,
            request_hash=request_hash,
            response=response,
        )
    )
    return response


def cancel(by: Identity, document: Document) -> list[Instance]:
    """Cancel every open instance of a document (accounting side, before completion)."""
    instances = list(
        db.session.scalars(
            select(Instance)
            .where(Instance.tenant_id == document.tenant_id, Instance.document_id == document.id)
            .order_by(Instance.id)
            .with_for_update()
        )
    )
    open_ = [i for i in instances if i.state in ("queued", "claimed")]
    if not open_:
        if all(i.state == "cancelled" for i in instances):
            return instances
        raise Conflict(
            "The document is already completed; there is nothing left to cancel.",
            code="document_completed",
        )
    keys = addressee_keys(document.tenant_id, [i.id for i in open_])
    for instance in open_:
        instance.claim_token_hash = None
        move(instance, "cancelled", keys[instance.id])
        events.record(document.tenant_id, document.id, "cancelled", by, instance_id=instance.id)
    return instances


def mark_processed(by: Identity | None, result: Result, via: str) -> None:
    """Mark a result processed (acknowledged or delivered) and its instance with it."""
    result.processed_at = utcnow()
    result.processed_via = via
    instance = db.session.get(Instance, (result.tenant_id, result.instance_id))
    if instance is not None and instance.state == "completed":
        instance.state = "processed"
        instance.updated_at = result.processed_at
    events.record(
        result.tenant_id,
        result.document_id,
        "processed",
        by,
        instance_id=result.instance_id,
        result_id=str(result.id),
        via=via,
    )


def document_state(states: Iterable[str]) -> str:
    """A document's state from its instances': the least advanced of those not cancelled."""
    live = [s for s in states if s != "cancelled"]
    if not live:
        return "cancelled"
    for state in ("queued", "claimed", "completed", "processed"):
        if state in live:
            return state
    return "queued"  # pragma: no cover - every state is listed above

"""The instance state machine (SPEC §7): queued → claimed → completed → processed, or cancelled.

Every transition locks the instance row first (``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite
the write transaction already holds the database's write lock), so of two terminals claiming
the same instance exactly one wins, and a completion never races a release or a reroute.
Completion itself is in ``relay.completion``, collective work in ``relay.collective``.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import defer

from relay.db import core
from relay.directory import addressees, users
from relay.directory.auth import Identity
from relay.documents import events, inbox, parts, routing
from relay.documents.routing import Addressee, Target
from relay.errors import N_, Conflict, Invalid, NotFound
from relay.extensions import db
from relay.ids import hash_token, new_token
from relay.models import (
    Document,
    Event,
    Instance,
    InstanceAddressee,
    InstanceState,
    PartState,
    Result,
)
from relay.online import outbox
from relay.processes import schema, store
from relay.timeutil import iso, utcnow

CLAIM_TOKEN_PREFIX = "relay_clm"  # noqa: S105 - a prefix, not a secret
OPEN_STATES = (InstanceState.QUEUED, InstanceState.CLAIMED)
# Every state but cancelled, in the order an instance advances through them.
LIVE_STATES = (*OPEN_STATES, InstanceState.COMPLETED, InstanceState.PROCESSED)


def create(document: Document, to: Sequence[Addressee]) -> Instance:
    """Create a queued instance of ``document`` for these addressees."""
    instance = Instance(tenant_id=document.tenant_id, document_id=document.id)
    db.session.add(instance)
    db.session.flush()
    _address(instance, to)
    return instance


_ADDRESS = insert(InstanceAddressee)


def _address(instance: Instance, to: Sequence[Addressee]) -> None:
    """List a flushed instance under its addressees (written at once) and bump their inboxes."""
    if to:
        listed = instance.state in OPEN_STATES
        core(
            _ADDRESS,
            [
                {
                    "tenant_id": instance.tenant_id,
                    "instance_id": instance.id,
                    "key": addressee.key,
                    "listed": listed,
                }
                for addressee in to
            ],
        )
    addressees.touch(instance.tenant_id, [a.key for a in to])


_ADDRESSEE_KEYS = (
    select(InstanceAddressee.instance_id, InstanceAddressee.key)
    .where(
        InstanceAddressee.tenant_id == bindparam("tenant_id"),
        InstanceAddressee.instance_id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(InstanceAddressee.key)
)


def addressee_keys(tenant_id: int, instance_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Return the addressee keys of each instance."""
    ids = list(instance_ids)
    out: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    if ids:
        for instance_id, key in core(_ADDRESSEE_KEYS, {"tenant_id": tenant_id, "ids": ids}):
            out[instance_id].append(key)
    return out


def holder_keys(instance: Instance) -> list[str]:
    keys = []
    if instance.holder_device_id is not None:
        keys.append(addressees.device_key(instance.holder_device_id))
    if instance.holder_user_id is not None:
        keys.append(addressees.user_key(instance.holder_user_id))
    return keys


_LISTED = (
    update(InstanceAddressee)
    .where(
        InstanceAddressee.tenant_id == bindparam("b_tenant"),
        InstanceAddressee.instance_id == bindparam("b_instance"),
    )
    .values(listed=bindparam("b_listed"))
)


def _listed(state: str, collective: bool) -> bool:
    """Whether an instance in ``state`` shows in its addressees' inboxes."""
    return state == InstanceState.QUEUED or (collective and state == InstanceState.CLAIMED)


def move(
    instance: Instance,
    state: InstanceState,
    keys: Sequence[str],
    *,
    collective: bool = False,
    listed_before: bool | None = None,
) -> None:
    """Set an instance's state, keep the inbox index in step, and bump the affected inboxes.

    An instance is listed in its addressees' inboxes while queued, and a collective one also
    while in progress (others may still join). Call this after changing the holder, passing
    the old holder's keys in ``keys`` when the holder is replaced. A caller that knows the
    instance's inbox flag before the move passes it in ``listed_before``: an unchanged flag
    is then not written again.
    """
    instance.state = state
    instance.updated_at = utcnow()
    listed = _listed(state, collective)
    if listed != listed_before:
        core(
            _LISTED, {"b_tenant": instance.tenant_id, "b_instance": instance.id, "b_listed": listed}
        )
    addressees.touch(instance.tenant_id, [*keys, *holder_keys(instance)])


class Claimed(NamedTuple):
    """A claimed instance and the token that completes it (shown once)."""

    instance: Instance
    claim_token: str


@dataclass
class Loaded:
    """An instance with its document and addressees, as one transition needs them."""

    instance: Instance
    document: Document
    keys: list[str]

    @property
    def process(self) -> schema.Process:
        return store.version_of(self.document)


def _not_found(instance_id: uuid.UUID | str) -> NotFound:
    return NotFound(
        N_("There is no document %(id)s for this terminal.", id=instance_id),
        code="document_not_found",
    )


def _loaded(instance: Instance) -> Loaded:
    keys = addressee_keys(instance.tenant_id, [instance.id])[instance.id]
    document = db.session.get(Document, (instance.tenant_id, instance.document_id))
    assert document is not None
    return Loaded(instance=instance, document=document, keys=keys)


# An instance's addressee keys, space-separated (a key holds no space), in the same round trip.
_KEYS_OF_INSTANCE = (
    select(func.aggregate_strings(InstanceAddressee.key, " "))
    .where(
        InstanceAddressee.tenant_id == Instance.tenant_id,
        InstanceAddressee.instance_id == Instance.id,
    )
    .scalar_subquery()
)


def _load_statement(for_update: bool, content: bool) -> Select[Instance, Document, str | None]:
    stmt = (
        select(Instance, Document, _KEYS_OF_INSTANCE)
        .join(
            Document,
            and_(Document.tenant_id == Instance.tenant_id, Document.id == Instance.document_id),
        )
        .where(
            Instance.tenant_id == bindparam("tenant_id"), Instance.id == bindparam("instance_id")
        )
    )
    if for_update:
        stmt = stmt.with_for_update(of=Instance)
    if not content:  # the header and lines then load only if something reads them
        stmt = stmt.options(defer(Document.header), defer(Document.lines))
    return stmt


# Built once: (for_update, content) -> the statement.
_LOAD = {(f, c): _load_statement(f, c) for f in (False, True) for c in (False, True)}


def load(
    identity: Identity,
    instance_id: uuid.UUID,
    *,
    for_update: bool = False,
    lost_claim_is_conflict: bool = False,
    content: bool = True,
) -> Loaded:
    """Return an instance the terminal may see, locked when asked; anything else is a 404.

    With ``lost_claim_is_conflict``, a terminal that held the instance before it was rerouted
    away gets ``409 claim_lost`` instead: it knows the document, and should hear why its work
    was refused.
    """
    # The instance (locked when asked), its document and its addressees in one round trip.
    stmt = _LOAD[for_update, content]
    row = db.session.execute(
        stmt, {"tenant_id": identity.tenant_id, "instance_id": instance_id}
    ).first()
    if row is None:
        raise _not_found(instance_id)
    instance, document, keys = row
    loaded = Loaded(instance=instance, document=document, keys=sorted((keys or "").split()))
    if not inbox.can_see(identity, instance, loaded.keys):
        if lost_claim_is_conflict and _held_before(identity, instance):
            raise _claim_lost()
        raise _not_found(instance_id)
    return loaded


def _held_before(identity: Identity, instance: Instance) -> bool:
    return (
        db.session.scalars(
            select(Event.id).where(
                Event.tenant_id == instance.tenant_id,
                Event.document_id == instance.document_id,
                Event.instance_id == instance.id,
                Event.kind.in_(("claimed", "joined")),
                Event.device_id == identity.device_id,
            )
        ).first()
        is not None
    )


def _claim_lost() -> Conflict:
    return Conflict(
        N_(
            "This terminal's claim on the document was lost (released, rerouted or claimed "
            "again elsewhere); the completion was not saved."
        ),
        code="claim_lost",
    )


def holder_of(instance: Instance) -> dict[str, Any]:
    """Describe who holds an instance, for the 409 of a second claim."""
    return {
        "claimed_at": iso(instance.claimed_at),
        **users.who(instance.tenant_id, instance.holder_device_id, instance.holder_user_id),
    }


def holds(identity: Identity, instance: Instance) -> bool:
    """Whether the caller holds a claim: a claim made with the device token belongs to the
    device (any operator on it acts on it); one made in a session belongs to that operator on
    that device."""
    return instance.holder_device_id == identity.device_id and (
        instance.holder_user_id is None or instance.holder_user_id == identity.user_id
    )


def _expired(instance: Instance, now: datetime) -> bool:
    return instance.claim_expires_at is not None and instance.claim_expires_at <= now


def refuse_state(loaded: Loaded) -> Conflict:
    """The 409 for acting on an instance in a state that does not allow it."""
    instance = loaded.instance
    if instance.state == InstanceState.CANCELLED:
        return Conflict(
            N_(
                "Document %(number)s was cancelled by the accounting side; do not work on it.",
                number=loaded.document.number or loaded.document.external_id,
            ),
            code="document_cancelled",
        )
    if instance.state in (InstanceState.COMPLETED, InstanceState.PROCESSED):
        return Conflict(N_("This document is already completed."), code="already_completed")
    if instance.state == InstanceState.QUEUED:
        return Conflict(N_("Claim the document before completing it."), code="not_claimed")
    holder = holder_of(instance)
    name = holder.get("login") or holder.get("device_name") or holder.get("pin")
    return Conflict(
        N_("The document is already being worked on by %(name)s.", name=name),
        code="already_claimed",
        details={"holder": holder},
    )


def claim(identity: Identity, instance_id: uuid.UUID) -> Claimed:
    """Take a queued instance and return a claim token; the holder claiming again gets a new one.

    A terminal that lost the answer to its claim can claim again and carry on; the earlier
    token stops working. A claim past its process's claim limit may be taken over.
    """
    loaded = load(identity, instance_id, for_update=True, content=False)
    instance = loaded.instance
    if loaded.process.collective_work:
        raise Conflict(
            N_("Several operators work this document together: join it instead of claiming it."),
            code="collective_document",
        )
    now = utcnow()
    if (
        instance.state == InstanceState.CLAIMED
        and holds(identity, instance)
        and not _expired(instance, now)
    ):
        token = new_token(CLAIM_TOKEN_PREFIX)
        instance.claim_token_hash = hash_token(token)
        events.record(
            identity.tenant_id,
            instance.document_id,
            "claim_renewed",
            identity,
            instance_id=instance.id,
        )
        return Claimed(instance, token)
    if instance.state == InstanceState.CLAIMED and _expired(instance, now):
        _requeue(instance, loaded.keys, "claim_expired", None)
    if instance.state != InstanceState.QUEUED:
        raise refuse_state(loaded)
    token = new_token(CLAIM_TOKEN_PREFIX)
    instance.claim_token_hash = hash_token(token)
    instance.holder_device_id = identity.device_id
    instance.holder_user_id = identity.user_id
    instance.claimed_at = now
    limit = loaded.process["claim_limit_minutes"]
    instance.claim_expires_at = now + timedelta(minutes=limit) if limit else None
    move(instance, InstanceState.CLAIMED, loaded.keys)
    events.record(
        identity.tenant_id, instance.document_id, "claimed", identity, instance_id=instance.id
    )
    return Claimed(instance, token)


def check_claim(identity: Identity, loaded: Loaded, claim_token: str) -> None:
    """Raise the 409 a completion gets when its claim is no longer good."""
    instance = loaded.instance
    if instance.state == InstanceState.QUEUED and _held_before(identity, instance):
        raise (
            _claim_expired(loaded) if _last_release(instance) == "claim_expired" else _claim_lost()
        )
    if instance.state != InstanceState.CLAIMED:
        raise refuse_state(loaded)
    # The token is bound to its holder: another addressee presenting it (a token read off a
    # screen, copied between terminals) is told the claim is not theirs, as a late one is.
    if instance.claim_token_hash != hash_token(claim_token or "") or not holds(identity, instance):
        raise _claim_lost()
    if _expired(instance, utcnow()):
        raise _claim_expired(loaded)


def _claim_expired(loaded: Loaded) -> Conflict:
    return Conflict(
        N_(
            "The claim ran past the %(minutes)s-minute limit of its business process and the "
            "document went back to the queue; the completion was not saved. Claim it again.",
            minutes=loaded.process["claim_limit_minutes"],
        ),
        code="claim_expired",
    )


def _last_release(instance: Instance) -> str | None:
    """How the instance last went back to the queue: released, claim_expired or rerouted."""
    return db.session.scalars(
        select(Event.kind)
        .where(
            Event.tenant_id == instance.tenant_id,
            Event.document_id == instance.document_id,
            Event.instance_id == instance.id,
            Event.kind.in_(("released", "claim_expired", "rerouted")),
        )
        .order_by(Event.at.desc(), Event.id.desc())
    ).first()


def _requeue(
    instance: Instance, keys: Sequence[str], kind: str, by: Identity | None, **details: Any
) -> None:
    """Put a claimed instance back in the queue: the holder and its claim token are gone."""
    old = holder_keys(instance)
    instance.holder_device_id = instance.holder_user_id = None
    instance.claim_token_hash = None
    instance.claimed_at = instance.claim_expires_at = None
    move(instance, InstanceState.QUEUED, [*keys, *old])
    events.record(
        instance.tenant_id, instance.document_id, kind, by, instance_id=instance.id, **details
    )


def release(identity: Identity, instance_id: uuid.UUID) -> Instance:
    """Give a claimed instance back to the queue; dismiss a cancelled one the terminal held.

    For a collective document, the caller leaves: their open part is dropped.
    """
    loaded = load(identity, instance_id, for_update=True)
    instance = loaded.instance
    if loaded.process.collective_work and instance.state in (*OPEN_STATES, InstanceState.CANCELLED):
        _leave(identity, loaded)
        return instance
    if instance.state == InstanceState.QUEUED:
        return instance
    held = holds(identity, instance)
    if instance.state == InstanceState.CLAIMED and held:
        _requeue(instance, loaded.keys, "released", identity)
        return instance
    if instance.state == InstanceState.CANCELLED and held:
        old = holder_keys(instance)
        instance.holder_device_id = instance.holder_user_id = None
        addressees.touch(instance.tenant_id, old)
        events.record(
            identity.tenant_id,
            instance.document_id,
            "cancellation_seen",
            identity,
            instance_id=instance.id,
        )
        return instance
    if instance.state == InstanceState.CLAIMED:
        raise Conflict(
            N_("Only the terminal holding the document can release it."),
            code="not_holder",
            details={"holder": holder_of(instance)},
        )
    raise refuse_state(loaded)


def _leave(identity: Identity, loaded: Loaded) -> None:
    """A participant leaves a collective instance: their open part is dropped."""
    instance = loaded.instance
    part = parts.open_part(identity, instance)
    if part is None:
        return
    part.state = PartState.DROPPED
    part.token_hash = None
    db.session.flush()
    if instance.state == InstanceState.CANCELLED:
        addressees.touch(instance.tenant_id, [*loaded.keys, *addressees.keys_of(identity)])
        events.record(
            identity.tenant_id,
            instance.document_id,
            "cancellation_seen",
            identity,
            instance_id=instance.id,
            part_id=str(part.id),
        )
        return
    move(
        instance,
        InstanceState.CLAIMED if parts.has_live(instance) else InstanceState.QUEUED,
        loaded.keys,
        collective=True,
    )
    events.record(
        identity.tenant_id,
        instance.document_id,
        "left",
        identity,
        instance_id=instance.id,
        part_id=str(part.id),
    )


def open_instances(document: Document, instance_id: uuid.UUID | None) -> list[Loaded]:
    """Lock the document's open instances (or the one named) for an accounting-side change."""
    stmt = (
        select(Instance)
        .where(Instance.tenant_id == document.tenant_id, Instance.document_id == document.id)
        .order_by(Instance.id)
        .with_for_update()
    )
    instances = list(db.session.scalars(stmt))
    if instance_id is not None:
        instances = [i for i in instances if i.id == instance_id]
        if not instances:
            raise NotFound(
                N_(
                    "Document %(id)s has no instance %(instance)s.",
                    id=document.id,
                    instance=instance_id,
                ),
                code="instance_not_found",
            )
    open_ = [i for i in instances if i.state in OPEN_STATES]
    if not open_:
        raise Conflict(
            N_("There is nothing open to change: the document is completed or cancelled."),
            code="document_not_open",
        )
    if instance_id is None and len(open_) > 1:
        raise Invalid(
            N_(
                "The document has several open instances (one per user): name the one to change "
                "in instance_id."
            ),
            code="instance_required",
            details={"instance_ids": [str(i.id) for i in open_]},
        )
    return [_loaded(i) for i in open_]


def reroute(
    by: Identity, document: Document, target: Target, instance_id: uuid.UUID | None = None
) -> Instance:
    """Send a queued or claimed instance to a new target; the old holder's claim stops working.

    The target is checked by the rules of the process the document was pushed under and must
    resolve to one instance (one device, or users and groups sharing it). Submitted parts of
    a collective document are kept; open parts are dropped.
    """
    (loaded,) = open_instances(document, instance_id)
    instance = loaded.instance
    process = loaded.process
    plan = routing.route(process, target, routing.SqlDirectory(document.tenant_id))
    if len(plan) != 1:
        raise Invalid(
            N_(
                "A reroute moves one instance, and this target gives one per user "
                "(%(count)s): name one user, one device, or push the document again.",
                count=len(plan),
            ),
            code="target_not_allowed",
        )
    (addressees,) = plan
    before = routing.describe_keys(document.tenant_id, loaded.keys)
    old = [*loaded.keys, *holder_keys(instance)]
    dropped = parts.drop_open(instance) if process.collective_work else []
    instance.holder_device_id = instance.holder_user_id = None
    instance.claim_token_hash = None
    instance.claimed_at = instance.claim_expires_at = None
    db.session.execute(
        delete(InstanceAddressee).where(
            InstanceAddressee.tenant_id == instance.tenant_id,
            InstanceAddressee.instance_id == instance.id,
        )
    )
    in_progress = process.collective_work and parts.has_submitted(instance)
    instance.state = InstanceState.CLAIMED if in_progress else InstanceState.QUEUED
    _address(instance, addressees)
    move(instance, instance.state, old, collective=process.collective_work)
    events.record(
        document.tenant_id,
        document.id,
        "rerouted",
        by,
        instance_id=instance.id,
        previous=[before[k].describe() for k in loaded.keys if k in before],
        addressees=[a.describe() for a in addressees],
        dropped_parts=[str(p) for p in dropped],
    )
    return instance


def force_release(
    by: Identity, document: Document, instance_id: uuid.UUID | None = None
) -> Instance:
    """An admin takes a claim away (a terminal lost, an operator gone): back to the queue."""
    (loaded,) = open_instances(document, instance_id)
    instance = loaded.instance
    if loaded.process.collective_work:
        dropped = parts.drop_open(instance)
        state = InstanceState.CLAIMED if parts.has_submitted(instance) else InstanceState.QUEUED
        move(instance, state, loaded.keys, collective=True)
        events.record(
            document.tenant_id,
            document.id,
            "released",
            by,
            instance_id=instance.id,
            dropped_parts=[str(p) for p in dropped],
        )
        return instance
    if instance.state != InstanceState.CLAIMED:
        raise Conflict(
            N_("The document is not claimed; there is nothing to release."), code="not_claimed"
        )
    _requeue(instance, loaded.keys, "released", by, holder=holder_of(instance))
    return instance


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
    open_ = [i for i in instances if i.state in OPEN_STATES]
    if not open_:
        if all(i.state == InstanceState.CANCELLED for i in instances):
            return instances
        raise Conflict(
            N_("The document is already completed; there is nothing left to cancel."),
            code="document_completed",
        )
    keys = addressee_keys(document.tenant_id, [i.id for i in open_])
    for instance in open_:
        # Holders and joined participants keep it: their inboxes show it cancelled until they
        # release it.
        instance.claim_token_hash = None
        instance.claim_expires_at = None
        move(instance, InstanceState.CANCELLED, keys[instance.id])
        events.record(document.tenant_id, document.id, "cancelled", by, instance_id=instance.id)
    return instances


def expire_claims(now: datetime, *, limit: int = 100) -> int:
    """Return claims past their process's claim limit to the queue (run by the worker)."""
    stmt = (
        select(Instance)
        .where(
            Instance.state == InstanceState.CLAIMED,
            Instance.claim_expires_at.is_not(None),
            Instance.claim_expires_at <= now,
        )
        .order_by(Instance.claim_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    expired = list(db.session.scalars(stmt))
    keys = {}
    for instance in expired:
        keys.update(addressee_keys(instance.tenant_id, [instance.id]))
        _requeue(instance, keys[instance.id], "claim_expired", None, holder=holder_of(instance))
    return len(expired)


def mark_processed(by: Identity | None, result: Result, via: str) -> None:
    """Mark a result processed (acknowledged or delivered) and its instance with it.

    An instance with several results (one per part) is processed when all of them are. A
    webhook delivery still waiting for a result acknowledged by pull is dropped.
    """
    result.processed_at = utcnow()
    result.processed_via = via
    db.session.flush()
    if via != "webhook":
        outbox.settle(result)
    instance = db.session.get(Instance, (result.tenant_id, result.instance_id))
    pending = db.session.scalars(
        select(Result.id).where(
            Result.tenant_id == result.tenant_id,
            Result.instance_id == result.instance_id,
            Result.processed_at.is_(None),
        )
    ).first()
    if instance is not None and instance.state == InstanceState.COMPLETED and pending is None:
        instance.state = InstanceState.PROCESSED
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


_MARK_RESULTS = (
    update(Result)
    .where(
        Result.tenant_id == bindparam("b_tenant"),
        Result.id.in_(bindparam("b_ids", expanding=True)),
        Result.processed_at.is_(None),
    )
    .values(processed_at=bindparam("b_at"), processed_via=bindparam("b_via"))
)
_PENDING_RESULT = (
    select(Result.id)
    .where(
        Result.tenant_id == Instance.tenant_id,
        Result.instance_id == Instance.id,
        Result.processed_at.is_(None),
    )
    .exists()
)
_CLOSE_INSTANCES = (
    update(Instance)
    .where(
        Instance.tenant_id == bindparam("b_tenant"),
        Instance.id.in_(bindparam("b_ids", expanding=True)),
        Instance.state == InstanceState.COMPLETED,
        ~_PENDING_RESULT,
    )
    .values(state=InstanceState.PROCESSED, updated_at=bindparam("b_at"))
)


def mark_many_processed(
    by: Identity,
    results: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID]],
    via: str,
) -> None:
    """``mark_processed`` for results (id, document id, instance id) of the caller's tenant
    that the caller has locked and found unprocessed, in five statements for any number."""
    if not results:
        return
    tenant_id, now = by.tenant_id, utcnow()
    ids = [result_id for result_id, _, _ in results]
    core(_MARK_RESULTS, {"b_tenant": tenant_id, "b_ids": ids, "b_at": now, "b_via": via})
    if via != "webhook":
        outbox.settle_many(tenant_id, ids)
    instance_ids = sorted({instance_id for _, _, instance_id in results})
    core(_CLOSE_INSTANCES, {"b_tenant": tenant_id, "b_ids": instance_ids, "b_at": now})
    events.record_many(
        [
            (tenant_id, document_id, "processed", instance_id, {"result_id": str(i), "via": via})
            for i, document_id, instance_id in results
        ],
        by,
    )


def document_state(states: Iterable[str]) -> InstanceState:
    """A document's state from its instances': the least advanced of those not cancelled."""
    live = [s for s in states if s != InstanceState.CANCELLED]
    if not live:
        return InstanceState.CANCELLED
    for state in LIVE_STATES:
        if state in live:
            return state
    return InstanceState.QUEUED  # pragma: no cover - every live state is listed above

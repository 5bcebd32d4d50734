"""Pushing documents (routing, re-push) and reading them back for the accounting side."""

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, exists, select
from sqlalchemy.exc import IntegrityError

from relay import jsonutil
from relay.directory import addressees
from relay.directory.auth import Identity
from relay.documents import events, lifecycle, routing
from relay.documents.routing import Addressee, Target
from relay.errors import N_, Conflict, Invalid, NotFound
from relay.extensions import db
from relay.models import Device, Document, Group, Instance, InstanceAddressee, InstanceState, User
from relay.paging import Page, by_id, page
from relay.processes import schema, store
from relay.timeutil import utcnow


@dataclass(frozen=True)
class Addressed:
    """An instance and the addressees it was sent to."""

    instance: Instance
    addressees: list[Addressee]

    @property
    def addressee(self) -> Addressee | None:
        """The addressee, when there is exactly one."""
        return self.addressees[0] if len(self.addressees) == 1 else None


@dataclass
class Pushed:
    """One document of a push and what became of it: created, unchanged or replaced.

    Attributes it does not have itself are the document's.
    """

    document: Document
    status: str
    instances: list[Instance]
    addressees: dict[uuid.UUID, list[Addressee]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name == "document":  # not set yet: never read through to itself
            raise AttributeError(name)
        return getattr(self.document, name)

    @property
    def state(self) -> InstanceState:
        return lifecycle.document_state(i.state for i in self.instances)

    @property
    def addressed(self) -> list[Addressed]:
        """Each instance with its addressees."""
        return [Addressed(i, self.addressees.get(i.id, [])) for i in self.instances]


def content_hash(doc: Mapping[str, Any], target: Target, next_target: Target) -> str:
    """What makes two pushes of one external_id the same: content and targets."""
    material = {
        "number": doc.get("number") or "",
        "date": doc.get("date"),
        "header": doc.get("header") or {},
        "lines": doc.get("lines") or [],
        "target": target.normalized(),
        "next_target": next_target.normalized(),
    }
    return jsonutil.digest(material)


def check_lines(process: schema.Process, doc: Mapping[str, Any], index: int) -> None:
    """Refuse duplicate line ids and, under quantity control, lines without a declared qty."""
    counts = Counter(str(line["line_id"]) for line in doc.get("lines") or [])
    duplicates = sorted(line_id for line_id, n in counts.items() if n > 1)
    if duplicates:
        raise Invalid(
            N_(
                "Document %(id)r repeats line_id %(line_ids)s; every line needs its own line_id.",
                id=doc["external_id"],
                line_ids=", ".join(duplicates),
            ),
            code="duplicate_line_id",
            details={"fields": {"documents": {str(index): {"lines": ["Duplicate line_id."]}}}},
        )
    if process.quantity_control != "none":
        missing = [
            str(line["line_id"])
            for line in doc.get("lines") or []
            if line.get("declared_qty") is None
        ]
        if missing:
            raise Invalid(
                N_(
                    "Business process %(key)r controls quantities, so every line of %(id)r "
                    "needs declared_qty (missing on line %(line_ids)s).",
                    key=process.key,
                    id=doc["external_id"],
                    line_ids=", ".join(missing),
                ),
                details={
                    "fields": {
                        "documents": {
                            str(index): {
                                "lines": ["declared_qty is required under quantity control."]
                            }
                        }
                    }
                },
            )


def enabled_process(tenant_id: int, key: str) -> schema.Process:
    """The current version of a process that accepts documents."""
    process = store.current(tenant_id, key)
    if not process.enabled:
        raise Invalid(
            N_("Business process %(key)r is disabled; an admin can enable it.", key=key),
            code="business_process_disabled",
        )
    return process


def push(
    by: Identity,
    process_key: str,
    target: Target,
    docs: Sequence[Mapping[str, Any]],
    next_target: Target | None = None,
) -> list[Pushed]:
    """Route and store a batch of documents: all of them, or (on any error) none.

    ``next_target`` is where the document chained from each of these goes when it completes
    (its process's ``next_business_process``); without it, the next process's own default.
    """
    next_target = next_target or Target()
    # Computed before the first query: on SQLite that query takes the write lock, which is
    # then held until the commit, so the lock is not held while the lines are hashed.
    digests = [content_hash(doc, target, next_target) for doc in docs]
    process = enabled_process(by.tenant_id, process_key)
    seen = Counter(doc["external_id"] for doc in docs)
    repeated = sorted(ext for ext, n in seen.items() if n > 1)
    if repeated:
        raise Invalid(
            N_(
                "A push names the same external_id more than once: %(ids)s.",
                ids=", ".join(repeated),
            ),
            code="duplicate_external_id",
            details={"external_ids": repeated},
        )
    for index, doc in enumerate(docs):
        check_lines(process, doc, index)
    plan = routing.route(process, target, routing.SqlDirectory(by.tenant_id))
    outcomes: list[Pushed] = []
    in_progress: list[str] = []
    for doc, digest in zip(docs, digests, strict=True):
        outcome = _push_one(by, process, target, next_target, plan, doc, digest)
        if outcome is None:
            in_progress.append(doc["external_id"])
        else:
            outcomes.append(outcome)
    if in_progress:
        raise Conflict(
            N_(
                "These documents are already being worked on a terminal and cannot be changed: "
                "%(ids)s. Cancel them first, or push under a new external_id. Nothing was "
                "uploaded.",
                ids=", ".join(in_progress),
            ),
            code="document_in_progress",
            details={"external_ids": in_progress},
        )
    return outcomes


def _push_one(
    by: Identity,
    process: schema.Process,
    target: Target,
    next_target: Target,
    plan: routing.Plan,
    doc: Mapping[str, Any],
    digest: str,
) -> Pushed | None:
    existing = _locked(by.tenant_id, process.key, doc["external_id"])
    if existing is None:
        try:
            with _racing_insert():
                return create(
                    by,
                    process,
                    doc,
                    target=target,
                    next_target=next_target,
                    plan=plan,
                    digest=digest,
                )
        except IntegrityError:
            # A concurrent push stored the same external_id first (PostgreSQL; SQLite
            # serializes pushes): answer as a re-push of it.
            existing = _locked(by.tenant_id, process.key, doc["external_id"])
            assert existing is not None

    instances = instances_of(existing, for_update=True)
    states = {i.state for i in instances}
    revive = states == {InstanceState.CANCELLED}
    keys = lifecycle.addressee_keys(by.tenant_id, [i.id for i in instances])
    if existing.content_hash == digest and not revive:
        return _existing(existing, "unchanged", instances, keys)
    if not states <= {InstanceState.QUEUED, InstanceState.CANCELLED}:
        return None
    for name, value in _content(doc).items():
        setattr(existing, name, value)
    existing.content_hash = digest
    existing.target = target.normalized()
    existing.next_target = next_target.normalized()
    existing.version += 1
    existing.business_process_version = process.version
    existing.updated_at = utcnow()
    events.record(by.tenant_id, existing.id, "replaced", by, version=existing.version)
    # Every inbox that listed the document sees it change (or go).
    addressees.touch(by.tenant_id, [k for ks in keys.values() for k in ks])
    current_plan = sorted(sorted(ks) for ks in keys.values())
    wanted_plan = sorted(sorted(a.key for a in group) for group in plan)
    if not revive and current_plan == wanted_plan:
        # Same addressees: the instances stay, since their ids are what terminals know.
        return _existing(existing, "replaced", instances, keys)
    db.session.execute(
        delete(Instance).where(
            Instance.tenant_id == by.tenant_id, Instance.document_id == existing.id
        )
    )
    for instance in instances:
        db.session.expunge(instance)
    return _instantiate(existing, plan, "replaced")


_LOCKED = (
    select(Document)
    .where(
        Document.tenant_id == bindparam("tenant_id"),
        Document.business_process == bindparam("key"),
        Document.external_id == bindparam("external_id"),
    )
    .with_for_update()
)


def _racing_insert() -> AbstractContextManager[Any]:
    """A savepoint where a concurrent push can store the same external_id first.

    On PostgreSQL that push's unique key stops this insert, and the savepoint keeps the rest of
    the transaction. SQLite runs one write transaction at a time (BEGIN IMMEDIATE): the lookup
    that found no document holds for the whole push, so no savepoint is needed.
    """
    if db.engine.dialect.name == "sqlite":
        return nullcontext()
    return db.session.begin_nested()


def _locked(tenant_id: int, process_key: str, external_id: str) -> Document | None:
    """The document a push of ``external_id`` meets, locked for the rest of the push."""
    return db.session.scalars(
        _LOCKED, {"tenant_id": tenant_id, "key": process_key, "external_id": external_id}
    ).first()


def _existing(
    document: Document, status: str, instances: list[Instance], keys: dict[uuid.UUID, list[str]]
) -> Pushed:
    described = routing.describe_keys(document.tenant_id, [k for ks in keys.values() for k in ks])
    return Pushed(
        document, status, instances, {i: [described[k] for k in ks] for i, ks in keys.items()}
    )


def create(
    by: Identity,
    process: schema.Process,
    doc: Mapping[str, Any],
    *,
    target: Target,
    next_target: Target,
    plan: routing.Plan,
    digest: str,
    chained_from_result_id: uuid.UUID | None = None,
    **event_details: Any,
) -> Pushed:
    """Store a new document and its instances (a push, or a chain from a completed one)."""
    document = Document(
        tenant_id=by.tenant_id,
        business_process=process.key,
        business_process_version=process.version,
        external_id=doc["external_id"],
        content_hash=digest,
        target=target.normalized(),
        next_target=next_target.normalized(),
        chained_from_result_id=chained_from_result_id,
        **_content(doc),
    )
    db.session.add(document)
    db.session.flush()
    events.record(document.tenant_id, document.id, "pushed", by, version=1, **event_details)
    return _instantiate(document, plan, "created")


def _content(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "number": doc.get("number") or "",
        "date": doc.get("date"),
        "header": dict(doc.get("header") or {}),
        "lines": [dict(line) for line in doc.get("lines") or []],
    }


def _instantiate(document: Document, plan: routing.Plan, status: str) -> Pushed:
    created = [lifecycle.create(document, group) for group in plan]
    return Pushed(
        document, status, created, {i.id: list(g) for i, g in zip(created, plan, strict=True)}
    )


def instances_of(document: Document, *, for_update: bool = False) -> list[Instance]:
    stmt = (
        select(Instance)
        .where(Instance.tenant_id == document.tenant_id, Instance.document_id == document.id)
        .order_by(Instance.id)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return list(db.session.scalars(stmt))


def get(tenant_id: int, document_id: uuid.UUID | None) -> Document:
    """Return a document of the tenant or raise 404."""
    document = db.session.get(Document, (tenant_id, document_id)) if document_id else None
    if document is None:
        raise NotFound(
            N_("There is no document %(id)s.", id=document_id), code="document_not_found"
        )
    return document


def cancel(by: Identity, document_id: uuid.UUID) -> tuple[Document, list[Instance]]:
    """Cancel a document on every terminal that has it (before completion)."""
    document = get(by.tenant_id, document_id)
    return document, lifecycle.cancel(by, document)


@dataclass(frozen=True)
class Filters:
    """What GET /documents narrows by; a filter naming nobody known matches nothing."""

    business_process: str | None = None
    external_id: str | None = None
    state: str | None = None
    device_id: uuid.UUID | None = None
    pin: str | None = None
    user: str | None = None
    group: str | None = None
    updated_since: datetime | None = None


def search(
    tenant_id: int, filters: Filters, *, after: uuid.UUID | None, limit: int
) -> Page[Document]:
    """Return a page of documents, oldest first; ``state`` matches the document's state.

    A device (by id or PIN), user or group matches documents with an instance addressed to
    it or held by it; ``updated_since`` those changed since then, the document or one of its
    instances (a claim, a completion, an ack).
    """
    stmt = select(Document).where(Document.tenant_id == tenant_id)
    if filters.business_process:
        stmt = stmt.where(Document.business_process == filters.business_process)
    if filters.external_id:
        stmt = stmt.where(Document.external_id == filters.external_id)
    if filters.state:
        stmt = stmt.where(*_in_state(filters.state))
    for condition in _addressed(tenant_id, filters):
        if condition is None:
            return Page([], None)
        stmt = stmt.where(condition)
    if filters.updated_since is not None:
        since = filters.updated_since
        stmt = stmt.where(
            (Document.updated_at >= since)
            | exists().where(
                Instance.tenant_id == Document.tenant_id,
                Instance.document_id == Document.id,
                Instance.updated_at >= since,
            )
        )
    if after:
        stmt = stmt.where(Document.id > after)
    return page(list(db.session.scalars(stmt.order_by(Document.id).limit(limit + 1))), limit, by_id)


def _addressed(tenant_id: int, filters: Filters) -> list[Any]:
    """The conditions of the device, user and group filters (None: one names nobody)."""
    conditions: list[Any] = []
    if filters.device_id is not None or filters.pin is not None:
        stmt = select(Device.id).where(Device.tenant_id == tenant_id)
        if filters.device_id is not None:
            stmt = stmt.where(Device.id == filters.device_id)
        if filters.pin is not None:
            stmt = stmt.where(Device.pin == filters.pin, Device.status == "active")
        device_id = db.session.scalars(stmt).first()
        conditions.append(
            None
            if device_id is None
            else _addressed_to(
                addressees.device_key(device_id), Instance.holder_device_id, device_id
            )
        )
    if filters.user is not None:
        user_id = db.session.scalars(
            select(User.id).where(
                User.tenant_id == tenant_id, User.login == filters.user, User.deleted_at.is_(None)
            )
        ).first()
        conditions.append(
            None
            if user_id is None
            else _addressed_to(addressees.user_key(user_id), Instance.holder_user_id, user_id)
        )
    if filters.group is not None:
        group_id = db.session.scalars(
            select(Group.id).where(
                Group.tenant_id == tenant_id,
                Group.name == filters.group,
                Group.deleted_at.is_(None),
            )
        ).first()
        conditions.append(
            None if group_id is None else _addressed_to(addressees.group_key(group_id), None, None)
        )
    return conditions


def _addressed_to(key: str, holder: Any, holder_id: uuid.UUID | None) -> Any:
    addressed = exists().where(
        InstanceAddressee.tenant_id == Document.tenant_id,
        InstanceAddressee.key == key,
        Instance.tenant_id == Document.tenant_id,
        Instance.id == InstanceAddressee.instance_id,
        Instance.document_id == Document.id,
    )
    if holder is None:
        return addressed
    return addressed | exists().where(
        Instance.tenant_id == Document.tenant_id,
        Instance.document_id == Document.id,
        holder == holder_id,
    )


def _has_instance(*states: str) -> Any:
    return exists().where(
        Instance.tenant_id == Document.tenant_id,
        Instance.document_id == Document.id,
        Instance.state.in_(states),
    )


def _in_state(state: str) -> list[Any]:
    """SQL conditions for "the document's state is ``state``" (``lifecycle.document_state``):
    it has an instance in that state and none in a less advanced one, cancelled ones aside."""
    if state == InstanceState.CANCELLED:
        return [~_has_instance(*lifecycle.LIVE_STATES)]
    live = lifecycle.LIVE_STATES
    earlier = live[: live.index(InstanceState(state))]
    conditions = [_has_instance(state)]
    if earlier:
        conditions.append(~_has_instance(*earlier))
    return conditions


def states_of(tenant_id: int, document_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, InstanceState]:
    """Return each document's state, from its instances (one query for the page)."""
    by_doc: dict[uuid.UUID, list[str]] = {d: [] for d in document_ids}
    if document_ids:
        rows = db.session.execute(
            select(Instance.document_id, Instance.state).where(
                Instance.tenant_id == tenant_id, Instance.document_id.in_(document_ids)
            )
        )
        for document_id, state in rows:
            by_doc[document_id].append(state)
    return {d: lifecycle.document_state(s) for d, s in by_doc.items()}

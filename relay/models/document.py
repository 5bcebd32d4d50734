"""Documents, the instances terminals work on, their events, submissions and results."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    bindparam,
    literal,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from relay.models.base import Base, TenantScoped
from relay.timeutil import utcnow


class InstanceState(StrEnum):
    """Where an instance is in its life (SPEC §7); a document's state is its least advanced
    live instance's, so documents are named by the same states."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    PROCESSED = "processed"
    CANCELLED = "cancelled"


class PartState(StrEnum):
    """Where a participant's part of a collective instance is."""

    OPEN = "open"
    SUBMITTED = "submitted"
    DROPPED = "dropped"


# Plain strings, as the CHECK constraints spell them.
INSTANCE_STATES = tuple(s.value for s in InstanceState)
PART_STATES = tuple(s.value for s in PartState)


class Document(TenantScoped, Base):
    """What the accounting side pushed: header and declared lines, under one process version."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "business_process", "external_id"),
        # The console's search by external id or by number, across processes: two probes.
        Index("ix_documents_tenant_id_external_id", "tenant_id", "external_id"),
        Index("ix_documents_tenant_id_number", "tenant_id", "number"),
        ForeignKeyConstraint(
            ["tenant_id", "business_process", "business_process_version"],
            [
                "business_process_versions.tenant_id",
                "business_process_versions.key",
                "business_process_versions.version",
            ],
            name="fk_documents_business_process_version",
        ),
    )

    business_process: Mapped[str] = mapped_column(String(64))
    business_process_version: Mapped[int]
    external_id: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(64), default="")
    date: Mapped[str | None] = mapped_column(String(32))
    header: Mapped[dict[str, Any]]
    lines: Mapped[list[Any]]
    # The push target as given (normalized), so a re-push to another target counts as a change.
    target: Mapped[dict[str, Any] | None]
    # Where the document chained from this one goes (next_business_process), if accounting said.
    next_target: Mapped[dict[str, Any] | None]
    # The result this document was chained from, if any.
    chained_from_result_id: Mapped[uuid.UUID | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Instance(TenantScoped, Base):
    """What terminals work on: one shared instance of a document, or one per user."""

    __tablename__ = "instances"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(f"state IN {INSTANCE_STATES!r}", name="state"),
        Index("ix_instances_tenant_id_document_id", "tenant_id", "document_id"),
        # The admin console's overview counts instances by state (up to a cap). State leads, so
        # SQLite never takes it for "this tenant's instances of these documents" (it would scan
        # the tenant); the document id ends it, so "this document has an instance in that state"
        # is one probe.
        Index("ix_instances_state_tenant_id_document_id", "state", "tenant_id", "document_id"),
        # Claims past their process's claim limit, for the maintenance loop.
        Index(
            "ix_instances_claim_expiry",
            "claim_expires_at",
            sqlite_where=text("state = 'claimed' AND claim_expires_at IS NOT NULL"),
            postgresql_where=text("state = 'claimed' AND claim_expires_at IS NOT NULL"),
        ),
        # A holder's inbox: instances it holds, and cancelled ones it has not dismissed yet.
        Index(
            "ix_instances_held_by_device",
            "tenant_id",
            "holder_device_id",
            "id",
            sqlite_where=text("state IN ('claimed', 'cancelled')"),
            postgresql_where=text("state IN ('claimed', 'cancelled')"),
        ),
        Index(
            "ix_instances_held_by_user",
            "tenant_id",
            "holder_user_id",
            "id",
            sqlite_where=text("state IN ('claimed', 'cancelled')"),
            postgresql_where=text("state IN ('claimed', 'cancelled')"),
        ),
    )

    document_id: Mapped[uuid.UUID]
    state: Mapped[str] = mapped_column(String(16), default=InstanceState.QUEUED.value)
    holder_device_id: Mapped[uuid.UUID | None]
    holder_user_id: Mapped[uuid.UUID | None]
    claim_token_hash: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    # Set from the process's claim_limit_minutes: past it, the instance returns to the queue.
    claim_expires_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Part(TenantScoped, Base):
    """One participant's share of a collective instance: joined, then submitted (or dropped)."""

    __tablename__ = "parts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "instance_id"],
            ["instances.tenant_id", "instances.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(f"state IN {PART_STATES!r}", name="state"),
        Index("ix_parts_tenant_id_instance_id", "tenant_id", "instance_id"),
        # A terminal's inbox lists the collective documents it has joined.
        Index(
            "ix_parts_open_by_device",
            "tenant_id",
            "device_id",
            "instance_id",
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )

    instance_id: Mapped[uuid.UUID]
    device_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    state: Mapped[str] = mapped_column(String(16), default=PartState.OPEN.value)
    token_hash: Mapped[str | None] = mapped_column(String(64))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    header: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lines: Mapped[list[Any]] = mapped_column(default=list)


class InstanceAddressee(Base):
    """One addressee of an instance: ``device:<id>``, ``user:<id>``, ``group:<id>`` or ``all``.

    ``listed`` says whether the instance shows in its addressees' inboxes (queued, or a
    collective instance still open to join), so the inbox index holds only what is waiting.
    """

    __tablename__ = "instance_addressees"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "instance_id"],
            ["instances.tenant_id", "instances.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_instance_addressees_inbox",
            "tenant_id",
            "key",
            "instance_id",
            # As SQLAlchemy renders a boolean column in a WHERE clause on each database.
            sqlite_where=text("listed = 1"),
            postgresql_where=text("listed"),
        ),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(48), primary_key=True)
    listed: Mapped[bool] = mapped_column(default=True)


class Event(TenantScoped, Base):
    """One step in a document's timeline: who did what, when, from which device."""

    __tablename__ = "events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            ondelete="CASCADE",
        ),
        Index("ix_events_tenant_id_document_id", "tenant_id", "document_id"),
        # The admin console's recent failures: failed chains, newest first.
        Index(
            "ix_events_chain_failed",
            "tenant_id",
            "at",
            sqlite_where=text("kind = 'chain_failed'"),
            postgresql_where=text("kind = 'chain_failed'"),
        ),
    )

    document_id: Mapped[uuid.UUID]
    # Not a foreign key: a re-push may replace the instances an older event speaks of.
    instance_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Submission(Base):
    """A completion as the terminal sent it, keyed by its ``submission_id``, with the answer."""

    __tablename__ = "submissions"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    submission_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    instance_id: Mapped[uuid.UUID]
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Result(TenantScoped, Base):
    """A completed instance as returned to accounting: declared vs actual lines."""

    __tablename__ = "results"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "instance_id"],
            ["instances.tenant_id", "instances.id"],
            ondelete="CASCADE",
        ),
        # The results feed: unprocessed results in completion order.
        Index(
            "ix_results_feed",
            "tenant_id",
            "completed_at",
            "id",
            sqlite_where=text("processed_at IS NULL"),
            postgresql_where=text("processed_at IS NULL"),
        ),
        Index("ix_results_tenant_id_instance_id", "tenant_id", "instance_id"),
        Index("ix_results_tenant_id_document_id", "tenant_id", "document_id"),
        # The admin console: today's completions, and results newest first.
        Index("ix_results_tenant_id_completed_at", "tenant_id", "completed_at"),
    )

    document_id: Mapped[uuid.UUID]
    instance_id: Mapped[uuid.UUID]
    business_process: Mapped[str] = mapped_column(String(64))
    business_process_version: Mapped[int]
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_by_device_id: Mapped[uuid.UUID | None]
    completed_by_user_id: Mapped[uuid.UUID | None]
    # The completing device's mode: online results are also delivered by webhook.
    device_mode: Mapped[str] = mapped_column(String(8), default="offline")
    header: Mapped[dict[str, Any]]
    lines: Mapped[list[Any]]
    undeclared: Mapped[list[Any]]
    processed_at: Mapped[datetime | None]
    processed_via: Mapped[str | None] = mapped_column(String(16))
    # Collective work returned one result per part (keep_merged_document: false).
    part_id: Mapped[uuid.UUID | None]
    # The document chained from this result (next_business_process), when one was started.
    next_document_id: Mapped[uuid.UUID | None]
    # How the chain went, when the process has a next one: {"state": "started", ...} or
    # {"state": "failed", "code", "reason", ...}, shown on the result.
    chain: Mapped[dict[str, Any] | None]


# What a holder keeps in its inbox: what it works on, and what was cancelled under it.
HELD_STATES = (InstanceState.CLAIMED.value, InstanceState.CANCELLED.value)

# The inbox's partial indexes are chosen only when the query names the same states as their
# WHERE clause: SQLite (never ANALYZEd here) cannot see through a bound parameter. So these
# constants go into the SQL as literals.
HELD: BindParameter[Any] = bindparam(None, HELD_STATES, expanding=True, literal_execute=True)
OPEN = literal(PartState.OPEN.value, literal_execute=True)

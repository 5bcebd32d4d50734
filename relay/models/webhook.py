"""Online mode: a tenant's webhook endpoint and the durable outbox of deliveries to it."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from relay.models.base import Base, TenantScoped
from relay.timeutil import utcnow


class OutboxState(StrEnum):
    """Where a webhook delivery is: waiting or retried, done, given up, or no longer needed."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    SKIPPED = "skipped"


# Plain strings, as the CHECK constraint spells them.
OUTBOX_STATES = tuple(s.value for s in OutboxState)


class WebhookEndpoint(Base):
    """Where a tenant's online results go, and the secret that signs them.

    The secret is kept as is, not hashed: every delivery computes an HMAC with it.
    """

    __tablename__ = "webhook_endpoints"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    enabled: Mapped[bool] = mapped_column(default=True)
    secret: Mapped[str] = mapped_column(String(200))
    # After a rotation the old secret also signs, until this time.
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None]
    # Why the relay disabled the endpoint itself, e.g. "410 Gone at 2026-11-20T10:15:00Z".
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEntry(TenantScoped, Base):
    """One result to deliver by webhook; its id is the ``webhook-id`` every attempt carries.

    Written in the transaction that stores the result, so a crash cannot lose it. A worker
    leases a due entry by moving ``next_attempt_at`` to the end of its lease: an entry whose
    worker died becomes due again when the lease runs out, with the same id.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "result_id"],
            ["results.tenant_id", "results.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(f"state IN {OUTBOX_STATES!r}", name="state"),
        # One delivery per result: a replay reuses the entry, and so the webhook-id.
        UniqueConstraint("tenant_id", "result_id"),
        # What the workers look for: pending entries by due time.
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        # The admins' dead-letter list.
        Index(
            "ix_outbox_dead",
            "tenant_id",
            "id",
            sqlite_where=text("state = 'dead'"),
            postgresql_where=text("state = 'dead'"),
        ),
    )

    result_id: Mapped[uuid.UUID]
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING.value)
    # Attempts that reached a verdict (a 410 or a stop before sending does not count).
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    leased_until: Mapped[datetime | None]
    # The worker holding the lease; after an attempt, the worker that made it.
    leased_by: Mapped[str | None] = mapped_column(String(100))
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header: the same on every attempt, so receivers dedupe on it."""
        return webhook_id(self.id)


def webhook_id(entry_id: uuid.UUID) -> str:
    """Spell an outbox entry's id the way Standard Webhooks examples do: ``msg_…``."""
    return f"msg_{entry_id.hex}"

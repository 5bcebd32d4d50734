"""The admin console: its accounts, their sign-in sessions, and the audit of their changes."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from relay.models.base import Base, TenantScoped
from relay.timeutil import utcnow


class ConsoleAccount(TenantScoped, Base):
    """A person who signs in to the tenant's admin console with a login and a password."""

    __tablename__ = "console_accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "login"),)

    login: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class ConsoleSession(TenantScoped, Base):
    """One sign-in; the cookie carries its id, so signing out ends it on the server too.

    ``account_id`` is empty for the admin key's sign-in, which may only create accounts.
    """

    __tablename__ = "console_sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["console_accounts.tenant_id", "console_accounts.id"],
            ondelete="CASCADE",
        ),
    )

    account_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class AuditEntry(TenantScoped, Base):
    """One change made in the console: who, when, what, on which object."""

    __tablename__ = "console_audit"
    __table_args__ = (Index("ix_console_audit_tenant_id_at", "tenant_id", "at"),)

    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The login at the time (accounts may be renamed or removed later); "admin key" otherwise.
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

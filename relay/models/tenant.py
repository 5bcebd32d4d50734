"""Tenants and the credentials that open them."""

import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from relay.models.base import Base, TenantScoped
from relay.timeutil import utcnow


class Tenant(Base):
    """One accounting base: a company or a trading object."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped whenever the set of documents addressed to "all" changes: part of inbox ETags.
    all_inbox_seq: Mapped[int] = mapped_column(default=0)


class Credential(TenantScoped, Base):
    """A bearer token, stored as its hash: admin key, accounting key, device token, session."""

    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_hash"),
        Index("ix_credentials_token_hash", "token_hash"),
        ForeignKeyConstraint(
            ["tenant_id", "device_id"], ["devices.tenant_id", "devices.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
    )

    kind: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class EnrollmentCode(TenantScoped, Base):
    """A code a terminal presents once to enroll; only its hash is kept."""

    __tablename__ = "enrollment_codes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code_hash"),
        Index("ix_enrollment_codes_code_hash", "code_hash"),
    )

    code_hash: Mapped[str] = mapped_column(String(64))
    uses_left: Mapped[int]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Devices, users and groups: who documents are addressed to."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from relay.models.base import Base, TenantScoped
from relay.timeutil import utcnow


class Device(TenantScoped, Base):
    """An enrolled terminal. Its PIN is an address, unique among the tenant's active devices."""

    __tablename__ = "devices"
    __table_args__ = (
        # A revoked device's PIN is set to NULL, which frees it for reuse.
        UniqueConstraint("tenant_id", "pin"),
        CheckConstraint("mode IN ('online', 'offline')", name="mode"),
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
    )

    name: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100), default="")
    serial: Mapped[str] = mapped_column(String(100), default="")
    pin: Mapped[str | None] = mapped_column(String(12))
    # The PIN it had when revoked, for the record; never an address.
    last_pin: Mapped[str | None] = mapped_column(String(12))
    mode: Mapped[str] = mapped_column(String(8), default="offline")
    status: Mapped[str] = mapped_column(String(8), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    inbox_seq: Mapped[int] = mapped_column(default=0)


class User(TenantScoped, Base):
    """An operator who logs in on a terminal. Deleting one keeps the row for history."""

    __tablename__ = "users"
    __table_args__ = (
        Index(
            "uq_users_tenant_id_login",
            "tenant_id",
            "login",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    login: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    inbox_seq: Mapped[int] = mapped_column(default=0)


class Group(TenantScoped, Base):
    """A named set of users ("Общая", "Кладовщики")."""

    __tablename__ = "groups"
    __table_args__ = (
        Index(
            "uq_groups_tenant_id_name",
            "tenant_id",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    inbox_seq: Mapped[int] = mapped_column(default=0)


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["groups.tenant_id", "groups.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        Index("ix_group_members_tenant_id_user_id", "tenant_id", "user_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)

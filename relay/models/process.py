"""A tenant's business processes and every version they have had."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from relay.models.base import Base
from relay.timeutil import utcnow


class BusinessProcess(Base):
    """The current version of one process; its row is locked while the process is edited."""

    __tablename__ = "business_processes"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int]
    definition: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BusinessProcessVersion(Base):
    """A process as it was at one version: documents pushed under it keep reading it."""

    __tablename__ = "business_process_versions"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

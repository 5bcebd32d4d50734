"""Failure counters behind rate limits and login lockouts, shared by every worker and node."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from relay.models.base import Base


class FailureCounter(Base):
    """Failed attempts of one kind by one subject, forgotten a quiet window after the last.

    Counts made before a tenant is known (enrollment, by client address) have ``tenant_id``
    0: there is no tenant 0, so the column carries no foreign key.
    """

    __tablename__ = "failure_counters"

    tenant_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # What is counted: "enroll" and "login-address" by client address, "login" by operator.
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The client address, or the login tried.
    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    # For logins the device tried from (a lockout is per operator and device), else "".
    holder: Mapped[str] = mapped_column(String(40), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime]

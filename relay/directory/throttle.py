"""Failure counting for rate limits and lockouts, kept in the database every worker shares.

A count lives in one row, changed by one atomic upsert, so two gunicorn workers (or two nodes)
answering the same client see the same number: with a limit of 10, exactly 10 failures are
answered before the first refusal, however the requests are spread. Failures are forgotten
``window`` after the last one counted; refused attempts are not counted, so waiting out the
window is always enough.

Every function here commits the session: call them between units of work, never inside one.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from relay.extensions import db
from relay.models import FailureCounter
from relay.timeutil import utcnow

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.I)


@dataclass(frozen=True)
class Limit:
    """At most ``failures`` failures, forgotten ``window`` after the last one."""

    failures: int
    window: timedelta

    @classmethod
    def parse(cls, text: str) -> "Limit":
        """Read a limit written as "10 per 10 minutes" (or "5/hour")."""
        match = _LIMIT.match(text)
        if match is None or int(match.group(1)) < 1:
            raise ValueError(f"not a limit: {text!r} (write e.g. '10 per 10 minutes')")
        seconds = int(match.group(2) or 1) * _UNITS[match.group(3).lower()]
        return cls(int(match.group(1)), timedelta(seconds=seconds))


@dataclass(frozen=True)
class Counter:
    """One thing counted: a scope, a subject (an address, a login), and where it was tried."""

    scope: str
    subject: str
    tenant_id: int = 0
    holder: str = ""

    def _where(self) -> list[Any]:
        return [
            FailureCounter.tenant_id == self.tenant_id,
            FailureCounter.scope == self.scope,
            FailureCounter.subject == self.subject[:100],
            FailureCounter.holder == self.holder,
        ]


def blocked_for(counter: Counter, limit: Limit) -> int:
    """Return the seconds ``counter`` stays refused (0: not refused now)."""
    row = db.session.execute(
        select(FailureCounter.failures, FailureCounter.expires_at).where(*counter._where())
    ).first()
    db.session.commit()
    return _refused(row, limit)


def count(counter: Counter, limit: Limit) -> int:
    """Count one failure and return the seconds it is refused now (0: within the limit)."""
    now = utcnow()
    table = FailureCounter.__table__
    values = {
        "tenant_id": counter.tenant_id,
        "scope": counter.scope,
        "subject": counter.subject[:100],
        "holder": counter.holder,
        "failures": 1,
        "expires_at": now + limit.window,
    }
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(table)
        .values(values)
        .on_conflict_do_update(
            index_elements=["tenant_id", "scope", "subject", "holder"],
            set_={
                "failures": case((table.c.expires_at <= now, 1), else_=table.c.failures + 1),
                "expires_at": now + limit.window,
            },
        )
        .returning(table.c.failures, table.c.expires_at)
    )
    row = db.session.execute(stmt).first()
    db.session.commit()
    return _refused(row, limit)


def uncount(counter: Counter) -> None:
    """Take back one counted attempt (it turned out not to be a failure)."""
    db.session.execute(
        update(FailureCounter)
        .where(*counter._where(), FailureCounter.failures > 0)
        .values(failures=FailureCounter.failures - 1)
    )
    db.session.commit()


def forget(counter: Counter) -> None:
    """Forget every failure of ``counter`` (a success after failures, an admin's reset)."""
    db.session.execute(delete(FailureCounter).where(*counter._where()))
    db.session.commit()


def forget_login(tenant_id: int, login: str) -> None:
    """Lift the lockouts of ``login`` on every device."""
    db.session.execute(
        delete(FailureCounter).where(
            FailureCounter.tenant_id == tenant_id,
            FailureCounter.scope == "login",
            FailureCounter.subject == login[:100],
        )
    )


def locked_until(tenant_id: int, login: str, failures: int) -> datetime | None:
    """Return when the last lockout of ``login`` (on any device) ends, or None."""
    return db.session.scalars(
        select(FailureCounter.expires_at)
        .where(
            FailureCounter.tenant_id == tenant_id,
            FailureCounter.scope == "login",
            FailureCounter.subject == login[:100],
            FailureCounter.failures >= failures,
            FailureCounter.expires_at > utcnow(),
        )
        .order_by(FailureCounter.expires_at.desc())
        .limit(1)
    ).first()


def _refused(row: Any, limit: Limit) -> int:
    if row is None or row.failures <= limit.failures:
        return 0
    remaining = (row.expires_at - utcnow()).total_seconds()
    return max(0, int(remaining) + 1)

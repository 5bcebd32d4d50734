"""The consistency query: what the relay's database holds for one tenant, read with plain SQL.

The fault tests compare it with what the clients were told, so a document lost, doubled or
half-applied by a killed process or a database restart shows up here, not through the API.
"""

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text

COUNTS = text(
    """
    SELECT d.external_id, d.business_process, d.version, d.lines,
      (SELECT count(*) FROM instances i
        WHERE i.tenant_id = d.tenant_id AND i.document_id = d.id) AS instances,
      (SELECT count(*) FROM results r
        WHERE r.tenant_id = d.tenant_id AND r.document_id = d.id) AS results,
      (SELECT count(*) FROM submissions s JOIN instances i
         ON i.tenant_id = s.tenant_id AND i.id = s.instance_id
        WHERE i.tenant_id = d.tenant_id AND i.document_id = d.id) AS submissions
    FROM documents d JOIN tenants t ON t.id = d.tenant_id
    WHERE t.name = :tenant
    """
)

EVENTS = text(
    """
    SELECT d.external_id, e.kind, count(*)
    FROM events e
    JOIN documents d ON d.tenant_id = e.tenant_id AND d.id = e.document_id
    JOIN tenants t ON t.id = d.tenant_id
    WHERE t.name = :tenant
    GROUP BY d.external_id, e.kind
    """
)

INSTANCES = text(
    """
    SELECT d.external_id, i.id, i.state, u.login
    FROM instances i
    JOIN documents d ON d.tenant_id = i.tenant_id AND d.id = i.document_id
    JOIN tenants t ON t.id = d.tenant_id
    LEFT JOIN users u ON u.tenant_id = i.tenant_id AND u.id = i.holder_user_id
    WHERE t.name = :tenant
    """
)

RESULTS = text(
    """
    SELECT d.external_id, r.id, r.instance_id, r.lines, r.undeclared
    FROM results r
    JOIN documents d ON d.tenant_id = r.tenant_id AND d.id = r.document_id
    JOIN tenants t ON t.id = d.tenant_id
    WHERE t.name = :tenant
    """
)


@dataclass
class Stored:
    """One document as the database holds it, with its counts of everything hung on it."""

    external_id: str
    business_process: str
    version: int
    declared_lines: int
    instances: int
    results: int
    submissions: int
    events: Counter[str]


@dataclass
class StoredInstance:
    external_id: str
    id: uuid.UUID
    state: str
    holder_login: str | None


@dataclass
class StoredResult:
    external_id: str
    id: uuid.UUID
    instance_id: uuid.UUID
    lines: list[dict[str, Any]]
    undeclared: list[Any]


@dataclass
class Audit:
    """Everything of one tenant; ``documents`` has one entry per stored row (so doubles show)."""

    documents: list[Stored]
    instances: list[StoredInstance]
    results: list[StoredResult]

    def by_external_id(self) -> dict[str, Stored]:
        return {d.external_id: d for d in self.documents}

    def duplicated_external_ids(self) -> list[str]:
        counts = Counter(d.external_id for d in self.documents)
        return sorted(e for e, n in counts.items() if n > 1)


def as_uuid(value: Any) -> uuid.UUID:
    """A UUID whether the driver gave one (PostgreSQL) or its hex text (SQLite)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def as_json(value: Any) -> Any:
    """A JSON column's value whether the driver decoded it (PostgreSQL) or not (SQLite)."""
    return json.loads(value) if isinstance(value, str) else value


def audit(database_url: str, tenant: str) -> Audit:
    """Read one tenant's documents, instances, submissions, results and events."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            params = {"tenant": tenant}
            events: dict[str, Counter[str]] = {}
            for external_id, kind, n in conn.execute(EVENTS, params):
                events.setdefault(external_id, Counter())[kind] = int(n)
            documents = [
                Stored(
                    external_id=row.external_id,
                    business_process=row.business_process,
                    version=int(row.version),
                    declared_lines=len(as_json(row.lines)),
                    instances=int(row.instances),
                    results=int(row.results),
                    submissions=int(row.submissions),
                    events=events.get(row.external_id, Counter()),
                )
                for row in conn.execute(COUNTS, params)
            ]
            instances = [
                StoredInstance(row[0], as_uuid(row[1]), row[2], row[3])
                for row in conn.execute(INSTANCES, params)
            ]
            results = [
                StoredResult(
                    row[0], as_uuid(row[1]), as_uuid(row[2]), as_json(row[3]), as_json(row[4])
                )
                for row in conn.execute(RESULTS, params)
            ]
    finally:
        engine.dispose()
    return Audit(documents, instances, results)

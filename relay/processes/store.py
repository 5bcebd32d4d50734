"""A tenant's business processes in the database: current definitions, versions, edits.

Versions are immutable once written, so ``at_version`` keeps what it read in the app's
version cache: a bounded map from (tenant, key, version) to ``Process`` that lives as long as
the app and is cleared whole when full."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import bindparam, select

from relay.db import core
from relay.errors import N_, Conflict, Invalid, NotFound
from relay.extensions import db
from relay.models import BusinessProcess, BusinessProcessVersion
from relay.processes.schema import Process, chain_loop, validate_definition
from relay.timeutil import iso, utcnow


def import_definitions(
    tenant_id: int, definitions: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Store definitions read from files as new versions; return what became of each key.

    Unchanged processes keep their version. Processes are saved in chain order (a process
    before the one that chains to it), so a directory may add a whole chain at once.
    """
    outcome: dict[str, str] = {}
    pending = dict(definitions)
    while pending:
        ready = [
            key
            for key, d in pending.items()
            if d.get("next_business_process") not in pending
            or d.get("next_business_process") == key
        ]
        for key in sorted(ready):
            definition = dict(pending.pop(key))
            existing = db.session.get(BusinessProcess, (tenant_id, key))
            if existing is not None and existing.definition == validate_definition(definition):
                outcome[key] = "unchanged"
                continue
            save(tenant_id, key, definition, partial=False)
            outcome[key] = "created" if existing is None else "updated"
    return outcome


# -- the tenant's copies ---------------------------------------------------------------------


def install(tenant_id: int, definitions: Iterable[Mapping[str, Any]]) -> None:
    """Add each definition to a tenant as version 1 (used when a tenant is created)."""
    for definition in definitions:
        _write(tenant_id, dict(definition), version=1, current=None)


def get(tenant_id: int, key: str, *, for_update: bool = False) -> BusinessProcess:
    """Return the tenant's current process ``key`` or raise 404."""
    stmt = select(BusinessProcess).where(
        BusinessProcess.tenant_id == tenant_id, BusinessProcess.key == key
    )
    if for_update:
        stmt = stmt.with_for_update()
    row = db.session.scalars(stmt).first()
    if row is None:
        raise NotFound(
            N_(
                "There is no business process %(key)r. The processes this tenant has are listed "
                "by GET /api/v1/business-processes (accounting key); an admin adds or enables "
                "one.",
                key=key,
            ),
            code="business_process_not_found",
            details={
                "business_process": key,
                "available": [r.key for r in list_current(tenant_id) if r.definition["enabled"]],
            },
        )
    return row


_CURRENT_VERSION = select(BusinessProcess.version).where(
    BusinessProcess.tenant_id == bindparam("tenant_id"), BusinessProcess.key == bindparam("key")
)


def current(tenant_id: int, key: str) -> Process:
    """Return the current version of a process, typed.

    Reads only the version number: the definition of a version never changes, so it comes
    from the version cache when this worker has read it before (every push reads this).
    """
    version = core(_CURRENT_VERSION, {"tenant_id": tenant_id, "key": key}).scalar()
    process = VERSIONS.get(tenant_id, key, version) if version is not None else None
    if process is None:
        row = get(tenant_id, key)
        process = Process(key=row.key, version=row.version, definition=row.definition)
        VERSIONS.put(process, tenant_id)
    return process


class VersionCache:
    """Processes by (tenant, key, version), kept for the life of the Python process.

    A stored version never changes, so each worker keeps the ones it has read: claim, complete,
    the inbox and the results feed all need the process of the document at hand. The cache is
    bounded (cleared whole when full) and an entry is dropped when its version is written again,
    which happens only when a tenant's id is reused after the tenant was deleted (tests).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: dict[tuple[int, str, int], Process] = {}

    def get(self, tenant_id: int, key: str, version: int) -> Process | None:
        return self._kept.get((tenant_id, key, version))

    def put(self, process: Process, tenant_id: int) -> None:
        if len(self._kept) >= self.limit:
            self._kept.clear()
        self._kept[(tenant_id, process.key, process.version)] = process

    def drop(self, tenant_id: int, key: str, version: int) -> None:
        self._kept.pop((tenant_id, key, version), None)


VERSIONS = VersionCache(limit=1024)


def at_version(tenant_id: int, key: str, version: int) -> Process:
    """Return a process as it was at ``version`` (what a document was pushed under)."""
    process = VERSIONS.get(tenant_id, key, version)
    if process is None:
        row = db.session.get(BusinessProcessVersion, (tenant_id, key, version))
        if row is None:  # the foreign key from documents makes this unreachable
            raise NotFound(
                N_("Business process %(key)r has no version %(version)s.", key=key, version=version)
            )
        process = Process(key=row.key, version=row.version, definition=row.definition)
        VERSIONS.put(process, tenant_id)
    return process


class MadeUnder(Protocol):
    """A row made under one version of a process: a document, or a result of one."""

    @property
    def tenant_id(self) -> int: ...
    @property
    def business_process(self) -> str: ...
    @property
    def business_process_version(self) -> int: ...


def version_of(row: MadeUnder) -> Process:
    """Return the process a document or result was made under (from the version cache)."""
    return at_version(row.tenant_id, row.business_process, row.business_process_version)


def list_current(tenant_id: int) -> list[BusinessProcess]:
    """Return the tenant's processes by key."""
    return list(
        db.session.scalars(
            select(BusinessProcess)
            .where(BusinessProcess.tenant_id == tenant_id)
            .order_by(BusinessProcess.key)
        )
    )


def save(
    tenant_id: int,
    key: str,
    data: Mapping[str, Any],
    *,
    partial: bool,
    expected_versions: Sequence[int | None] = (),
    updated_at: str | None = None,
) -> BusinessProcess:
    """Validate and store a new version of ``key`` (PUT creates it when missing).

    Optimistic locking: each of ``expected_versions`` (the version the editor read, from the
    body or from If-Match; None for one that names no version) must be the current version,
    checked under the row's lock. ``updated_at`` sent back must be the current one unchanged.
    """
    if "key" in data and data["key"] != key:
        raise Invalid(
            N_(
                "The body names process %(body)r but the address names %(key)r; a process key "
                "cannot be changed.",
                body=data["key"],
                key=key,
            ),
            code="key_mismatch",
            details={"fields": {"key": ["Must match the key in the address."]}},
        )
    existing = db.session.scalars(
        select(BusinessProcess)
        .where(BusinessProcess.tenant_id == tenant_id, BusinessProcess.key == key)
        .with_for_update()
    ).first()
    if partial:
        if existing is None:
            get(tenant_id, key)  # raises the 404
        assert existing is not None
        merged = {**existing.definition, **data}
        # Nested objects are merged one level deep, so PATCH {"on_load": {"post_after_load": true}}
        # keeps the other load instructions.
        for name in ("on_load", "fields", "assignees"):
            if isinstance(data.get(name), Mapping) and isinstance(
                existing.definition.get(name), Mapping
            ):
                merged[name] = {**existing.definition[name], **data[name]}
    else:
        merged = dict(data)
    merged["key"] = key
    definition = validate_definition(merged)
    check_chain(tenant_id, definition)
    _check_version(key, existing, expected_versions)
    if updated_at is not None and (existing is None or updated_at != iso(existing.updated_at)):
        raise Invalid(
            N_("updated_at is set by the relay: send it back as GET gave it, or leave it out."),
            code="read_only_changed",
            details={"fields": {"updated_at": ["Read-only: it differs from the current value."]}},
        )
    if existing is None:
        return _write(tenant_id, definition, version=1, current=None)
    return _write(tenant_id, definition, version=existing.version + 1, current=existing)


def _check_version(
    key: str, existing: BusinessProcess | None, expected: Sequence[int | None]
) -> None:
    current = existing.version if existing is not None else None
    for version in expected:
        if version != current:
            raise Conflict(
                N_(
                    "Business process %(key)r is at version %(current)s, not %(version)s: it was "
                    "changed since it was read. Read it again, make the change again and save.",
                    key=key,
                    current=current,
                    version=version if version is not None else N_("the one sent"),
                )
                if current is not None
                else N_(
                    "Business process %(key)r does not exist yet: create it without a version.",
                    key=key,
                ),
                code="version_conflict",
                details={"current_version": current, "sent_version": version},
            )


def check_chain(tenant_id: int, definition: Mapping[str, Any]) -> None:
    """Refuse a ``next_business_process`` that does not exist or would make a loop."""
    key = definition["key"]

    def next_of(name: str) -> str | None:
        if name == key:
            return definition.get("next_business_process")
        row = db.session.get(BusinessProcess, (tenant_id, name))
        if row is None:
            raise Invalid(
                N_(
                    "next_business_process names %(name)r, which this tenant does not have.",
                    name=name,
                ),
                code="unknown_business_process",
                details={"fields": {"next_business_process": ["Unknown process."]}},
            )
        return row.definition.get("next_business_process")

    loop = chain_loop(key, next_of)
    if loop:
        raise Invalid(
            N_("This chain of processes would loop: %(loop)s.", loop=" → ".join(loop)),
            code="process_chain_loop",
            details={"fields": {"next_business_process": ["Would make a loop."]}},
        )


def _write(
    tenant_id: int,
    definition: dict[str, Any],
    *,
    version: int,
    current: BusinessProcess | None,
) -> BusinessProcess:
    now = utcnow()
    # A version number taken by a transaction that rolled back may be written again.
    VERSIONS.drop(tenant_id, definition["key"], version)
    db.session.add(
        BusinessProcessVersion(
            tenant_id=tenant_id,
            key=definition["key"],
            version=version,
            definition=definition,
            created_at=now,
        )
    )
    if current is None:
        current = BusinessProcess(
            tenant_id=tenant_id, key=definition["key"], version=version, definition=definition
        )
        db.session.add(current)
    else:
        current.version = version
        current.definition = definition
    current.updated_at = now
    db.session.flush()
    return current

"""What admins do to a process besides editing it: copy, reset to shipped, compare versions."""

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from relay.errors import N_, Conflict, NotFound
from relay.extensions import db
from relay.models import BusinessProcess, BusinessProcessVersion
from relay.processes import files, store


@dataclass(frozen=True)
class Change:
    """One field that differs between two versions (nested: ``on_load.post_after_load``)."""

    field: str
    before: Any
    after: Any


def versions(tenant_id: int, key: str) -> list[BusinessProcessVersion]:
    """Return every version of a process, newest first."""
    store.get(tenant_id, key)
    return list(
        db.session.scalars(
            select(BusinessProcessVersion)
            .where(BusinessProcessVersion.tenant_id == tenant_id, BusinessProcessVersion.key == key)
            .order_by(BusinessProcessVersion.version.desc())
        )
    )


def _flat(definition: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in definition.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            out.update(_flat(value, path + "."))
        else:
            out[path] = value
    return out


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """List the fields that changed from ``before`` to ``after``, in a stable order."""
    old, new = _flat(before), _flat(after)
    names = [*old, *(n for n in new if n not in old)]
    return [Change(n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n)]


def changes_by_version(rows: list[BusinessProcessVersion]) -> dict[int, list[Change]]:
    """For each version (rows newest first), what changed from the one before it."""
    out: dict[int, list[Change]] = {}
    for newer, older in itertools.pairwise(rows):
        out[newer.version] = diff(older.definition, newer.definition)
    if rows:
        out.setdefault(rows[-1].version, [])
    return out


def shipped(key: str) -> dict[str, Any]:
    """Return the shipped definition of ``key`` or raise 404 when the relay ships none."""
    definitions = files.load_directory(files.shipped_directory())
    if key not in definitions:
        raise NotFound(
            N_("The relay ships no process %(key)r; only shipped processes can be reset.", key=key),
            code="not_shipped",
        )
    return definitions[key]


def reset_to_shipped(tenant_id: int, key: str) -> BusinessProcess:
    """Store the shipped definition as the process's next version."""
    store.get(tenant_id, key)
    return store.save(tenant_id, key, shipped(key), partial=False)


def copy(tenant_id: int, key: str, new_key: str, name: str) -> BusinessProcess:
    """Create a process ``new_key`` from ``key``'s current definition, with a new name."""
    source = store.get(tenant_id, key)
    if db.session.get(BusinessProcess, (tenant_id, new_key)) is not None:
        raise Conflict(
            N_("A process with key %(key)r already exists.", key=new_key),
            code="process_exists",
            details={"fields": {"key": ["Already taken."]}},
        )
    definition = {**source.definition, "key": new_key, "name": name}
    return store.save(tenant_id, new_key, definition, partial=False)

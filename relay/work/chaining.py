"""Chaining (``next_business_process``): a completed result starts the next document.

The new document is routed by the next process's own rules, to the ``next_target`` the
accounting side gave when it pushed the first document. Without one, a next process that
needs a target gets the one who completed the step: the device, or in an operator session the
operator (SPEC §5). Its declared lines are the result's actual lines: every box, serial number
or lot the terminal recorded becomes a line to check at the next step. A chain that cannot be
routed does not undo the completion: the failure is written on the result (``chain``), where
the feed and the webhook show it, and into the timeline.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from relay.directory.auth import Identity
from relay.documents import events, push, routing
from relay.documents.routing import Target
from relay.errors import RelayError
from relay.extensions import db
from relay.jsonutil import digest
from relay.models import Document, Result
from relay.processes.schema import Process

_RESULT_ONLY = ("actual", "actual_qty", "declared_qty")


def declared_from_result(
    lines: Sequence[dict[str, Any]], undeclared: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Turn a result's actual lines into the declared lines of the next document.

    A declared line with one actual line keeps its line_id; with several, they become
    ``<line_id>-1``, ``<line_id>-2``… Goods that were not declared become ``u1``, ``u2``…
    A made-up id that another line already has gets a further ``-2``, ``-3``… Lines with
    nothing actual are left out: nothing of them moves on.
    """
    entries: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for line in lines:
        actual = [a for a in line.get("actual") or [] if a.get("qty")]
        base = {k: v for k, v in line.items() if k not in _RESULT_ONLY}
        for index, entry in enumerate(actual, start=1):
            wanted = str(line["line_id"]) if len(actual) == 1 else f"{line['line_id']}-{index}"
            entries.append((wanted, base, entry))
    for index, entry in enumerate(undeclared, start=1):
        entries.append((f"u{index}", {}, entry))
    # Ids that are kept come first, so a made-up one never takes an id a line already has.
    used = {wanted for wanted, base, _ in entries if base and wanted == str(base["line_id"])}
    out: list[dict[str, Any]] = []
    for wanted, base, entry in entries:
        line_id = wanted
        if not (base and wanted == str(base["line_id"])):
            suffix = 1
            while line_id in used:
                suffix += 1
                line_id = f"{wanted}-{suffix}"
            used.add(line_id)
        item = {**base, **{k: v for k, v in entry.items() if k not in ("qty", "part_id")}}
        item["line_id"] = line_id
        item["declared_qty"] = Decimal(entry["qty"])
        out.append(item)
    return out


def _free_external_id(tenant_id: int, process_key: str, external_id: str) -> str:
    """The source's external_id, or ``<id>#2``, ``#3``… when the next process already has it."""
    taken = set(
        db.session.scalars(
            select(Document.external_id).where(
                Document.tenant_id == tenant_id,
                Document.business_process == process_key,
                Document.external_id.like(
                    external_id.replace("%", r"\%").replace("_", r"\_") + "%", escape="\\"
                ),
            )
        )
    )
    candidate, n = external_id, 1
    while candidate in taken:
        n += 1
        candidate = f"{external_id}#{n}"
    return candidate


def fallback_target(process: Process, named: Target, by: Identity) -> Target:
    """Where the next document goes: the target the push named, else whoever completed.

    A process with fixed assignees needs no target (they are its default); any other gets the
    completing operator (users processes, in a session) or the completing device.
    """
    if named.kind != "none" or by.device_id is None:
        return named
    if process.assign_to == "users":
        if process.has_fixed_assignees:
            return named
        if by.user_login is not None:
            return Target(users=(by.user_login,))
    return Target(device_id=by.device_id)


def start_next(
    by: Identity,
    source: Document,
    next_key: str | None,
    results: Sequence[Result],
    header: dict[str, Any],
    lines: Sequence[dict[str, Any]],
    undeclared: Sequence[dict[str, Any]],
) -> Document | None:
    """Start the document that follows ``source``; record the link in both timelines."""
    if not next_key:
        return None
    try:
        with db.session.begin_nested():
            process = push.enabled_process(source.tenant_id, next_key)
            target = fallback_target(process, Target.from_dict(source.next_target), by)
            plan = routing.route(process, target, routing.SqlDirectory(source.tenant_id))
            doc = {
                "external_id": _free_external_id(source.tenant_id, next_key, source.external_id),
                "number": source.number,
                "date": source.date,
                "header": {**source.header, **header},
                "lines": declared_from_result(lines, undeclared),
            }
            pushed = push.create(
                by,
                process,
                doc,
                target=target,
                next_target=Target(),
                plan=plan,
                digest=digest(doc),
                chained_from_result_id=results[0].id,
                chained_from=str(source.id),
                result_id=str(results[0].id),
            )
    except RelayError as err:
        for result in results:
            result.chain = {
                "state": "failed",
                "business_process": next_key,
                "code": err.code,
                "reason": err.message,
            }
        events.record(
            source.tenant_id,
            source.id,
            "chain_failed",
            by,
            business_process=next_key,
            code=err.code,
            message=err.message,
        )
        return None
    for result in results:
        result.next_document_id = pushed.document.id
        result.chain = {
            "state": "started",
            "business_process": next_key,
            "next_document_id": str(pushed.document.id),
        }
    events.record(
        source.tenant_id,
        source.id,
        "chained",
        by,
        business_process=next_key,
        next_document_id=str(pushed.document.id),
    )
    return pushed.document

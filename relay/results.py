"""Returning results to accounting (SPEC §8): the results feed, acknowledgement, payloads.

The feed lists every result not yet processed, in completion order. ``after`` only pages
through one reading of the feed: a client reads from the start each time it polls, and
because a result leaves the feed only when acknowledged, a result whose transaction committed
late (behind one already read) is found on the next poll instead of being skipped.
"""

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, tuple_
from sqlalchemy.orm import load_only

from relay import chaining, events, lifecycle, outbox, processes
from relay.auth import Identity
from relay.errors import Invalid, NotFound
from relay.extensions import db
from relay.jsonutil import dumps, loads
from relay.models import Device, Document, Result, User
from relay.timeutil import iso, utcnow


@dataclass
class Outcome:
    """What one result will hold: header, declared lines with their actual lines, undeclared."""

    header: dict[str, Any]
    lines: list[dict[str, Any]]
    undeclared: list[dict[str, Any]]
    part_id: uuid.UUID | None = None


def finish(
    by: Identity,
    loaded: lifecycle.Loaded,
    outcomes: Sequence[Outcome],
    merged: Outcome,
    *,
    device_mode: str,
) -> list[Result]:
    """Complete an instance: store its result(s), close it, and start the chained document.

    ``outcomes`` is one result, or one per part of a collective document kept apart;
    ``merged`` is the whole work, which is what the next process in a chain starts from.
    Results completed on an online device also get their webhook delivery queued.
    """
    instance, document, process = loaded.instance, loaded.document, loaded.process
    now = utcnow()
    results = [
        Result(
            tenant_id=document.tenant_id,
            document_id=document.id,
            instance_id=instance.id,
            business_process=document.business_process,
            business_process_version=document.business_process_version,
            completed_at=now,
            completed_by_device_id=by.device_id,
            completed_by_user_id=by.user_id,
            device_mode=device_mode,
            header=outcome.header,
            lines=outcome.lines,
            undeclared=outcome.undeclared,
            part_id=outcome.part_id,
        )
        for outcome in outcomes
    ]
    db.session.add_all(results)
    db.session.flush()
    if device_mode == "online":
        # In the result's own transaction: committed together, or not at all.
        outbox.enqueue(results)
    instance.completed_at = now
    instance.claim_token_hash = None
    instance.claim_expires_at = None
    lifecycle.move(instance, "completed", loaded.keys, collective=process.collective_work)
    events.record(
        document.tenant_id,
        document.id,
        "completed",
        by,
        instance_id=instance.id,
        result_ids=[str(r.id) for r in results],
    )
    chaining.start_next(
        by,
        document,
        process["next_business_process"],
        results,
        merged.header,
        merged.lines,
        merged.undeclared,
    )
    return results


def encode_cursor(result: Result) -> str:
    raw = dumps([result.completed_at.isoformat(), str(result.id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, ident = loads(raw)
        return datetime.fromisoformat(moment), uuid.UUID(ident)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as err:
        raise Invalid(
            "The cursor is not one this feed gave out; start again without 'after'.",
            code="invalid_cursor",
            details={"fields": {"after": ["Unknown cursor."]}},
        ) from err


def feed(tenant_id: int, *, after: str | None, limit: int) -> tuple[list[Result], str | None]:
    """Return a page of unprocessed results and the cursor of the next page (None at the end)."""
    stmt = select(Result).where(Result.tenant_id == tenant_id, Result.processed_at.is_(None))
    if after:
        moment, ident = decode_cursor(after)
        stmt = stmt.where(tuple_(Result.completed_at, Result.id) > tuple_(moment, ident))
    rows = list(db.session.scalars(stmt.order_by(Result.completed_at, Result.id).limit(limit + 1)))
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1])
    return rows, None


def get(tenant_id: int, result_id: uuid.UUID | None) -> Result:
    """Return a result (processed or not) or raise 404."""
    result = db.session.get(Result, (tenant_id, result_id)) if result_id else None
    if result is None:
        raise NotFound(f"There is no result {result_id}.", code="result_not_found")
    return result


def ack(by: Identity, ids: Sequence[uuid.UUID]) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Mark results processed; return (newly processed, already processed). All or nothing."""
    wanted = list(dict.fromkeys(ids))
    found = {
        r.id: r
        for r in db.session.scalars(
            select(Result)
            .where(Result.tenant_id == by.tenant_id, Result.id.in_(wanted))
            .order_by(Result.id)
            .with_for_update()
        )
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(
            "These results do not exist: "
            + ", ".join(map(str, missing))
            + ". Nothing was acknowledged.",
            code="result_not_found",
            details={"ids": [str(i) for i in missing]},
        )
    processed, already = [], []
    for result_id in wanted:
        result = found[result_id]
        if result.processed_at is not None:
            already.append(result_id)
        else:
            lifecycle.mark_processed(by, result, "ack")
            processed.append(result_id)
    return processed, already


def payloads(results: Sequence[Result]) -> list[dict[str, Any]]:
    """Build the result payloads of Appendix A (documents, devices and users read in bulk)."""
    if not results:
        return []
    tenant_id = results[0].tenant_id
    # Only the columns a payload shows: a document's own lines are not part of its result.
    docs = _by_id(
        Document, tenant_id, {r.document_id for r in results}, Document.external_id, Document.number
    )
    devices = _by_id(
        Device,
        tenant_id,
        {r.completed_by_device_id for r in results},
        Device.pin,
        Device.last_pin,
        Device.name,
    )
    users = _by_id(
        User, tenant_id, {r.completed_by_user_id for r in results}, User.login, User.name
    )
    versions: dict[tuple[str, int], processes.Process] = {}
    out = []
    for result in results:
        vkey = (result.business_process, result.business_process_version)
        if vkey not in versions:
            versions[vkey] = processes.at_version(tenant_id, *vkey)
        out.append(
            payload(
                result,
                docs[result.document_id],
                versions[vkey],
                devices.get(result.completed_by_device_id),
                users.get(result.completed_by_user_id),
            )
        )
    return out


M = TypeVar("M", Document, Device, User)


def _by_id(
    model: type[M], tenant_id: int, ids: set[uuid.UUID | None], *columns: Any
) -> dict[uuid.UUID | None, M]:
    """Read the tenant's rows with these ids in one query, loading only ``columns``."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = db.session.scalars(
        select(model)
        .where(model.tenant_id == tenant_id, model.id.in_(wanted))
        .options(load_only(*columns))
    )
    return {row.id: row for row in rows}


def payload(
    result: Result,
    document: Document,
    process: processes.Process,
    device: Device | None,
    user: User | None,
) -> dict[str, Any]:
    """One result as the accounting side receives it, pulled or delivered."""
    on_load = dict(process["on_load"])
    # "online_only" is decided here, against the mode of the device that completed the work.
    on_load["write"] = {"always": True, "never": False}.get(
        on_load["write_after_load"], result.device_mode == "online"
    )
    return {
        "id": str(result.id),
        "document_id": str(result.document_id),
        "instance_id": str(result.instance_id),
        "external_id": document.external_id,
        "number": document.number,
        "business_process": result.business_process,
        "business_process_version": result.business_process_version,
        "source_document_type": process["source_document_type"],
        "result_document_type": process["result_document_type"],
        "load_into_source_document": process["load_into_source_document"],
        "on_load": on_load,
        "completed_at": iso(result.completed_at),
        "completed_by": {
            "login": user.login if user else None,
            "name": user.name if user else None,
            "device_id": str(device.id) if device else None,
            "pin": (device.pin or device.last_pin) if device else None,
            "device_name": device.name if device else None,
            "mode": result.device_mode,
        },
        "header": result.header,
        "lines": result.lines,
        "undeclared": result.undeclared,
        "part_id": str(result.part_id) if result.part_id else None,
        "next_document_id": str(result.next_document_id) if result.next_document_id else None,
        "processed_at": iso(result.processed_at),
    }

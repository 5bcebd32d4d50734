"""Results as accounting receives them, in the feed and in webhook bodies (Appendix A)."""

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import load_only

from relay.extensions import db
from relay.models import Device, Document, Result, User
from relay.processes import schema, store
from relay.timeutil import iso


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
    return [
        payload(
            result,
            docs[result.document_id],
            store.version_of(result),
            devices.get(result.completed_by_device_id),
            users.get(result.completed_by_user_id),
        )
        for result in results
    ]


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
    process: schema.Process,
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
        "chain": result.chain,
        "processed_at": iso(result.processed_at),
    }

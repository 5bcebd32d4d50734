"""Close an instance: store its results, queue their delivery, start the chained document."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from relay.directory.auth import Identity
from relay.documents import events, lifecycle
from relay.extensions import db
from relay.models import InstanceState, Result
from relay.online import outbox
from relay.timeutil import utcnow
from relay.work import chaining


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
    # A claimed instance is listed only when collective (others may still join).
    lifecycle.move(
        instance,
        InstanceState.COMPLETED,
        loaded.keys,
        collective=process.collective_work,
        listed_before=process.collective_work,
    )
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

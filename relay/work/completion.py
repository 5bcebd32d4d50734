"""Completing an instance: idempotent per ``submission_id``, for one terminal or a collective."""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, insert, select

from relay.db import core
from relay.directory.auth import Identity
from relay.documents import lifecycle, lines
from relay.errors import N_, Invalid
from relay.jsonutil import digest
from relay.models import InstanceState, Submission
from relay.timeutil import utcnow
from relay.work import collective
from relay.work.finish import Outcome, finish


def _request_hash(instance_id: uuid.UUID, payload: Mapping[str, Any]) -> str:
    return digest({"instance": str(instance_id), **payload})


_SUBMISSION = select(Submission.request_hash, Submission.response).where(
    Submission.tenant_id == bindparam("tenant_id"),
    Submission.submission_id == bindparam("submission_id"),
)
_RECORD = insert(Submission)


def complete(
    identity: Identity, instance_id: uuid.UUID, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """Complete a claimed instance (or submit a collective part) with the actual lines.

    The same ``submission_id`` with the same body returns the first answer and applies nothing
    again. A duplicate arriving while the first is being applied waits for the instance's row
    lock and then finds the first answer.
    """
    submission_id = payload["submission_id"]
    request_hash = _request_hash(instance_id, payload)
    loaded = lifecycle.load(identity, instance_id, for_update=True, lost_claim_is_conflict=True)
    previous = core(
        _SUBMISSION, {"tenant_id": identity.tenant_id, "submission_id": submission_id}
    ).first()
    if previous is not None:
        if previous.request_hash != request_hash:
            raise Invalid(
                N_(
                    "submission_id %(id)r was already used for a different completion. "
                    "Generate a new submission_id for each completion.",
                    id=submission_id,
                ),
                code="idempotency_key_reused",
            )
        return previous.response
    process = loaded.process
    header = dict(payload.get("header") or {})
    actual = [dict(line) for line in payload.get("lines") or []]
    token = str(payload.get("claim_token") or "")
    if process.collective_work:
        lines.check_from_terminal(process, header, actual)
        response = collective.submit(
            identity, loaded, token, header, actual, close=bool(payload.get("close", True))
        )
    else:
        lifecycle.check_claim(identity, loaded, token)
        lines.check_from_terminal(process, header, actual)
        bound, undeclared = lines.bind(loaded.document.lines, actual)
        lines.check_quantities(process.quantity_control, bound, undeclared)
        outcome = Outcome(header, bound, undeclared)
        (result,) = finish(
            identity, loaded, [outcome], outcome, device_mode=identity.device_mode or "offline"
        )
        response = {
            "id": str(loaded.instance.id),
            "state": InstanceState.COMPLETED,
            "result_id": str(result.id),
        }
    core(
        _RECORD,
        {
            "tenant_id": identity.tenant_id,
            "submission_id": submission_id,
            "instance_id": loaded.instance.id,
            "request_hash": request_hash,
            "response": response,
            "created_at": utcnow(),
        },
    )
    return response

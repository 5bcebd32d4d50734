"""Business processes: admins read and edit them (every edit bumps the version); the
accounting side reads what its push dialog needs."""

from typing import Any

from flask import request
from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, identity
from relay.api.processes.schemas import (
    PickerList,
    ProcessIn,
    ProcessList,
    ProcessOut,
    ProcessPatch,
)
from relay.db import transaction
from relay.models import BusinessProcess
from relay.processes import store

blp = Blueprint(
    "admin_processes",
    __name__,
    url_prefix="/api/v1/admin/business-processes",
    description="Business-process rules: routing, quantity control, load instructions (admin "
    "key). What GET answers can be PUT back as it is; send `version` (or If-Match with the "
    "ETag) and an edit made since you read gets 409 version_conflict instead of being lost.",
)
picker_blp = Blueprint(
    "business_processes",
    __name__,
    url_prefix="/api/v1/business-processes",
    description="The processes the accounting side may push to, with whom each may address "
    "(accounting key): the push dialog's choices.",
)

ETAG = {"ETag": {"description": "The version, as If-Match takes it.", "schema": {"type": "string"}}}


def etag(row: BusinessProcess) -> str:
    return f'"v{row.version}"'


def _versions(data: dict[str, Any]) -> list[int | None]:
    """The versions the client says it edited: the body's ``version`` and If-Match's ETag."""
    sent: list[int | None] = []
    if data.get("version") is not None:
        sent.append(data["version"])
    tags = [t for t in request.if_match.as_set() if t != "*"] if request.if_match else []
    for tag in tags:
        sent.append(int(tag[1:]) if tag[:1] == "v" and tag[1:].isdigit() else None)
    return sent


def _definition(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("version", "updated_at")}


def _save(data: dict[str, Any], key: str, *, partial: bool) -> Any:
    with transaction():
        row = store.save(
            identity().tenant_id,
            key,
            _definition(data),
            partial=partial,
            expected_versions=_versions(data),
            updated_at=data.get("updated_at"),
        )
    return row, 200, {"ETag": etag(row)}


@blp.route("")
class ProcessesView(MethodView):
    @authenticated("admin")
    @blp.response(200, ProcessList)
    def get(self) -> dict[str, Any]:
        """List the tenant's business processes at their current versions."""
        return {"business_processes": store.list_current(identity().tenant_id)}


@blp.route("/<key>")
class ProcessView(MethodView):
    @authenticated("admin")
    @blp.response(200, ProcessOut, headers=ETAG)
    def get(self, key: str) -> Any:
        """Read one business process; its ETag is its version."""
        row = store.get(identity().tenant_id, key)
        return row, 200, {"ETag": etag(row)}

    @authenticated("admin")
    @blp.arguments(ProcessIn)
    @blp.response(200, ProcessOut, headers=ETAG)
    @blp.alt_response(409, description="`version_conflict`: changed since it was read.")
    def put(self, data: dict[str, Any], key: str) -> Any:
        """Replace a business process (or create it): every field, validated; version + 1.

        A body read with GET is accepted as it is: `key`, `version` and `updated_at` sent back
        unchanged are fine, a changed `updated_at` is refused, and a `version` (or If-Match
        ETag) other than the current one gets 409 version_conflict.
        """
        return _save(data, key, partial=False)

    @authenticated("admin")
    @blp.arguments(ProcessPatch(partial=True))
    @blp.response(200, ProcessOut, headers=ETAG)
    @blp.alt_response(409, description="`version_conflict`: changed since it was read.")
    def patch(self, data: dict[str, Any], key: str) -> Any:
        """Change some fields of a business process; the result is validated; version + 1."""
        return _save(data, key, partial=True)


@picker_blp.route("")
class PickerView(MethodView):
    @authenticated("accounting")
    @picker_blp.response(200, PickerList)
    def get(self) -> dict[str, Any]:
        """The tenant's processes with whom each may address (for the push dialog)."""
        return {"business_processes": store.list_current(identity().tenant_id)}

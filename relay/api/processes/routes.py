"""Admins read and edit the tenant's business processes; every edit bumps the version."""

from typing import Any

from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, identity
from relay.api.processes.schemas import ProcessIn, ProcessList, ProcessOut, ProcessPatch
from relay.db import transaction
from relay.models import BusinessProcess
from relay.processes import schema, store
from relay.timeutil import iso

blp = Blueprint(
    "admin_processes",
    __name__,
    url_prefix="/api/v1/admin/business-processes",
    description="Business-process rules: routing, quantity control, load instructions (admin key).",
)


def process_out(row: BusinessProcess) -> dict[str, Any]:
    return {
        "key": row.key,
        "version": row.version,
        "updated_at": iso(row.updated_at),
        "definition": schema.dump_definition(row.definition),
    }


@blp.route("")
class ProcessesView(MethodView):
    @authenticated("admin")
    @blp.response(200, ProcessList)
    def get(self) -> dict[str, Any]:
        """List the tenant's business processes at their current versions."""
        return {
            "business_processes": [process_out(r) for r in store.list_current(identity().tenant_id)]
        }


@blp.route("/<key>")
class ProcessView(MethodView):
    @authenticated("admin")
    @blp.response(200, ProcessOut)
    def get(self, key: str) -> dict[str, Any]:
        """Read one business process."""
        return process_out(store.get(identity().tenant_id, key))

    @authenticated("admin")
    @blp.arguments(ProcessIn)
    @blp.response(200, ProcessOut)
    def put(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        """Replace a business process (or create it): every field, validated; version + 1."""
        with transaction():
            row = store.save(identity().tenant_id, key, data, partial=False)
        return process_out(row)

    @authenticated("admin")
    @blp.arguments(ProcessPatch(partial=True))
    @blp.response(200, ProcessOut)
    def patch(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        """Change some fields of a business process; the result is validated; version + 1."""
        with transaction():
            row = store.save(identity().tenant_id, key, data, partial=True)
        return process_out(row)

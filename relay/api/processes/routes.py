"""Admins read and edit the tenant's business processes; every edit bumps the version."""

from typing import Any

from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, identity
from relay.api.processes.schemas import ProcessIn, ProcessList, ProcessOut, ProcessPatch
from relay.db import transaction
from relay.models import BusinessProcess
from relay.processes import store

blp = Blueprint(
    "admin_processes",
    __name__,
    url_prefix="/api/v1/admin/business-processes",
    description="Business-process rules: routing, quantity control, load instructions (admin key).",
)


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
    @blp.response(200, ProcessOut)
    def get(self, key: str) -> BusinessProcess:
        """Read one business process."""
        return store.get(identity().tenant_id, key)

    @authenticated("admin")
    @blp.arguments(ProcessIn)
    @blp.response(200, ProcessOut)
    def put(self, data: dict[str, Any], key: str) -> BusinessProcess:
        """Replace a business process (or create it): every field, validated; version + 1."""
        with transaction():
            return store.save(identity().tenant_id, key, data, partial=False)

    @authenticated("admin")
    @blp.arguments(ProcessPatch(partial=True))
    @blp.response(200, ProcessOut)
    def patch(self, data: dict[str, Any], key: str) -> BusinessProcess:
        """Change some fields of a business process; the result is validated; version + 1."""
        with transaction():
            return store.save(identity().tenant_id, key, data, partial=True)

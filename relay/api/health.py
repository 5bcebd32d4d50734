"""Liveness and readiness, for load balancers and process managers."""

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_babel import gettext

from relay.api.base import Blueprint, Schema
from relay.api.errors import error_response
from relay.db import reachable
from relay.extensions import db

blp = Blueprint("health", __name__, description="Is the relay up, and can it reach its database?")


class HealthOut(Schema):
    status = ma.fields.String(metadata={"description": "ok"})
    database = ma.fields.String(metadata={"description": "readyz: the database's dialect."})


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthOut)
    def get(self) -> dict[str, Any]:
        """The process is up."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthOut)
    @blp.alt_response(503, description="The database cannot be reached.")
    def get(self) -> Any:
        """The database answers."""
        if not reachable():
            return error_response(
                503, "database_unavailable", gettext("The relay cannot reach its database.")
            )
        return {"status": "ok", "database": db.engine.dialect.name}

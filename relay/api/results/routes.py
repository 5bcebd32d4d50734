"""Accounting side: pull completed results and acknowledge them."""

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView

from relay.api.base import Blueprint, as_built, authenticated, identity, page_limit
from relay.api.results.schemas import AckIn, AckOut, ResultList, ResultOut, ResultQuery
from relay.db import transaction
from relay.results import feed, payloads

blp = Blueprint(
    "results",
    __name__,
    url_prefix="/api/v1/results",
    description="Completed documents waiting for the accounting side (accounting key).",
)


@blp.route("")
class ResultsView(MethodView):
    @authenticated("accounting")
    @blp.arguments(ResultQuery, location="query")
    @blp.response(200, ResultList)
    def get(self, args: dict[str, Any]) -> Response:
        """List results not yet processed, in completion order."""
        found = feed.feed(
            identity().tenant_id, after=args["after"], limit=page_limit(args["limit"])
        )
        return as_built({"results": payloads.payloads(found.rows), "next": found.next})


@blp.route("/ack")
class AckView(MethodView):
    @authenticated("accounting")
    @blp.arguments(AckIn)
    @blp.response(200, AckOut)
    def post(self, data: dict[str, Any]) -> feed.Acked:
        """Mark results processed; acknowledging one twice is harmless."""
        with transaction():
            return feed.ack(identity(), data["ids"])


# A UUID in the address, so /results/ack is never taken for a result id: GET /results/ack is
# 405 and OPTIONS /results/ack advertises POST only.
@blp.route("/<uuid:result_id>")
class ResultView(MethodView):
    @authenticated("accounting")
    @blp.response(200, ResultOut)
    def get(self, result_id: uuid.UUID) -> dict[str, Any]:
        """Read one result, processed or not."""
        result = feed.get(identity().tenant_id, result_id)
        return payloads.payloads([result])[0]

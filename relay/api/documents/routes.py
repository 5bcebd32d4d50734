"""Accounting side: push documents, list them, read one with its timeline, cancel."""

import uuid
from collections.abc import Sequence
from typing import Any

from flask import current_app
from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, identity, page_limit, path_id
from relay.api.documents.schemas import (
    ClosedOut,
    DocumentList,
    DocumentOut,
    DocumentQuery,
    InstanceChoice,
    PushIn,
    PushOut,
    RerouteIn,
)
from relay.api.fields import Empty
from relay.db import transaction
from relay.documents import lifecycle, push, reading
from relay.documents.routing import Target
from relay.errors import N_, Invalid
from relay.paging import id_after
from relay.work import collective

blp = Blueprint(
    "documents",
    __name__,
    url_prefix="/api/v1/documents",
    description="Push documents to terminals and follow them (accounting key).",
)


def _check_limits(docs: Sequence[dict[str, Any]]) -> None:
    max_docs = current_app.config["PUSH_MAX_DOCUMENTS"]
    max_lines = current_app.config["DOCUMENT_MAX_LINES"]
    if len(docs) > max_docs:
        raise Invalid(
            N_(
                "A push carries at most %(cap)s documents; this one has %(count)s. "
                "Split it into several pushes.",
                cap=max_docs,
                count=len(docs),
            ),
            code="too_many_documents",
            details={"limit": max_docs, "count": len(docs)},
        )
    for doc in docs:
        if len(doc["lines"]) > max_lines:
            raise Invalid(
                N_(
                    "Document %(id)r has %(count)s lines; a document carries at most %(cap)s.",
                    id=doc["external_id"],
                    count=len(doc["lines"]),
                    cap=max_lines,
                ),
                code="too_many_lines",
                details={"limit": max_lines, "external_id": doc["external_id"]},
            )


@blp.route("")
class DocumentsView(MethodView):
    @authenticated("accounting")
    @blp.arguments(PushIn)
    @blp.response(201, PushOut)
    @blp.alt_response(200, schema=PushOut, description="Every document existed unchanged.")
    def post(self, data: dict[str, Any]) -> tuple[dict[str, list[push.Pushed]], int]:
        """Push documents under one business process, routed by its rules (all or none)."""
        _check_limits(data["documents"])
        with transaction():
            outcomes = push.push(
                identity(),
                data["business_process"],
                Target.from_dict(data["target"]),
                data["documents"],
                next_target=Target.from_dict(data["next_target"]),
            )
        status = 200 if all(o.status == "unchanged" for o in outcomes) else 201
        return {"documents": outcomes}, status

    @authenticated("accounting")
    @blp.arguments(DocumentQuery, location="query")
    @blp.response(200, DocumentList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List documents, oldest first, filtered by process, external id, state, device (id
        or PIN), user, group or time of the last change.

        Filters combine (all must match); one naming an unknown device, user or group matches
        nothing.
        """
        filters = push.Filters(
            **{k: v for k, v in args.items() if k not in ("after", "limit") and v is not None}
        )
        found = push.search(
            identity().tenant_id,
            filters,
            after=id_after(args["after"]),
            limit=page_limit(args["limit"]),
        )
        return {
            "documents": reading.summaries(identity().tenant_id, found.rows),
            "next": found.next,
        }


@blp.route("/<document_id>")
class DocumentView(MethodView):
    @authenticated("accounting")
    @blp.response(200, DocumentOut)
    def get(self, document_id: str) -> reading.Reading:
        """Read a document with its instances, results and timeline."""
        return reading.read(push.get(identity().tenant_id, path_id(document_id)))


@blp.route("/<document_id>/cancel")
class CancelView(MethodView):
    @authenticated("accounting")
    @blp.arguments(Empty)
    @blp.response(200, DocumentOut)
    def post(self, _data: dict[str, Any], document_id: str) -> reading.Reading:
        """Cancel a document that is not completed yet; terminals see it cancelled."""
        doc_id: uuid.UUID = path_id(document_id)
        with transaction():
            document, _instances = push.cancel(identity(), doc_id)
        return reading.read(document)


@blp.route("/<document_id>/reroute")
class RerouteView(MethodView):
    @authenticated("accounting")
    @blp.arguments(RerouteIn)
    @blp.response(200, DocumentOut)
    def post(self, data: dict[str, Any], document_id: str) -> reading.Reading:
        """Send a queued or claimed document to a new target; the old claim stops working."""
        with transaction():
            document = push.get(identity().tenant_id, path_id(document_id))
            lifecycle.reroute(
                identity(), document, Target.from_dict(data["target"]), data["instance_id"]
            )
        return reading.read(document)


@blp.route("/<document_id>/release")
class ReleaseView(MethodView):
    @authenticated("admin")
    @blp.arguments(InstanceChoice)
    @blp.response(200, DocumentOut)
    def post(self, data: dict[str, Any], document_id: str) -> reading.Reading:
        """Take a claim away from a terminal (admin): the document goes back to the queue."""
        with transaction():
            document = push.get(identity().tenant_id, path_id(document_id))
            lifecycle.force_release(identity(), document, data["instance_id"])
        return reading.read(document)


@blp.route("/<document_id>/close")
class CloseView(MethodView):
    @authenticated("accounting")
    @blp.arguments(InstanceChoice)
    @blp.response(200, ClosedOut)
    def post(self, data: dict[str, Any], document_id: str) -> dict[str, Any]:
        """Close a collective document: its submitted parts become the result(s).

        Refused with 409 parts_open while a joined part is still open.
        """
        with transaction():
            document = push.get(identity().tenant_id, path_id(document_id))
            return collective.close_document(identity(), document, data["instance_id"])

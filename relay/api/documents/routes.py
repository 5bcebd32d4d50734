"""Accounting side: push documents, list them, read one with its timeline, cancel."""

import uuid
from collections.abc import Sequence
from typing import Any

from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from relay.api.base import Blueprint, authenticated, id_cursor, identity, page_limit, path_id
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
from relay.documents import events, lifecycle, push, routing
from relay.documents.routing import Addressee, Target
from relay.errors import Invalid
from relay.extensions import db
from relay.models import Document, Instance, Result
from relay.timeutil import iso
from relay.work import collective

blp = Blueprint(
    "documents",
    __name__,
    url_prefix="/api/v1/documents",
    description="Push documents to terminals and follow them (accounting key).",
)


def instance_out(instance: Instance, addressees: Sequence[Addressee]) -> dict[str, Any]:
    described = [a.describe() for a in addressees]
    return {
        "id": str(instance.id),
        "state": instance.state,
        "addressee": described[0] if len(described) == 1 else None,
        "addressees": described,
    }


def pushed_out(outcome: push.Pushed) -> dict[str, Any]:
    document = outcome.document
    return {
        "id": str(document.id),
        "external_id": document.external_id,
        "business_process": document.business_process,
        "version": document.version,
        "state": outcome.state,
        "status": outcome.status,
        "instances": [instance_out(i, outcome.addressees.get(i.id, [])) for i in outcome.instances],
    }


def summary_out(document: Document, state: str) -> dict[str, Any]:
    return {
        "id": str(document.id),
        "external_id": document.external_id,
        "business_process": document.business_process,
        "business_process_version": document.business_process_version,
        "number": document.number,
        "date": document.date,
        "version": document.version,
        "state": state,
        "created_at": iso(document.created_at),
        "updated_at": iso(document.updated_at),
    }


def document_out(document: Document) -> dict[str, Any]:
    """A document with its instances (who holds each), results and timeline."""
    instances = push.instances_of(document)
    keys = lifecycle.addressee_keys(document.tenant_id, [i.id for i in instances])
    described = routing.describe_keys(document.tenant_id, [k for ks in keys.values() for k in ks])
    out = summary_out(document, lifecycle.document_state(i.state for i in instances))
    out_instances = []
    for instance in instances:
        item = instance_out(instance, [described[k] for k in keys[instance.id] if k in described])
        item["holder"] = (
            lifecycle.holder_of(instance)
            if instance.state in ("claimed", "cancelled") and instance.holder_device_id
            else None
        )
        item["claim_expires_at"] = iso(instance.claim_expires_at)
        item["parts"] = collective.parts_of(instance)
        out_instances.append(item)
    result_ids = db.session.scalars(
        select(Result.id)
        .where(Result.tenant_id == document.tenant_id, Result.document_id == document.id)
        .order_by(Result.completed_at)
    )
    out.update(
        header=document.header,
        lines=document.lines,
        target=document.target,
        next_target=document.next_target,
        chained_from_result_id=(
            str(document.chained_from_result_id) if document.chained_from_result_id else None
        ),
        instances=out_instances,
        result_ids=[str(r) for r in result_ids],
        timeline=[
            {
                "at": iso(e.at),
                "kind": e.kind,
                "actor": e.actor,
                "instance_id": str(e.instance_id) if e.instance_id else None,
                "device_id": str(e.device_id) if e.device_id else None,
                "user_id": str(e.user_id) if e.user_id else None,
                "details": e.details,
            }
            for e in events.timeline(document.tenant_id, document.id)
        ],
    )
    return out


def _check_limits(docs: Sequence[dict[str, Any]]) -> None:
    max_docs = current_app.config["PUSH_MAX_DOCUMENTS"]
    max_lines = current_app.config["DOCUMENT_MAX_LINES"]
    if len(docs) > max_docs:
        raise Invalid(
            f"A push carries at most {max_docs} documents; this one has {len(docs)}. "
            "Split it into several pushes.",
            code="too_many_documents",
            details={"limit": max_docs, "count": len(docs)},
        )
    for doc in docs:
        if len(doc["lines"]) > max_lines:
            raise Invalid(
                f"Document {doc['external_id']!r} has {len(doc['lines'])} lines; a document "
                f"carries at most {max_lines}.",
                code="too_many_lines",
                details={"limit": max_lines, "external_id": doc["external_id"]},
            )


@blp.route("")
class DocumentsView(MethodView):
    @authenticated("accounting")
    @blp.arguments(PushIn)
    @blp.response(201, PushOut)
    @blp.alt_response(200, schema=PushOut, description="Every document existed unchanged.")
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
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
            body = {"documents": [pushed_out(o) for o in outcomes]}
        status = 200 if all(o.status == "unchanged" for o in outcomes) else 201
        return body, status

    @authenticated("accounting")
    @blp.arguments(DocumentQuery, location="query")
    @blp.response(200, DocumentList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List documents, oldest first, filtered by process, external id, state, device (id
        or PIN), user, group or time of the last change.

        Filters combine (all must match); one naming an unknown device, user or group matches
        nothing.
        """
        limit = page_limit(args["limit"])
        filters = push.Filters(
            **{k: v for k, v in args.items() if k not in ("after", "limit") and v is not None}
        )
        rows = push.search(
            identity().tenant_id, filters, after=id_cursor(args["after"]), limit=limit
        )
        page, more = rows[:limit], len(rows) > limit
        states = push.states_of(identity().tenant_id, [d.id for d in page])
        return {
            "documents": [summary_out(d, states[d.id]) for d in page],
            "next": str(page[-1].id) if more else None,
        }


@blp.route("/<document_id>")
class DocumentView(MethodView):
    @authenticated("accounting")
    @blp.response(200, DocumentOut)
    def get(self, document_id: str) -> dict[str, Any]:
        """Read a document with its instances, results and timeline."""
        return document_out(push.get(identity().tenant_id, path_id(document_id)))


@blp.route("/<document_id>/cancel")
class CancelView(MethodView):
    @authenticated("accounting")
    @blp.arguments(Empty)
    @blp.response(200, DocumentOut)
    def post(self, _data: dict[str, Any], document_id: str) -> dict[str, Any]:
        """Cancel a document that is not completed yet; terminals see it cancelled."""
        doc_id: uuid.UUID = path_id(document_id)
        with transaction():
            document, _instances = push.cancel(identity(), doc_id)
        return document_out(document)


@blp.route("/<document_id>/reroute")
class RerouteView(MethodView):
    @authenticated("accounting")
    @blp.arguments(RerouteIn)
    @blp.response(200, DocumentOut)
    def post(self, data: dict[str, Any], document_id: str) -> dict[str, Any]:
        """Send a queued or claimed document to a new target; the old claim stops working."""
        with transaction():
            document = push.get(identity().tenant_id, path_id(document_id))
            lifecycle.reroute(
                identity(), document, Target.from_dict(data["target"]), data["instance_id"]
            )
        return document_out(document)


@blp.route("/<document_id>/release")
class ReleaseView(MethodView):
    @authenticated("admin")
    @blp.arguments(InstanceChoice)
    @blp.response(200, DocumentOut)
    def post(self, data: dict[str, Any], document_id: str) -> dict[str, Any]:
        """Take a claim away from a terminal (admin): the document goes back to the queue."""
        with transaction():
            document = push.get(identity().tenant_id, path_id(document_id))
            lifecycle.force_release(identity(), document, data["instance_id"])
        return document_out(document)


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

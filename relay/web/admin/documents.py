"""Documents: search and filters, a document's lines, instances and timeline; cancel, reroute."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import redirect, request, url_for
from flask_babel import gettext

from relay.db import transaction
from relay.directory import addressees, devices, users
from relay.documents import browse, events, lifecycle, push, routing
from relay.documents.routing import Target
from relay.errors import Invalid, RelayError
from relay.models.document import INSTANCE_STATES
from relay.processes import store
from relay.results import listing
from relay.results.overview import chain_failures
from relay.web.admin.base import PAGE_SIZE, audit, bp, done, failed, render, signed, uuid_arg

DOCUMENT_STATES = INSTANCE_STATES
# A filter naming a device or user that does not exist matches no document.
NOBODY = uuid.UUID(int=0)


def _day(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def filters_from(args: Any, tenant_id: int) -> tuple[browse.Filters, dict[str, str]]:
    """The list's filters from the query string; unknown devices or users match nothing."""
    shown = {
        name: args.get(name, "").strip()
        for name in ("q", "process", "state", "device", "user", "from", "to")
    }
    device_id = None
    if shown["device"]:
        pin_or_id = shown["device"]
        device_id = uuid_arg(pin_or_id)
        if device_id is None:
            try:
                device_id = devices.by_pin(tenant_id, pin_or_id).id
            except RelayError:
                device_id = NOBODY
    user_id = None
    if shown["user"]:
        try:
            user_id = users.get_user(tenant_id, shown["user"]).id
        except RelayError:
            user_id = NOBODY
    day_to = _day(shown["to"])
    return (
        browse.Filters(
            text=shown["q"],
            business_process=shown["process"],
            state=shown["state"] if shown["state"] in DOCUMENT_STATES else "",
            device_id=device_id,
            user_id=user_id,
            created_from=_day(shown["from"]),
            created_to=day_to + timedelta(days=1) if day_to else None,
        ),
        shown,
    )


@bp.route("/documents")
def documents() -> Any:
    """Search documents by external id or number; filter by process, state, device, user, date."""
    tenant_id = signed().tenant_id
    filters, shown = filters_from(request.args, tenant_id)
    found = browse.find(
        tenant_id, filters, before=uuid_arg(request.args.get("before")), limit=PAGE_SIZE
    )
    states = push.states_of(tenant_id, [d.id for d in found.rows])
    query: dict[str, Any] = {k: v for k, v in shown.items() if v}
    return render(
        "admin/documents/list.html",
        rows=[(d, states[d.id]) for d in found.rows],
        shown=shown,
        processes=[r.key for r in store.list_current(tenant_id)],
        states=DOCUMENT_STATES,
        next_url=(
            url_for("admin.documents", **{**query, "before": found.next}) if found.next else None
        ),
    )


@bp.route("/documents/<document_id>")
def document(document_id: str) -> Any:
    """One document: header, declared lines, instances (who holds them), results, timeline."""
    tenant_id = signed().tenant_id
    doc = push.get(tenant_id, uuid_arg(document_id))
    instances = push.instances_of(doc)
    keys = lifecycle.addressee_keys(tenant_id, [i.id for i in instances])
    timeline = events.timeline(tenant_id, doc.id)
    people = [
        *(k for ks in keys.values() for k in ks),
        *(addressees.device_key(i.holder_device_id) for i in instances if i.holder_device_id),
        *(addressees.user_key(i.holder_user_id) for i in instances if i.holder_user_id),
        *(addressees.device_key(e.device_id) for e in timeline if e.device_id),
        *(addressees.user_key(e.user_id) for e in timeline if e.user_id),
    ]
    described = routing.describe_keys(tenant_id, people)
    results = listing.of_document(tenant_id, doc.id)
    return render(
        "admin/documents/detail.html",
        doc=doc,
        state=lifecycle.document_state(i.state for i in instances),
        instances=[(i, [described[k] for k in keys[i.id] if k in described]) for i in instances],
        described=described,
        device_key=addressees.device_key,
        user_key=addressees.user_key,
        results=results,
        chain_failure=chain_failures(tenant_id, [doc.id]).get(doc.id),
        timeline=timeline,
    )


def target_from(form: Any) -> Target:
    """The reroute target a form names: a PIN, users and groups, or everyone."""
    kind = form.get("target", "")
    if kind == "pin":
        pin = form.get("pin", "").strip()
        if not pin:
            raise Invalid("Enter the PIN of the device to send the document to.")
        return Target.from_dict({"pin": pin})
    if kind == "users":
        logins = [n.strip() for n in form.get("users", "").split(",") if n.strip()]
        groups = [n.strip() for n in form.get("groups", "").split(",") if n.strip()]
        if not logins and not groups:
            raise Invalid("Name at least one user or group.")
        return Target.from_dict({"users": logins, "groups": groups})
    if kind == "all":
        return Target.from_dict({"all": True})
    raise Invalid("Choose where to send the document.")


@bp.route("/documents/<document_id>/reroute", methods=["POST"])
def document_reroute(document_id: str) -> Any:
    """Send an open document (or one instance of it) to a new target."""
    who = signed()
    try:
        target = target_from(request.form)
        with transaction():
            doc = push.get(who.tenant_id, uuid_arg(document_id))
            lifecycle.reroute(who.identity, doc, target, uuid_arg(request.form.get("instance_id")))
            audit("document.reroute", doc.external_id, {"target": target.normalized()})
    except RelayError as err:
        failed(err)
    else:
        done(gettext("Document sent to the new addressee."))
    if request.form.get("next", "").startswith("/admin/devices/"):
        return redirect(request.form["next"])
    return redirect(url_for("admin.document", document_id=document_id))


@bp.route("/documents/<document_id>/cancel", methods=["POST"])
def document_cancel(document_id: str) -> Any:
    """Cancel a document that is not completed; terminals see it cancelled."""
    who = signed()
    try:
        with transaction():
            doc = push.get(who.tenant_id, uuid_arg(document_id))
            lifecycle.cancel(who.identity, doc)
            audit("document.cancel", doc.external_id)
    except RelayError as err:
        failed(err)
    else:
        done(gettext("Document cancelled."))
    return redirect(url_for("admin.document", document_id=document_id))

"""The terminal API (SPEC §9): everything under /api/v1/terminal/."""

import uuid
from datetime import timedelta
from typing import Any

import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView

from relay.api import limits
from relay.api.base import (
    Blueprint,
    as_built,
    authenticated,
    identity,
    page_limit,
    path_id,
)
from relay.api.errors import error_body, localized
from relay.api.fields import Empty
from relay.api.terminal.schemas import (
    BatchCompletion,
    BatchIn,
    BatchOut,
    ClaimOut,
    CompleteIn,
    CompleteOut,
    EnrollIn,
    EnrollOut,
    Inbox,
    InboxQuery,
    JoinOut,
    SessionIn,
    SessionOut,
    StateOut,
    TerminalDocument,
)
from relay.db import transaction
from relay.directory import devices, throttle, users
from relay.directory.auth import Identity
from relay.documents import inbox, lifecycle, lines, parts
from relay.errors import (
    N_,
    Forbidden,
    Invalid,
    RelayError,
    Unauthorized,
    first_field_error,
)
from relay.extensions import db
from relay.models import Document, Instance, InstanceState
from relay.paging import id_after
from relay.processes import schema, store
from relay.work import collective, completion

blp = Blueprint(
    "terminal",
    __name__,
    url_prefix="/api/v1/terminal",
    description="What terminals call: enrollment, operator sessions, inbox, claim, complete.",
)


def inbox_item(
    who: Identity,
    instance: Instance,
    document: Document,
    process: schema.Process,
    joined: set[uuid.UUID],
) -> dict[str, Any]:
    """One document as the inbox lists it (``InboxItem``), built as sent.

    The one place this shape is written: the inbox sends it without a schema dump (a hot
    path, see ``as_built``), and the one-document view dumps it through ``TerminalDocument``.
    """
    return {
        "id": str(instance.id),
        "document_id": str(document.id),
        "business_process": document.business_process,
        "terminal_document_type": process["terminal_document_type"],
        "external_id": document.external_id,
        "number": document.number,
        "date": document.date,
        "state": instance.state,
        "claimed_by_me": instance.state == InstanceState.CLAIMED
        and (instance.id in joined if process.collective_work else lifecycle.holds(who, instance)),
        "collective": process.collective_work,
        "version": document.version,
    }


@blp.route("/enroll")
class EnrollView(MethodView):
    @blp.doc(security=[])
    @blp.arguments(EnrollIn)
    @blp.response(201, EnrollOut)
    def post(self, data: dict[str, Any]) -> devices.Enrolled:
        """Enroll a terminal with an enrollment code: get its device id, PIN and token.

        Failed attempts are limited per address (RATELIMIT_ENROLL), but a valid code always
        enrolls: a code has 140 random bits, so the limit guards against a misbehaving client,
        and a shop whose address was throttled by mistypes can still enroll with a good code.
        """
        try:
            with transaction():
                return devices.enroll(
                    data["code"], name=data["name"], model=data["model"], serial=data["serial"]
                )
        except Unauthorized:
            limit, counter = limits.configured("RATELIMIT_ENROLL"), limits.address("enroll")
            refused = throttle.blocked_for(counter, limit) or throttle.count(counter, limit)
            if refused:
                raise limits.refusal(refused) from None
            raise


@blp.route("/sessions")
class SessionsView(MethodView):
    @authenticated("terminal")
    @blp.arguments(SessionIn)
    @blp.response(201, SessionOut)
    def post(self, data: dict[str, Any]) -> users.Session:
        """Log an operator in on this terminal (with the device token).

        Wrong passwords lock the login on this terminal after LOGIN_LOCKOUT_FAILURES, and
        failed logins are limited per address (RATELIMIT_LOGIN).
        """
        who = identity()
        if who.kind != "device":
            raise Forbidden(N_("Log in with the device token, not with another session."))
        config = current_app.config
        limit, counter = limits.configured("RATELIMIT_LOGIN"), limits.address("login-address")
        refused = throttle.blocked_for(counter, limit) or throttle.count(counter, limit)
        if refused:
            raise limits.refusal(refused)
        with transaction():
            session = users.log_in(
                who,
                login=data["login"],
                password=data["password"],
                ttl=timedelta(seconds=config["SESSION_TTL_SECONDS"]),
                lockout=throttle.Limit(
                    int(config["LOGIN_LOCKOUT_FAILURES"]),
                    timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"]),
                ),
                hash_method=config["PASSWORD_HASH_METHOD"],
            )
        throttle.uncount(counter)
        return session


@blp.route("/sessions/current")
class CurrentSessionView(MethodView):
    @authenticated("terminal")
    @blp.response(204)
    def delete(self) -> None:
        """Log the operator out (with the session token)."""
        who = identity()
        if who.kind != "session":
            raise Forbidden(N_("Only an operator session can be logged out."))
        with transaction():
            users.log_out(who)


@blp.route("/documents")
class InboxView(MethodView):
    @authenticated("terminal")
    @blp.arguments(InboxQuery, location="query")
    @blp.response(200, Inbox)
    @blp.alt_response(304, description="The inbox has not changed since the ETag sent.")
    def get(self, args: dict[str, Any]) -> Any:
        """The inbox: documents waiting for this terminal or its operator, and those it holds.

        Send the last ETag as If-None-Match: an unchanged inbox answers 304 without reading a
        single document.
        """
        who = identity()
        limit = page_limit(args["limit"])
        after = id_after(args["after"])
        audience = inbox.audience(who)
        tag = inbox.etag(audience, after, limit)
        if request.if_none_match.contains(tag):
            return Response(status=304, headers={"ETag": f'"{tag}"'})
        found = inbox.page(who, audience, after, limit)
        rows = [(i, d, store.version_of(d)) for i, d in found.rows]
        joined = parts.joined(
            who,
            [i.id for i, _d, p in rows if i.state == InstanceState.CLAIMED and p.collective_work],
        )
        body = {
            "documents": [inbox_item(who, i, d, p, joined) for i, d, p in rows],
            "next": found.next,
        }
        return as_built(body), 200, {"ETag": f'"{tag}"'}


@blp.route("/documents/<instance_id>")
class TerminalDocumentView(MethodView):
    @authenticated("terminal")
    @blp.response(200, TerminalDocument)
    def get(self, instance_id: str) -> dict[str, Any]:
        """One document with the header and line fields the process sends to terminals."""
        who = identity()
        loaded = lifecycle.load(who, path_id(instance_id))
        process = loaded.process
        header, out_lines = lines.for_terminal(
            process, loaded.document.header, loaded.document.lines
        )
        instance = loaded.instance
        joined = parts.joined(who, [instance.id]) if process.collective_work else set()
        out = {
            **inbox_item(who, instance, loaded.document, process, joined),
            "header": header,
            "lines": out_lines,
            "quantity_control": process.quantity_control,
            "accepts": {
                "header": list(process.fields.get("header_from_terminal") or ()),
                "lines": list(process.fields.get("lines_from_terminal") or ()),
            },
        }
        if process.collective_work:
            out["parts"] = parts.parts_of(instance)
        return out


@blp.route("/documents/<instance_id>/claim")
class ClaimView(MethodView):
    @authenticated("terminal")
    @blp.arguments(Empty)
    @blp.response(200, ClaimOut)
    def post(self, _data: dict[str, Any], instance_id: str) -> lifecycle.Claimed:
        """Take a document; the answer's claim token is needed to complete it."""
        with transaction():
            return lifecycle.claim(identity(), path_id(instance_id))


@blp.route("/documents/<instance_id>/join")
class JoinView(MethodView):
    @authenticated("terminal")
    @blp.arguments(Empty)
    @blp.response(200, JoinOut)
    def post(self, _data: dict[str, Any], instance_id: str) -> collective.Joined:
        """Join a collective document: the answer's token submits this terminal's part."""
        with transaction():
            return collective.join(identity(), path_id(instance_id))


@blp.route("/documents/<instance_id>/release")
class ReleaseView(MethodView):
    @authenticated("terminal")
    @blp.arguments(Empty)
    @blp.response(200, StateOut)
    def post(self, _data: dict[str, Any], instance_id: str) -> Instance:
        """Give a document back to the queue (or dismiss one that was cancelled)."""
        with transaction():
            return lifecycle.release(identity(), path_id(instance_id))


@blp.route("/documents/<instance_id>/complete")
class CompleteView(MethodView):
    @authenticated("terminal")
    @blp.arguments(CompleteIn)
    @blp.response(200, CompleteOut)
    def post(self, data: dict[str, Any], instance_id: str) -> dict[str, Any]:
        """Complete a claimed document with the actual lines (idempotent per submission_id)."""
        _check_completion_size(data)
        with transaction():
            return completion.complete(identity(), path_id(instance_id), data)


def _check_completion_size(data: dict[str, Any]) -> None:
    cap = current_app.config["COMPLETION_MAX_LINES"]
    if len(data["lines"]) > cap:
        raise Invalid(
            N_(
                "A completion carries at most %(cap)s lines; this one has %(count)s.",
                cap=cap,
                count=len(data["lines"]),
            ),
            code="too_many_lines",
            details={"limit": cap},
        )


_batch_item = BatchCompletion()


@blp.route("/completions")
class CompletionsView(MethodView):
    @authenticated("terminal")
    @blp.arguments(BatchIn)
    @blp.response(200, BatchOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Upload many completions at once (a terminal back online): each stands alone.

        Every completion is applied in its own transaction and answered with the status it
        would have had on its own; a refused one does not stop the others.
        """
        cap = current_app.config["BATCH_MAX_COMPLETIONS"]
        if len(data["completions"]) > cap:
            raise Invalid(
                N_(
                    "A batch carries at most %(cap)s completions; send the rest in another batch.",
                    cap=cap,
                ),
                code="too_many_completions",
                details={"limit": cap},
            )
        who = identity()
        return {"results": [_complete_one(who, raw) for raw in data["completions"]]}


def _complete_one(who: Identity, raw: Any) -> dict[str, Any]:
    ident = raw.get("id") if isinstance(raw, dict) else None
    submission = raw.get("submission_id") if isinstance(raw, dict) else None
    item: dict[str, Any] = {
        "id": ident if isinstance(ident, str) else None,
        "submission_id": submission if isinstance(submission, str) else None,
    }
    try:
        try:
            payload = _batch_item.load(raw)
        except ma.ValidationError as err:
            first = first_field_error(err.messages) or N_("see details.")
            raise Invalid(
                N_("The completion is not valid: %(reason)s", reason=first),
                details={"fields": err.messages},
            ) from err
        _check_completion_size(payload)
        instance_id: uuid.UUID = path_id(payload.pop("id"))
        with transaction():
            body = completion.complete(who, instance_id, payload)
        return {**item, "status": 200, "body": body}
    except RelayError as err:
        db.session.rollback()
        return {
            **item,
            "status": err.status,
            "body": error_body(err.code, localized(err), err.details),
        }

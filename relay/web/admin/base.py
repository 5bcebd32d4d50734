"""The console's blueprint and what every page shares: sign-in guard, CSRF, headers, helpers."""

import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale, gettext, lazy_gettext, lazy_pgettext
from werkzeug.exceptions import HTTPException

from relay.db import set_write_intent, transaction
from relay.directory import console
from relay.directory.console import Signed
from relay.errors import RelayError
from relay.extensions import db
from relay.i18n import LANGUAGES, say
from relay.ids import parse_uuid
from relay.timeutil import utcnow
from relay.web import csrf

WEB = Path(__file__).resolve().parent.parent
PAGE_SIZE = 50
# Pages that need no sign-in; the admin key's session may open only the account pages.
PUBLIC_ENDPOINTS = frozenset({"admin.sign_in", "admin.static", "admin.language"})
ADMIN_KEY_ENDPOINTS = frozenset({"admin.accounts", "admin.account_create", "admin.sign_out"})
# Sessions are touched at most this often: a write per page would cost more than the page.
TOUCH_AFTER = timedelta(seconds=60)

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder=str(WEB / "templates"),
    static_folder=str(WEB / "static"),
    static_url_path="/static",
)

F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def signed() -> Signed:
    """Who is signed in on this request."""
    return cast(Signed, g.signed)


@bp.before_request
def _guard() -> Response | None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    found = _resume()
    if found is None:
        session.pop("sid", None)
        target = request.full_path if request.method == "GET" else url_for("admin.overview")
        if request.headers.get("HX-Request"):
            response = Response(status=401)
            response.headers["HX-Redirect"] = url_for("admin.sign_in")
            return response
        return cast(Response, redirect(url_for("admin.sign_in", next=target)))
    g.signed = found
    if found.account_id is None and request.endpoint not in ADMIN_KEY_ENDPOINTS:
        return cast(Response, redirect(url_for("admin.accounts")))
    return None


def _resume() -> Signed | None:
    tenant_id, session_id = session.get("tid"), parse_uuid(str(session.get("sid", "")))
    if not isinstance(tenant_id, int) or session_id is None:
        return None
    idle = timedelta(minutes=float(current_app.config["CONSOLE_IDLE_MINUTES"]))
    found = console.resume(tenant_id, session_id, idle=idle)
    if found is None:
        return None
    who, last_seen = found
    if utcnow() - last_seen > TOUCH_AFTER:
        # Its own short write, so a page view stays a read on SQLite.
        db.session.commit()
        set_write_intent(True)
        try:
            with transaction():
                console.touch(tenant_id, session_id)
        finally:
            set_write_intent(request.method not in ("GET", "HEAD", "OPTIONS"))
    return who


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


@bp.app_template_global()
def language() -> str:
    """The language the page is in."""
    return str(get_locale() or "en")


@bp.app_template_global()
def other_languages() -> list[str]:
    return [code for code in LANGUAGES if code != language()]


@bp.app_template_filter("when")
def when_filter(value: Any) -> str:
    """A UTC time as "2026-12-07 10:15 UTC" (empty for none)."""
    if value is None:
        return "—"
    return str(value.strftime("%Y-%m-%d %H:%M:%S UTC"))


@bp.app_template_filter("qty")
def qty_filter(value: Any) -> str:
    """A quantity without trailing zeros."""
    if value is None:
        return "—"
    text = format(value, "f") if not isinstance(value, str) else value
    return text.rstrip("0").rstrip(".") if "." in text else text


def render(template: str, http_status: int = 200, /, **context: Any) -> tuple[str, int]:
    """Render a console page."""
    return render_template(template, **context), http_status


def back(default: str = "admin.overview", **values: Any) -> Response:
    """Redirect to the page the form came from (a console page), or ``default``."""
    target = request.form.get("next") or ""
    if target.startswith("/admin/") and not target.startswith("//"):
        return cast(Response, redirect(target))
    return cast(Response, redirect(url_for(default, **values)))


def audit(action: str, target: str = "", details: Mapping[str, Any] | None = None) -> None:
    """Record a console change in the audit list (call inside the change's transaction)."""
    console.record(signed(), action, target, details)


def done(message: str) -> None:
    flash(message, "ok")


def failed(err: RelayError) -> None:
    flash(translate(err.message), "error")


def translate(message: str) -> str:
    """A domain sentence in the page's language when the catalog has it."""
    return say(message)


def field_errors(err: RelayError) -> dict[str, list[str]]:
    """Field errors of a validation error, flattened to ``a.b`` names and translated."""
    fields = err.details.get("fields") or {}
    out: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                walk(value, f"{path}.{name}" if path else str(name))
        elif isinstance(node, list) and node and all(isinstance(m, str) for m in node):
            out.setdefault(path, []).extend(translate(m) for m in node)
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(fields, "")
    return out


def uuid_arg(value: str | None) -> uuid.UUID | None:
    return parse_uuid(value or "")


@bp.errorhandler(RelayError)
def _relay_error(err: RelayError) -> tuple[str, int]:
    return render("admin/error.html", err.status, message=translate(err.message), code=err.code)


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> tuple[str, int]:
    status = err.code or 500
    messages = {
        400: gettext("The form has expired or was not sent by this page; reload it and try again."),
        404: gettext("There is nothing here."),
        405: gettext("This page does not take that request."),
        413: gettext("The form is too large."),
    }
    return render(
        "admin/error.html",
        status,
        message=messages.get(status, err.description or ""),
        code=str(status),
    )


# -- labels: the seeds' words for the relay's codes --------------------------------------------

LABELS: dict[str, dict[str, Any]] = {
    "state": {
        "queued": lazy_gettext("queued"),
        "claimed": lazy_gettext("in work"),
        "completed": lazy_gettext("completed"),
        "processed": lazy_gettext("loaded into accounting"),
        "cancelled": lazy_gettext("cancelled"),
    },
    # On the overview's cards: how many instances are in each state.
    "states": {
        "queued": lazy_pgettext("count", "queued"),
        "claimed": lazy_pgettext("count", "in work"),
        "completed": lazy_pgettext("count", "completed"),
        "processed": lazy_pgettext("count", "loaded into accounting"),
        "cancelled": lazy_pgettext("count", "cancelled"),
    },
    "mode": {"online": lazy_gettext("online"), "offline": lazy_gettext("offline")},
    "status": {"active": lazy_gettext("active"), "revoked": lazy_gettext("revoked")},
    "assign": {
        "users": lazy_gettext("Users, user groups"),
        "device": lazy_gettext("A specific device"),
    },
    "qc": {
        "none": lazy_gettext("No control"),
        "no_excess": lazy_gettext("No excess over the declared quantity"),
        "exact": lazy_gettext("Exactly the declared quantity"),
    },
    "write": {
        "always": lazy_gettext("Always"),
        "online_only": lazy_gettext("Only in online exchange"),
        "never": lazy_gettext("Never"),
    },
    "actor": {
        "admin": lazy_gettext("admin"),
        "accounting": lazy_gettext("accounting"),
        "device": lazy_gettext("terminal"),
        "user": lazy_gettext("operator"),
        "system": lazy_gettext("relay"),
    },
    "event": {
        "pushed": lazy_gettext("pushed"),
        "replaced": lazy_gettext("replaced by a new push"),
        "claimed": lazy_gettext("taken into work"),
        "released": lazy_gettext("released"),
        "joined": lazy_gettext("joined"),
        "left": lazy_gettext("left"),
        "part_submitted": lazy_gettext("part submitted"),
        "claim_renewed": lazy_gettext("claim renewed"),
        "cancellation_seen": lazy_gettext("cancellation seen by the terminal"),
        "completed": lazy_gettext("completed"),
        "processed": lazy_gettext("loaded into accounting"),
        "cancelled": lazy_gettext("cancelled"),
        "rerouted": lazy_gettext("rerouted"),
        "claim_expired": lazy_gettext("returned to the queue (claim limit)"),
        "chained": lazy_gettext("next process started"),
        "chain_failed": lazy_gettext("next process not started"),
    },
    "upload_mode": {
        "merge": lazy_gettext("merge"),
        "mirror": lazy_gettext("mirror (exact copy)"),
    },
}

# The known catalogs by the seeds' names; other catalogs are shown by their own name.
CATALOG_NAMES: dict[str, Any] = {
    "products": lazy_gettext("Products"),
    "warehouses": lazy_gettext("Warehouses"),
    "cells": lazy_gettext("Cells"),
    "stock": lazy_gettext("Stock"),
    "prices": lazy_gettext("Prices"),
}


@bp.app_template_global()
def catalog_label(name: str) -> str:
    """A catalog as the console names it: "Products (products)", or its name."""
    known = CATALOG_NAMES.get(name)
    return f"{known} ({name})" if known is not None else name


def _labeller(kind: str) -> Callable[[Any], str]:
    def label(value: Any) -> str:
        return str(LABELS[kind].get(str(value), value))

    return label


for _kind, _name in (
    ("state", "state_label"),
    ("states", "states_label"),
    ("mode", "mode_label"),
    ("status", "status_label"),
    ("assign", "assign_label"),
    ("qc", "qc_label"),
    ("write", "write_label"),
    ("actor", "actor_label"),
    ("event", "event_label"),
    ("upload_mode", "upload_mode_label"),
):
    bp.add_app_template_global(_labeller(_kind), _name)

# Sentences the domain and marshmallow write into field errors, listed so the catalog has them
# (pybabel extracts these): the console shows them in the page's language.
FIELD_SENTENCES = (
    lazy_gettext("Length must be between 1 and 200."),
    lazy_gettext("Missing data for required field."),
    lazy_gettext("Not a valid integer."),
    lazy_gettext("Must be greater than or equal to 1 and less than or equal to 43200."),
    lazy_gettext("Fixed assignees need assign_to: users; a device process is sent to a device."),
    lazy_gettext("per_user_copy needs assign_to: users; a device has no users to copy for."),
    lazy_gettext("collective_work needs assign_to: users; users join a collective document."),
    lazy_gettext(
        "A process is either worked together (collective_work) or copied per user "
        "(per_user_copy), not both."
    ),
    lazy_gettext("A process cannot chain to itself."),
    lazy_gettext("Would make a loop."),
    lazy_gettext("Already taken."),
    lazy_gettext("A login is 1 to 64 letters, digits, '.', '_', '@' or '-'."),
    lazy_gettext("Letters, digits, . _ @ - (1 to 64)."),
    lazy_gettext("A password has at least 8 characters."),
    lazy_gettext("At least 8 characters."),
    lazy_gettext("This console account is disabled."),
    lazy_gettext("The admin key is wrong."),
    lazy_gettext(
        "This tenant has console accounts: sign in with one. The admin key signs in only "
        "to create the first account."
    ),
    lazy_gettext(
        "Too many wrong passwords for this account: try again later or ask another "
        "admin to set a new password."
    ),
    lazy_gettext("Too many failed sign-ins from this address; wait a few minutes."),
    lazy_gettext("A device name is 1 to 100 characters."),
    lazy_gettext("The mode is online or offline."),
    lazy_gettext("Enter whole numbers for the uses and the hours."),
    lazy_gettext("A password is 4 to 200 characters."),
    lazy_gettext("A login is 1 to 64 characters, with no '/'."),
    lazy_gettext("A group name is 1 to 100 characters, with no '/'."),
    lazy_gettext("Enter the PIN of the device to send the document to."),
    lazy_gettext("Name at least one user or group."),
    lazy_gettext("Choose where to send the document."),
)

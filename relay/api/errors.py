"""Every error leaves the relay in one shape: {"error": {"code", "message", "details"}}."""

import logging
from typing import Any

import marshmallow as ma
from flask import Flask, Response, current_app, jsonify, request
from flask_babel import gettext, lazy_gettext
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from relay.errors import N_, RelayError, first_field_error
from relay.i18n import say

log = logging.getLogger(__name__)


class ErrorBody(ma.Schema):
    code = ma.fields.String(metadata={"description": "Stable machine-readable code."})
    message = ma.fields.String(metadata={"description": "A sentence an operator can act on."})
    details = ma.fields.Dict(metadata={"description": "Field errors and other specifics."})


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBody)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one error shape, as a body."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify(error_body(code, message, details))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


_HTTP_CODES: dict[int, tuple[str, Any]] = {
    400: ("bad_request", lazy_gettext("The request is malformed.")),
    401: ("unauthorized", lazy_gettext("Credentials are missing or wrong.")),
    403: ("forbidden", lazy_gettext("This credential may not do that.")),
    404: (
        "not_found",
        lazy_gettext("There is nothing at {method} {path}; see /api/v1/docs for the API."),
    ),
    405: ("method_not_allowed", lazy_gettext("{path} does not take {method}; see /api/v1/docs.")),
    413: (
        "body_too_large",
        lazy_gettext(
            "The request body is over the limit of {limit} bytes; send fewer "
            "documents or lines per request."
        ),
    ),
    415: ("unsupported_media_type", lazy_gettext("Send the body as JSON.")),
    422: ("validation_failed", lazy_gettext("The request is not valid.")),
    429: ("rate_limited", lazy_gettext("Too many attempts; wait and try again.")),
}


def localized(error: RelayError) -> str:
    """The error's message in the request's language (English when the catalog lacks it)."""
    return say(error.message)


def handle_http_exception(error: HTTPException) -> Response:
    """werkzeug's HTTP errors (including webargs' 422) in our shape."""
    status = error.code or 500
    code, template = _HTTP_CODES.get(status, ("error", error.description or "Error."))
    message = str(template).format(
        method=request.method,
        path=request.path,
        limit=current_app.config.get("MAX_CONTENT_LENGTH"),
    )
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and messages:
        # webargs: {"json": {...field errors...}} or {"query": {...}}
        location, fields = next(iter(messages.items()))
        details = {"location": location, "fields": fields}
        first = first_field_error(fields)
        if first:
            message = say(N_("The request is not valid: %(reason)s", reason=first))
        if location == "query" and set(fields) == {"after"}:
            code = "invalid_cursor"
            message = gettext(
                "The cursor is not one this list gave out; start again without 'after'."
            )
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    return error_response(status, code, message, details, headers)


def handle_relay_error(error: RelayError) -> Response:
    return error_response(error.status, error.code, localized(error), error.details, error.headers)


def handle_integrity_error(error: IntegrityError) -> Response:
    # The domain checks every rule it can; what reaches here is two requests racing for the
    # same unique key. The loser's transaction was rolled back, so retrying is safe.
    log.info("integrity conflict: %s", error.orig)
    return error_response(
        409,
        "conflict",
        gettext("The request collided with a concurrent change and was not applied; retry it."),
    )


def handle_operational_error(error: DBAPIError) -> Response:
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate == "55P03" or "database is locked" in str(error.orig):
        return error_response(
            503,
            "busy",
            gettext(
                "The document is being changed by another request; nothing was applied. "
                "Retry in a moment."
            ),
            headers={"Retry-After": "1"},
        )
    log.exception("database unavailable")
    return error_response(
        503,
        "database_unavailable",
        gettext("The relay cannot reach its database; nothing was applied. Retry shortly."),
        headers={"Retry-After": "5"},
    )


def handle_unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(
        500,
        "internal_error",
        gettext("The relay failed unexpectedly; nothing was applied. The error is logged."),
    )


def register(app: Flask) -> None:
    app.register_error_handler(RelayError, handle_relay_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(Exception, handle_unexpected)

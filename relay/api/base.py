"""Project-wide API pieces: Api, Blueprint, Schema, the JSON body parser, auth and paging."""

import functools
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

import flask_smorest
import marshmallow as ma
from flask import Response, current_app, g, request
from marshmallow import validate
from sqlalchemy.exc import OperationalError
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from relay import jsonutil, settings
from relay.api.errors import ErrorSchema, handle_http_exception
from relay.db import READ_METHODS, locked_out, reads_only, set_write_intent, without_waiting
from relay.directory import auth
from relay.directory.auth import Identity, Role
from relay.errors import N_, BadRequest, Invalid, NotFound
from relay.extensions import db
from relay.patterns import Pattern

F = TypeVar("F", bound=Callable[..., Any])


class Api(flask_smorest.Api):
    """flask-smorest's Api, reporting errors in the relay's shape."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return handle_http_exception(error)


api = Api()

# Fields the relay sets itself: a client sending one is told so, not silently ignored.
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "state",
        "status",
        "version",
        "tenant",
        "tenant_id",
        "holder",
        "instances",
        "created_at",
        "updated_at",
        "completed_at",
        "claimed_at",
        "processed_at",
        "last_seen_at",
        "pin",
        "document_id",
        "result_id",
        "password_hash",
    }
)


class RelayParser(FlaskParser):
    """Parse JSON bodies with exact decimals, whatever Content-Type the client sent.

    1C's HTTPСоединение and many scripts forget the Content-Type header; the body is JSON or
    it is refused with a 400 that says so.
    """

    DEFAULT_VALIDATION_STATUS = 422
    # A misspelled filter must not silently widen a list to everything.
    DEFAULT_UNKNOWN_BY_LOCATION = {  # noqa: RUF012 - webargs reads it from the class
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
    }

    def _raw_load_json(self, req: Any) -> Any:
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        try:
            body = jsonutil.parse_body(data)
        except jsonutil.BodyError as err:
            raise BadRequest(
                N_("The request body is not valid JSON (%(reason)s).", reason=str(err)[:120]),
                code="malformed_json",
            ) from err
        if body is None:
            raise Invalid(N_("The request body must be a JSON object, not null."))
        return body


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = RelayParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        # One schema instance per endpoint: given a class, webargs builds a new schema (deep-
        # copying its fields) on every request. Relay's schemas keep no per-call state.
        if isinstance(schema, type):
            schema = schema()
        return cast(Callable[[F], F], super().arguments(schema, *args, **kwargs))


class ExplainsUnknown:
    """Say plainly that a field the relay writes itself is read-only, not just unknown."""

    def handle_error(
        self, error: ma.ValidationError, data: Any, *, many: bool, **kwargs: Any
    ) -> None:
        raise ma.ValidationError(_explain_unknown(error.messages))


class Schema(ExplainsUnknown, ma.Schema):
    """Refuses unknown fields, and says so plainly for the ones the relay writes itself."""

    class Meta:
        unknown = ma.RAISE


def _explain_unknown(messages: Any) -> Any:
    if isinstance(messages, dict):
        out = {}
        for name, value in messages.items():
            if value == ["Unknown field."]:
                value = (
                    ["Read-only: the relay sets this field; do not send it."]
                    if name in READ_ONLY_FIELDS
                    else ["Unknown field."]
                )
            else:
                value = _explain_unknown(value)
            out[name] = value
        return out
    return messages


# White space spelled out, for patterns that must mean the same in Python and in the ECMA
# regular expressions of the OpenAPI document (their \s differ: U+0085 is space only here).
SPACE = r"\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def cursor(pattern: str = UUID_PATTERN) -> ma.fields.String:
    """The ``after`` parameter of a list: exactly the form of the cursors it gives out."""
    return ma.fields.String(
        load_default=None,
        validate=Pattern(pattern, error="Not a cursor this list gives out."),
        metadata={"description": "Cursor from the previous page's `next`."},
    )


class PageArgs(Schema):
    after = cursor()
    limit = ma.fields.Integer(
        load_default=None,
        validate=validate.Range(1, settings.PAGE_SIZE_MAX),
        metadata={"description": "Page size (default 100, at most 500)."},
    )


def page_limit(value: int | None) -> int:
    """Return the page size asked for, or the default; refuse one outside the allowed range."""
    cap = int(current_app.config["PAGE_SIZE_MAX"])
    if value is None:
        return int(current_app.config["PAGE_SIZE_DEFAULT"])
    if not 1 <= value <= cap:
        raise Invalid(
            N_("limit must be between 1 and %(cap)s.", cap=cap),
            details={"fields": {"limit": [f"Must be between 1 and {cap}."]}},
        )
    return value


def path_id(value: str, what: str = "document") -> uuid.UUID:
    """Turn an id from the URL into a UUID; a malformed one is simply not found."""
    try:
        return uuid.UUID(value)
    except ValueError as err:
        message = {
            "device": N_("There is no device %(id)s.", id=value),
            "upload": N_("There is no upload %(id)s.", id=value),
        }.get(what, N_("There is no document %(id)s.", id=value))
        raise NotFound(message, code=f"{what}_not_found") from err


def authenticated(role: Role) -> Callable[[F], F]:
    """Authenticate the bearer token, require ``role``, and keep the identity in ``g``."""

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            writes = request.method not in READ_METHODS
            with reads_only():
                identity = auth.authenticate(
                    request.headers.get("Authorization"), reads_only=not writes
                )
            auth.require(identity, role)
            g.identity = identity
            resolution = timedelta(seconds=current_app.config["LAST_SEEN_RESOLUTION_SECONDS"])
            if auth.device_seen_stale(identity, resolution):
                _mark_seen(identity, resolution)
            elif writes and db.engine.dialect.name == "sqlite":
                # SQLite has one write lock, held from a write transaction's BEGIN IMMEDIATE
                # to its commit. End the token's read here, so the lock is taken only when the
                # view starts its work, after the body is parsed and validated.
                db.session.commit()
            return fn(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def _mark_seen(identity: Identity, resolution: timedelta) -> None:
    # Its own short write transaction, so a GET stays a read and a failed request still
    # counts as the device having called. On SQLite it does not wait for the write lock:
    # while a long write holds it (a big catalog commit), the request goes on and a later
    # call records the time, instead of every terminal call waiting the busy timeout.
    db.session.commit()
    set_write_intent(True)
    try:
        with without_waiting():
            auth.mark_device_seen(identity, resolution)
            db.session.commit()
    except OperationalError as error:
        if not locked_out(error):
            raise
        db.session.rollback()
    finally:
        set_write_intent(request.method not in READ_METHODS)


def as_built(body: Any) -> Response:
    """Send a body the view built in its documented shape, skipping the schema's dump.

    For the long lists (the inbox, the results feed) the dump only copied what the relay had
    just built, and it was a fifth of a results page's time. The schema still documents the
    body, and tests check that dumping the body through it changes nothing.
    """
    return cast(Response, current_app.json.response(body))


def identity() -> Identity:
    """The identity of the current request (set by ``authenticated``)."""
    return cast(Identity, g.identity)

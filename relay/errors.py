"""Domain errors: a code, an HTTP status, a sentence an operator can act on, and details.

The domain raises these; ``relay.api.errors`` turns every one of them into the one JSON shape.

A message is written with ``N_("template with %(name)s", name=value)``: ``N_`` marks the
template for extraction (pybabel's default keyword) and returns a ``Text``, the English
sentence that also remembers its template and values. The domain knows no Flask and no
language; ``relay.api.errors`` (and the console) translate the template in the request's
language and fill the values in again. ``tests/unit/test_messages.py`` checks that every error
the relay raises is written this way and that the Russian catalog has every template.
"""

from collections.abc import Mapping
from typing import Any


class Text(str):
    """A sentence for a client: the English text, with the template and values it came from.

    A value may itself be a ``Text`` (a field error inside a sentence): it is translated too.
    """

    template: str
    values: Mapping[str, Any]

    def __new__(cls, template: str, values: Mapping[str, Any] | None = None) -> "Text":
        values = dict(values or {})
        text = super().__new__(cls, template % values if values else template)
        text.template = template
        text.values = values
        return text

    def __reduce__(self) -> Any:
        return (Text, (self.template, self.values))


def N_(template: str, /, **values: Any) -> Text:
    """Mark ``template`` for the message catalog and fill in ``values`` (``%(name)s``)."""
    return Text(template, values)


class RelayError(Exception):
    """Base of every error the relay reports to a client."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}
        self.headers = headers or {}


class BadRequest(RelayError):
    status = 400
    code = "bad_request"


class Unauthorized(RelayError):
    status = 401
    code = "unauthorized"


class Forbidden(RelayError):
    status = 403
    code = "forbidden"


class NotFound(RelayError):
    status = 404
    code = "not_found"


class Conflict(RelayError):
    status = 409
    code = "conflict"


class Invalid(RelayError):
    """The request is well-formed but breaks a rule: field errors go in ``details``."""

    status = 422
    code = "validation_failed"


class TooManyRequests(RelayError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers["Retry-After"] = str(max(1, retry_after))


class Unavailable(RelayError):
    status = 503
    code = "unavailable"


def first_field_error(messages: Any, path: str = "") -> Text | None:
    """Describe the first error of a marshmallow message tree: "field 'a.b': Reason."."""
    if isinstance(messages, dict):
        for name, value in messages.items():
            found = first_field_error(value, f"{path}.{name}" if path else str(name))
            if found:
                return found
    elif isinstance(messages, list) and messages:
        if isinstance(messages[0], str):
            reason = field_sentence(messages[0])
            if path == "_schema" or path.endswith("._schema"):
                return reason
            return N_("field '%(field)s': %(reason)s", field=path, reason=reason)
        return first_field_error(messages[0], path)
    return None


def field_sentence(message: str) -> Text:
    """A field error (marshmallow's, a schema's or the domain's) as a ``Text`` to translate.

    A sentence written with ``N_`` keeps its template; any other (marshmallow's own, a schema's
    ``error=``) is looked up whole in the catalog, or by marshmallow's templates, when
    ``relay.api.errors`` translates it.
    """
    return message if isinstance(message, Text) else Text(message)


class Gone(RelayError):
    """What the client holds cannot be brought up to date: it must start again."""

    status = 410
    code = "gone"

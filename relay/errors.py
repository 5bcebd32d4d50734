"""Domain errors: a code, an HTTP status, a sentence an operator can act on, and details.

The domain raises these; ``relay.api.errors`` turns every one of them into the one JSON shape.
"""

from typing import Any


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


def first_field_error(messages: Any, path: str = "") -> str | None:
    """Describe the first error of a marshmallow message tree: "field 'a.b': Reason."."""
    if isinstance(messages, dict):
        for name, value in messages.items():
            found = first_field_error(value, f"{path}.{name}" if path else str(name))
            if found:
                return found
    elif isinstance(messages, list) and messages:
        if isinstance(messages[0], str):
            if path == "_schema" or path.endswith("._schema"):
                return messages[0]
            return f"field '{path}': {messages[0]}"
        return first_field_error(messages[0], path)
    return None


class Gone(RelayError):
    """What the client holds cannot be brought up to date: it must start again."""

    status = 410
    code = "gone"

"""What the client raises: the relay's answer as a typed exception, or no answer at all.

Every error the relay sends has one shape, ``{"error": {"code", "message", "details"}}``;
:class:`ApiError` carries those three, the HTTP status and ``Retry-After``. The subclass follows
the status, so callers catch ``Conflict`` or ``NotFound`` and branch on ``.code`` within it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from relay.client import jsonio


class RelayClientError(Exception):
    """Base of everything the client raises."""


class TransportError(RelayClientError):
    """No answer from the relay: the connection failed, was cut, or timed out (after retries).

    ``sent`` tells whether the request may have reached the relay: when it is false the
    request certainly changed nothing.
    """

    def __init__(self, message: str, *, sent: bool, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sent = sent
        self.cause = cause


class ApiError(RelayClientError):
    """The relay answered with an error: ``status``, ``code``, ``message`` and ``details``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        """The error in the relay's shape (as kept in the store's ``failed`` table)."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(ApiError):
    """400: the body is not JSON."""


class Unauthorized(ApiError):
    """401: missing, wrong, revoked or expired credentials; a bad enrollment code or password."""


class Forbidden(ApiError):
    """403: the credential's role may not do that."""


class NotFound(ApiError):
    """404: no such object, or not addressed to the caller."""


class Conflict(ApiError):
    """409: a state conflict (``already_claimed``, ``claim_lost``, ``document_cancelled``, …)."""


class PayloadTooLarge(ApiError):
    """413: the body is over the relay's limit."""


class ValidationFailed(ApiError):
    """422: the request breaks a rule; field errors are in ``details["fields"]``."""


class RateLimited(ApiError):
    """429: too many attempts; ``retry_after`` says when to come back."""


class ServerError(ApiError):
    """5xx: the relay (or a proxy in front of it) failed; nothing was applied."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    429: RateLimited,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def error_for(
    status: int, body: Any, *, retry_after: float | None = None, text: str = ""
) -> ApiError:
    """Build the exception for an error answer (``body`` parsed, or None if it was not JSON)."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        details = error.get("details")
        return cls(
            status,
            error["code"],
            str(error.get("message") or ""),
            details if isinstance(details, dict) else {},
            retry_after=retry_after,
        )
    # Not the relay's shape: a proxy's page, or something else in front of the relay.
    snippet = " ".join(text.split())[:200]
    return cls(
        status,
        f"http_{status}",
        f"HTTP {status} without the relay's error body" + (f": {snippet}" if snippet else "."),
        retry_after=retry_after,
    )


def error_from_body(status: int, body: Mapping[str, Any]) -> ApiError:
    """Build the exception for one item of a batch answer (its status and error body)."""
    return error_for(status, dict(body), text=jsonio.dumps(body))

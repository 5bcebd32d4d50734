"""Failure limits per client address on enrollment and login, counted in the shared database.

Only failures count (a shop enrolling thirty terminals from one address is never throttled),
and every gunicorn worker and node sees the same count (``relay.directory.throttle``).
"""

from flask import current_app, request

from relay.directory import throttle
from relay.errors import N_, TooManyRequests


def configured(name: str) -> throttle.Limit:
    """The limit set as ``name`` in the configuration, e.g. RATELIMIT_ENROLL."""
    return throttle.Limit.parse(str(current_app.config[name]))


def address(scope: str) -> throttle.Counter:
    """The failures of ``scope`` from the calling address (behind PROXY_HOPS proxies)."""
    return throttle.Counter(scope, request.remote_addr or "")


def refusal(seconds: int) -> TooManyRequests:
    """The 429 for an address over its limit."""
    return TooManyRequests(
        N_(
            "Too many failed attempts from this address; try again in %(seconds)s s.",
            seconds=seconds,
        ),
        code="rate_limited",
        retry_after=seconds,
    )

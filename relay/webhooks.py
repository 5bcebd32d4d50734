"""Online mode (SPEC §8): the tenant's endpoint, signing, the address guard, one HTTP attempt.

Signing follows Standard Webhooks: ``webhook-signature: v1,<base64 HMAC-SHA256>`` of
``"{webhook-id}.{webhook-timestamp}.{body}"``, keyed with the base64 part of the ``whsec_``
secret. During a rotation's grace period both secrets sign, space-separated, so a receiver
holding either one verifies.

The address guard refuses URLs that reach loopback, private, link-local and other non-public
addresses (unless the deployment allows them: a LAN box next to the 1C server). It checks the
URL when an admin sets it, and again on every connection: the guarded session checks the
address it actually connected to, so a DNS answer that changed since (or changes between a
check and the connect) cannot steer a delivery inside the network.
"""

import base64
import hashlib
import hmac
import ipaddress
import random
import re
import secrets
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from relay.errors import Invalid, NotFound
from relay.extensions import db
from relay.models import WebhookEndpoint
from relay.timeutil import iso, utcnow

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
USER_AGENT = "relay-webhooks/1"
# A receiver's Retry-After is honoured up to a day; beyond that the schedule decides.
RETRY_AFTER_MAX_SECONDS = 24 * 3600
# Each retry waits its scheduled delay times a factor drawn from this range, so deliveries
# that failed together (a receiver outage) do not all come back in the same second.
JITTER = (0.8, 1.2)
# Enough of a receiver's answer to show an admin why it refused; a longer body is not read.
RESPONSE_READ_LIMIT = 64 * 1024
ERROR_TEXT_LIMIT = 500


@dataclass(frozen=True)
class Settings:
    """The WEBHOOK_* configuration, read once."""

    connect_timeout: float
    read_timeout: float
    retry_schedule: tuple[float, ...]
    rotation_grace: timedelta
    allow_private: bool
    lease_margin: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Settings":
        return cls(
            connect_timeout=float(config["WEBHOOK_CONNECT_TIMEOUT"]),
            read_timeout=float(config["WEBHOOK_READ_TIMEOUT"]),
            retry_schedule=tuple(float(s) for s in config["WEBHOOK_RETRY_SCHEDULE"]),
            rotation_grace=timedelta(seconds=float(config["WEBHOOK_ROTATION_GRACE_SECONDS"])),
            allow_private=_flag(config["WEBHOOK_ALLOW_PRIVATE"]),
            lease_margin=float(config["WEBHOOK_LEASE_MARGIN_SECONDS"]),
        )

    @property
    def attempt_time(self) -> timedelta:
        """How long one attempt may take: both time-outs."""
        return timedelta(seconds=self.connect_timeout + self.read_timeout)

    @property
    def lease(self) -> timedelta:
        """How long a worker holds an entry: one attempt's time-outs and a margin."""
        return self.attempt_time + timedelta(seconds=self.lease_margin)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


# -- the endpoint ------------------------------------------------------------------------------


def find_endpoint(tenant_id: int, *, for_update: bool = False) -> WebhookEndpoint | None:
    """Return the tenant's webhook endpoint, if one is set."""
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
    if for_update:
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt).first()


def get_endpoint(tenant_id: int, *, for_update: bool = False) -> WebhookEndpoint:
    """Return the tenant's webhook endpoint or raise 404."""
    endpoint = find_endpoint(tenant_id, for_update=for_update)
    if endpoint is None:
        raise NotFound(
            "No webhook is set for this tenant: set one with PUT /api/v1/admin/webhook.",
            code="webhook_not_configured",
        )
    return endpoint


def put_endpoint(
    tenant_id: int, *, url: str, enabled: bool, allow_private: bool
) -> tuple[WebhookEndpoint, str | None]:
    """Set the tenant's webhook URL; return the endpoint and its secret when it is new.

    The first PUT generates the signing secret and is the only answer that shows it (besides a
    rotation). Enabling clears the reason the relay disabled the endpoint for.
    """
    check_url(url, allow_private=allow_private)
    now = utcnow()
    endpoint = find_endpoint(tenant_id, for_update=True)
    if endpoint is None:
        secret = new_secret()
        endpoint = WebhookEndpoint(
            tenant_id=tenant_id,
            url=url,
            enabled=enabled,
            secret=secret,
            created_at=now,
            updated_at=now,
        )
        db.session.add(endpoint)
        return endpoint, secret
    endpoint.url = url
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_reason = None
    endpoint.updated_at = now
    return endpoint, None


def rotate_secret(tenant_id: int, grace: timedelta) -> tuple[WebhookEndpoint, str]:
    """Replace the signing secret; the old one keeps signing alongside it for ``grace``.

    Only one old secret is kept: rotating again within the grace period drops the oldest.
    """
    endpoint = get_endpoint(tenant_id, for_update=True)
    now = utcnow()
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + grace
    endpoint.secret = secret
    endpoint.updated_at = now
    return endpoint, secret


def disable(endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop deliveries to an endpoint until an admin enables it again."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:500]
    endpoint.updated_at = utcnow()


def grace_until(endpoint: WebhookEndpoint, now: datetime) -> datetime | None:
    """Until when the previous secret still signs, if it does."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return expires
    return None


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its grace."""
    if grace_until(endpoint, now) is not None and endpoint.previous_secret:
        return [endpoint.secret, endpoint.previous_secret]
    return [endpoint.secret]


# -- signing -----------------------------------------------------------------------------------


def new_secret() -> str:
    """Return a new signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: one ``v1,<base64>`` per secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets_
    )


def headers(secrets_: Sequence[str], msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """The headers of one attempt; the timestamp is fresh each time, the id never changes."""
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets_, msg_id, timestamp, body),
    }


# -- the address guard -------------------------------------------------------------------------


def refusal(address: str) -> str | None:
    """Say why an IP address may not receive webhooks (None when it is a public address)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a reserved address"
    return None


def _refused_message(host: str, address: str, reason: str) -> str:
    return (
        f"{host} resolves to {address}, {reason}; the relay does not send webhooks inside its "
        "own network unless RELAY_WEBHOOK_ALLOW_PRIVATE is set (a LAN deployment)."
    )


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a webhook URL that is not http(s), or that resolves to a non-public address."""

    def invalid(message: str, code: str = "invalid_webhook_url") -> Invalid:
        return Invalid(message, code=code, details={"fields": {"url": [message]}})

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise invalid(f"The URL is malformed: {err}.") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("The webhook URL must be an http:// or https:// address with a host.")
    if allow_private:
        return
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise invalid(
            f"The host {host} cannot be resolved, so the relay cannot check it is a public "
            "address; check the spelling.",
            code="webhook_url_unresolvable",
        ) from err
    for info in infos:
        address = str(info[4][0])
        reason = refusal(address)
        if reason:
            raise invalid(_refused_message(host, address, reason), code="webhook_url_not_allowed")


class AddressRefused(NewConnectionError):
    """The connection reached an address the guard refuses; it was closed before sending."""


def _guard(conn: HTTPConnection, sock: socket.socket) -> socket.socket:
    address = str(sock.getpeername()[0])
    reason = refusal(address)
    if reason:
        sock.close()
        raise AddressRefused(conn, _refused_message(conn.host, address, reason))
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _guard(self, super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _guard(self, super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connections check the peer address before sending anything."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def new_session(*, allow_private: bool) -> requests.Session:
    """Return a requests session for deliveries; close it when done."""
    session = requests.Session()
    # Straight to the receiver: an HTTP(S)_PROXY from the environment would make the address
    # the guard sees the proxy's, not the receiver's.
    session.trust_env = False
    if not allow_private:
        adapter = GuardedAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


# -- one attempt -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: the receiver's status, or the error that prevented one."""

    status: int | None
    error: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def send(
    session: requests.Session,
    url: str,
    msg_id: str,
    body: bytes,
    secrets_: Sequence[str],
    settings: Settings,
) -> Attempt:
    """POST one signed webhook and report the outcome; never raises for network trouble."""
    now = utcnow()
    started = time.monotonic()
    try:
        with session.post(
            url,
            data=body,
            headers=headers(secrets_, msg_id, body, now),
            timeout=(settings.connect_timeout, settings.read_timeout),
            allow_redirects=False,
            stream=True,
        ) as response:
            text = _read_some(response, started + settings.connect_timeout + settings.read_timeout)
            status = response.status_code
            retry_after = parse_retry_after(response.headers.get("Retry-After"), utcnow())
            location = response.headers.get("Location")
    except requests.Timeout as err:
        return Attempt(None, _clip(f"Timed out: {_describe(err)}"), seconds=_since(started))
    except requests.RequestException as err:
        return Attempt(None, _clip(f"Could not deliver: {_describe(err)}"), seconds=_since(started))
    error = None
    if not 200 <= status < 300:
        if 300 <= status < 400:
            error = f"HTTP {status}: a redirect to {location} (redirects are not followed)"
        else:
            error = f"HTTP {status}" + (f": {text.strip()}" if text.strip() else "")
    return Attempt(status, _clip(error), retry_after, seconds=_since(started))


def _read_some(response: requests.Response, deadline: float) -> str:
    """Read the start of the answer; a short one is read whole, so the connection is reused."""
    data = b""
    for chunk in response.iter_content(4096):
        data += chunk
        if len(data) >= RESPONSE_READ_LIMIT or time.monotonic() > deadline:
            break
    return data[:ERROR_TEXT_LIMIT].decode("utf-8", "replace")


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _clip(text: str | None) -> str | None:
    return None if text is None else " ".join(text.split())[:ERROR_TEXT_LIMIT]


def _describe(err: BaseException) -> str:
    """The innermost message of a requests/urllib3 error chain, without object addresses."""
    seen: set[int] = set()
    while id(err) not in seen:
        seen.add(id(err))
        inner = getattr(err, "reason", None)
        if not isinstance(inner, BaseException) and err.args:
            inner = err.args[0]
        if not isinstance(inner, BaseException):
            break
        err = inner
    return _OBJECT_REPR.sub("", str(err))


_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-f]+>: ")


# -- what to do next ---------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a receiver asks to wait (``Retry-After``: seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    seconds: float
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - now).total_seconds()
    return min(max(seconds, 0.0), float(RETRY_AFTER_MAX_SECONDS))


def retry_delay(
    attempts: int, schedule: Sequence[float], retry_after: float | None = None
) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones; None when out of attempts.

    The schedule's step is jittered, but the wait is never shorter than the receiver's
    Retry-After.
    """
    if not 1 <= attempts <= len(schedule):
        return None
    delay = schedule[attempts - 1] * random.uniform(*JITTER)  # noqa: S311 - jitter, not a secret
    return max(delay, retry_after or 0.0)


def gone_reason(now: datetime) -> str:
    """Why an endpoint was disabled after answering 410 Gone."""
    return f"410 Gone at {iso(now)}: the receiver said it no longer accepts webhooks"

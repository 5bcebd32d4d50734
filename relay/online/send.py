"""One HTTP attempt at a webhook, its verdict, and when to try again (SPEC §8)."""

import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from relay.online.sealing import Keys
from relay.online.signing import headers
from relay.timeutil import iso, utcnow

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
    # Open the sealed signing secrets (RELAY_SECRET_KEY and its fallbacks).
    keys: Keys

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Settings":
        return cls(
            connect_timeout=float(config["WEBHOOK_CONNECT_TIMEOUT"]),
            read_timeout=float(config["WEBHOOK_READ_TIMEOUT"]),
            retry_schedule=tuple(float(s) for s in config["WEBHOOK_RETRY_SCHEDULE"]),
            rotation_grace=timedelta(seconds=float(config["WEBHOOK_ROTATION_GRACE_SECONDS"])),
            allow_private=_flag(config["WEBHOOK_ALLOW_PRIVATE"]),
            lease_margin=float(config["WEBHOOK_LEASE_MARGIN_SECONDS"]),
            keys=Keys.of(config["SECRET_KEY"], config.get("SECRET_KEY_FALLBACKS")),
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

"""The HTTP core the three clients share: one ``requests.Session``, time-outs, retries, paging.

Retries are a small explicit loop, not urllib3's ``Retry`` on an ``HTTPAdapter``: whether a POST
may be sent twice is a property of the call (a completion carries its ``submission_id``, an
enrollment spends a use of its code), and an adapter-wide ``Retry`` cannot say "retry this POST
but not that one". The loop retries

- any call whose request never left (the connection was refused or timed out while opening):
  nothing reached the relay, so nothing can be applied twice;
- idempotent calls only, on a connection cut or a read time-out after the request was sent,
  and on 502/503/504, 429 and ``busy`` (the relay says nothing was applied: retry).

It never retries any other 4xx. Waits grow exponentially with jitter, and a ``Retry-After`` is
honoured; one longer than ``RetryPolicy.max_retry_after`` is not waited out but raised, so a
caller is never frozen for a quarter of an hour by a locked login.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import requests
from urllib3.exceptions import NewConnectionError

from relay.client import jsonio
from relay.client.errors import ApiError, TransportError, error_for, parse_retry_after

log = logging.getLogger("relay.client")

USER_AGENT = "relay-client/1"
# (connect, read) seconds: a LAN relay answers in milliseconds; a big push or batch may take a
# while to apply, so the read time-out is generous.
DEFAULT_TIMEOUT = (5.0, 60.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a call is retried (see the module docstring for when)."""

    attempts: int = 5
    """Tries in all, the first one included."""
    backoff: float = 0.5
    """The first wait in seconds, doubled for every further retry (with jitter)."""
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    """A longer ``Retry-After`` is not waited out: the error is raised with ``retry_after``."""
    retry_statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))
    retry_codes: frozenset[str] = field(default_factory=lambda: frozenset({"busy"}))
    """Error codes retried whatever their status: ``busy`` is the relay's "nothing applied,
    retry in a moment" (a row lock held too long), sent as 409 on PostgreSQL."""

    def backoff_for(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), jittered."""
        base = min(self.max_backoff, self.backoff * (2 ** (retry - 1)))
        return base / 2 + random.uniform(0, base / 2)  # noqa: S311 - jitter, not a secret

    def retryable(self, error: ApiError) -> bool:
        """Whether this answer says the same request may succeed later."""
        return error.status in self.retry_statuses or error.code in self.retry_codes


NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class Answer:
    """A successful answer: status, headers and the parsed JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any


def new_session() -> requests.Session:
    """A session with the relay's defaults (pooled keep-alive connections, JSON accepted)."""
    session = requests.Session()
    session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
    return session


def _never_sent(error: requests.RequestException) -> bool:
    """Whether the request certainly did not reach the server (the connection never opened)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and error.args:
        reason = getattr(error.args[0], "reason", error.args[0])
        return isinstance(reason, NewConnectionError)
    return False


def _transport_retryable(error: requests.RequestException) -> bool:
    return isinstance(
        error,
        requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError,
    )


class HttpClient:
    """A relay base URL and a bearer token over a (possibly shared) ``requests.Session``.

    Pass ``session=`` to share one session, and so its pooled connections, between several
    clients; a client closes only a session it created itself.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._owns_session = session is None
        self.session = session if session is not None else new_session()
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.sleep = sleep

    def close(self) -> None:
        """Close the session's connections, if this client created the session."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _with(self, cls: type[Any], token: str | None) -> Any:
        """Another client of type ``cls`` on the same session and settings, another token."""
        return cls(
            self.base_url,
            token,
            session=self.session,
            timeout=self.timeout,
            retry=self.retry,
            sleep=self.sleep,
        )

    # -- the one way out -------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> Answer:
        """Send one call, retrying as the policy and ``idempotent`` allow; raise on an error."""
        url = self.base_url + path
        all_headers = dict(headers or {})
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if json is not None:
            data = jsonio.dumps(json).encode("utf-8")
            all_headers["Content-Type"] = "application/json; charset=utf-8"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            attempt += 1
            left = attempt < self.retry.attempts
            try:
                response = self.session.request(
                    method,
                    url,
                    data=data,
                    params=query,
                    headers=all_headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as err:
                sent = not _never_sent(err)
                if left and _transport_retryable(err) and (idempotent or not sent):
                    self._pause(method, path, attempt, None, f"{type(err).__name__}: {err}")
                    continue
                raise TransportError(
                    f"No answer from the relay at {self.base_url} ({method} {path}): "
                    f"{_describe(err)}",
                    sent=sent,
                    cause=err,
                ) from err
            try:
                body = _parse(response)
            finally:
                response.close()
            if response.status_code in ok:
                return Answer(response.status_code, response.headers, body)
            error = error_for(
                response.status_code,
                body,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                text=response.text if body is None else "",
            )
            if (
                left
                and idempotent
                and self.retry.retryable(error)
                and (error.retry_after or 0) <= self.retry.max_retry_after
            ):
                self._pause(method, path, attempt, error.retry_after, str(error))
                continue
            raise error

    def _pause(
        self, method: str, path: str, attempt: int, retry_after: float | None, why: str
    ) -> None:
        wait = max(self.retry.backoff_for(attempt), retry_after or 0.0)
        log.warning("%s %s failed (%s); retry %d in %.2f s", method, path, why, attempt, wait)
        self.sleep(wait)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON body (always safe to retry)."""
        return self.request("GET", path, params=params, idempotent=True).body

    def post(self, path: str, json: Any = None, *, idempotent: bool) -> Any:
        """POST a JSON body and return the JSON answer."""
        return self.request(
            "POST", path, json=json if json is not None else {}, idempotent=idempotent
        ).body

    def iter_pages(
        self, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of a paged list, following ``next`` with ``after``."""
        query = dict(params or {})
        while True:
            body = self.get(path, query)
            yield from _items(body, key)
            cursor = body.get("next") if isinstance(body, dict) else None
            if not cursor:
                return
            query["after"] = cursor


def _items(body: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return []
    if key in body:
        return list(body[key])
    # Tolerate a list named otherwise (an endpoint newer than this client): the one list.
    lists = [v for k, v in body.items() if k != "next" and isinstance(v, list)]
    return list(lists[0]) if len(lists) == 1 else []


def _parse(response: requests.Response) -> Any:
    if not response.content:
        return None
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        return jsonio.loads(response.content)
    except ValueError:
        return None


def _describe(error: requests.RequestException) -> str:
    if isinstance(error, requests.ConnectTimeout):
        return "timed out connecting"
    if isinstance(error, requests.ReadTimeout):
        return "timed out waiting for the answer"
    if _never_sent(error):
        return "the connection was refused or the host is unreachable"
    if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return "the connection was cut before the answer arrived"
    return str(error)

"""Delivering the outbox: lease due entries, POST each outside any transaction, record verdicts.

A 2xx marks the result processed; a 2xx after failures also brings the tenant's other
backed-off deliveries forward (the receiver is back). 410 Gone disables the tenant's endpoint
(the entry waits, its attempt not counted, until an admin enables the endpoint again).
Anything else (time-outs, connection errors, 429, 5xx, other 4xx, redirects) retries on the
schedule, never sooner than the receiver's Retry-After; after the last scheduled retry the
entry is a dead letter.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import and_, select
from sqlalchemy.exc import DBAPIError

from relay.db import transaction
from relay.documents import lifecycle
from relay.extensions import db
from relay.ids import new_id
from relay.jsonutil import dumps
from relay.models import OutboxEntry, OutboxState, Result
from relay.models.webhook import webhook_id
from relay.online import guard, outbox, send, webhook
from relay.results import payloads
from relay.timeutil import iso, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One attempt ready to send: everything the POST needs, read in a short transaction."""

    tenant_id: int
    entry_id: uuid.UUID
    result_id: uuid.UUID
    webhook_id: str
    url: str
    secrets: list[str]
    body: bytes
    attempt: int


def encode(event: dict[str, Any]) -> bytes:
    """Serialize a webhook body: compact, exact decimals, UTF-8 text as is."""
    return dumps(event, separators=(",", ":")).encode()


def result_body(result: Result) -> bytes:
    """The ``result.completed`` event: the result exactly as GET /api/v1/results/{id} shows it."""
    return encode(
        {
            "type": "result.completed",
            "timestamp": iso(result.completed_at),
            "data": payloads.payloads([result])[0],
        }
    )


def prepare(
    tenant_id: int, entry_id: uuid.UUID, worker_id: str, settings: send.Settings
) -> Delivery | None:
    """Renew the lease on one entry and build its request; None when there is nothing to send.

    Nothing is sent when the lease was lost to another worker, when the result was
    acknowledged by pull meanwhile (the entry is skipped), or when the endpoint was disabled
    or removed since the lease (the entry waits, its attempts untouched).
    """
    entry = outbox.held(tenant_id, entry_id, worker_id)
    if entry is None:
        return None
    now = utcnow()
    result = db.session.get(Result, (tenant_id, entry.result_id))
    if result is None or result.processed_at is not None:
        entry.state = OutboxState.SKIPPED
        entry.leased_until = None
        return None
    endpoint = webhook.find_endpoint(tenant_id)
    if endpoint is None or not endpoint.enabled:
        outbox.release([(tenant_id, entry_id)], worker_id, now)
        return None
    if entry.leased_until is None or entry.leased_until - now < settings.attempt_time:
        # Renewed only when the batch's lease could run out during this attempt: a write
        # saved is an fsync saved on SQLite.
        entry.leased_until = entry.next_attempt_at = now + settings.lease
    return Delivery(
        tenant_id=tenant_id,
        entry_id=entry.id,
        result_id=result.id,
        webhook_id=entry.webhook_id,
        url=endpoint.url,
        secrets=webhook.signing_secrets(endpoint, now, settings.keys),
        body=result_body(result),
        attempt=entry.attempts + 1,
    )


def record(
    tenant_id: int,
    entry_id: uuid.UUID,
    attempt: send.Attempt,
    worker_id: str,
    settings: send.Settings,
) -> str:
    """Record what an attempt came to; return the verdict (delivered, retry, dead, gone, lost).

    The result row is locked before the entry, in the order acknowledging a result takes
    them, so a delivery and an ack of the same result never deadlock.
    """
    now = utcnow()
    result = db.session.scalars(
        select(Result)
        .join(
            OutboxEntry,
            and_(OutboxEntry.tenant_id == Result.tenant_id, OutboxEntry.result_id == Result.id),
        )
        .where(OutboxEntry.tenant_id == tenant_id, OutboxEntry.id == entry_id)
        .with_for_update(of=Result)
    ).first()
    entry = outbox.held(tenant_id, entry_id, worker_id)
    if entry is None:
        return "lost"
    entry.leased_until = None
    entry.last_status = attempt.status
    entry.last_error = attempt.error[: send.ERROR_TEXT_LIMIT] if attempt.error else None
    entry.last_attempt_at = now
    if attempt.status == 410:
        endpoint = webhook.find_endpoint(tenant_id, for_update=True)
        if endpoint is not None:
            webhook.disable(endpoint, send.gone_reason(now))
        entry.next_attempt_at = now
        return "gone"
    entry.attempts += 1
    if attempt.ok:
        entry.state = OutboxState.DELIVERED
        entry.delivered_at = now
        if result is not None and result.processed_at is None:
            lifecycle.mark_processed(None, result, "webhook")
        if entry.attempts > 1:
            outbox.hurry(tenant_id, now)
        return "delivered"
    delay = send.retry_delay(entry.attempts, settings.retry_schedule, attempt.retry_after)
    if delay is None:
        entry.state = OutboxState.DEAD
        return "dead"
    entry.next_attempt_at = now + timedelta(seconds=delay)
    return "retry"


def deliver_batch(
    session: requests.Session,
    worker_id: str,
    settings: send.Settings,
    *,
    limit: int,
    should_stop: Callable[[], bool] = lambda: False,
    on_verdict: Callable[[str], None] | None = None,
) -> int:
    """Lease up to ``limit`` due entries and deliver them one by one; return how many leased.

    ``should_stop`` is asked before each delivery: a stopping worker finishes the delivery in
    hand and gives the rest of its batch back. ``on_verdict`` hears each attempt's verdict.
    """
    with transaction():
        keys = outbox.lease(worker_id, utcnow(), limit=limit, duration=settings.lease)
    for index, (tenant_id, entry_id) in enumerate(keys):
        if should_stop():
            with transaction():
                outbox.release(keys[index:], worker_id, utcnow())
            break
        verdict = deliver_one(session, tenant_id, entry_id, worker_id, settings)
        if verdict is not None and on_verdict is not None:
            on_verdict(verdict)
    return len(keys)


def deliver_one(
    session: requests.Session,
    tenant_id: int,
    entry_id: uuid.UUID,
    worker_id: str,
    settings: send.Settings,
) -> str | None:
    """Deliver one leased entry; return the verdict, or None when nothing was sent."""
    try:
        with transaction():
            delivery = prepare(tenant_id, entry_id, worker_id, settings)
    except DBAPIError:
        raise
    except Exception as err:
        # A delivery the relay cannot even build (a bug, a broken row) must not be retried
        # forever at every lease: it goes through the schedule to the dead letters instead.
        log.exception("cannot build webhook %s", webhook_id(entry_id))
        attempt = send.Attempt(None, f"The relay could not build this delivery: {err}")
        with transaction():
            return record(tenant_id, entry_id, attempt, worker_id, settings)
    if delivery is None:
        return None
    try:
        attempt = send.send(
            session, delivery.url, delivery.webhook_id, delivery.body, delivery.secrets, settings
        )
    except Exception as err:
        # send() reports every network failure itself; anything else is a bug, which must not
        # take the worker down with it (nor be retried at every lease, as above).
        log.exception("sending webhook %s failed", delivery.webhook_id)
        attempt = send.Attempt(None, f"The relay failed while sending: {err!r}")
    with transaction():
        verdict = record(tenant_id, entry_id, attempt, worker_id, settings)
    log.log(
        logging.INFO if attempt.ok else logging.WARNING,
        "webhook %s result %s attempt %d: %s (%s, %.3fs)",
        delivery.webhook_id,
        delivery.result_id,
        delivery.attempt,
        verdict,
        attempt.status if attempt.status is not None else attempt.error,
        attempt.seconds,
    )
    return verdict


@dataclass(frozen=True)
class Ping:
    """A test delivery, read in a short transaction and sent after it."""

    url: str
    secrets: list[str]
    webhook_id: str
    body: bytes


def ping_for(tenant_id: int, tenant_name: str, now: datetime, settings: send.Settings) -> Ping:
    """Build a signed ``ping`` for the tenant's endpoint (enabled or not)."""
    endpoint = webhook.get_endpoint(tenant_id)
    return Ping(
        url=endpoint.url,
        secrets=webhook.signing_secrets(endpoint, now, settings.keys),
        webhook_id=webhook_id(new_id()),
        body=encode({"type": "ping", "timestamp": iso(now), "data": {"tenant": tenant_name}}),
    )


def send_ping(ping: Ping, settings: send.Settings) -> send.Attempt:
    """Send a ping now, with a session of its own."""
    session = guard.new_session(allow_private=settings.allow_private)
    try:
        return send.send(session, ping.url, ping.webhook_id, ping.body, ping.secrets, settings)
    finally:
        session.close()

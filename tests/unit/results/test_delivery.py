"""Webhook delivery as rules: what an attempt sends, and what each verdict does to the outbox."""

import json
import uuid
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from relay.db import transaction
from relay.extensions import db
from relay.models import OutboxEntry, Result, WebhookEndpoint
from relay.online import guard, outbox, send
from relay.results import delivery, feed
from relay.timeutil import utcnow
from tests.factories import KEYS, completed_order, enroll, send_settings, set_webhook
from tests.helpers import TenantKeys

SETTINGS = send_settings(allow_private=True)
# Nothing listens on the discard port of the loopback: a connection is refused at once.
CLOSED = "http://127.0.0.1:9/hs/relay"


@pytest.fixture
def results(app_ctx: Flask, tenant: TenantKeys) -> list[Result]:
    """Two results of an online terminal, with the tenant's webhook set and enabled."""
    with transaction():
        terminal = enroll(tenant.id, mode="online")
    done = [completed_order(tenant.accounting_key, terminal.token, f"Заказ-{n}") for n in (1, 2)]
    set_webhook(tenant.id, CLOSED)
    return done


def entry_of(result: Result) -> OutboxEntry:
    return db.session.scalars(
        select(OutboxEntry).where(
            OutboxEntry.tenant_id == result.tenant_id, OutboxEntry.result_id == result.id
        )
    ).one()


def endpoint(tenant_id: int) -> WebhookEndpoint:
    found = db.session.get(WebhookEndpoint, tenant_id)
    assert found is not None
    return found


def leased(worker: str = "w1", limit: int = 10) -> list[tuple[int, uuid.UUID]]:
    with transaction():
        return outbox.lease(worker, utcnow(), limit=limit, duration=SETTINGS.lease)


def prepare(tenant_id: int, entry_id: uuid.UUID, worker: str = "w1") -> delivery.Delivery | None:
    with transaction():
        return delivery.prepare(tenant_id, entry_id, worker, SETTINGS)


def record(tenant_id: int, entry_id: uuid.UUID, attempt: send.Attempt, worker: str = "w1") -> str:
    with transaction():
        return delivery.record(tenant_id, entry_id, attempt, worker, SETTINGS)


def test_an_attempt_carries_the_result_signed_for_the_endpoint(
    tenant: TenantKeys, results: list[Result]
) -> None:
    (tenant_id, entry_id), _second = leased()
    prepared = prepare(tenant_id, entry_id)
    assert prepared is not None
    assert prepared.url == CLOSED
    assert prepared.secrets == [KEYS.open(endpoint(tenant.id).secret)]
    assert prepared.webhook_id == f"msg_{entry_id.hex}"
    assert (prepared.result_id, prepared.attempt) == (results[0].id, 1)
    body = json.loads(prepared.body)
    assert body["type"] == "result.completed"
    assert body["data"]["id"] == str(results[0].id)
    assert prepared.body == delivery.result_body(results[0])


def test_nothing_is_prepared_for_a_worker_without_the_lease(
    tenant: TenantKeys, results: list[Result]
) -> None:
    (tenant_id, entry_id), _second = leased("w1")
    assert prepare(tenant_id, entry_id, "w2") is None
    assert entry_of(results[0]).state == "pending"


def test_a_result_processed_meanwhile_is_skipped_not_sent(
    tenant: TenantKeys, results: list[Result]
) -> None:
    (tenant_id, entry_id), _second = leased()
    with transaction():
        feed.get(tenant.id, results[0].id).processed_at = utcnow()
    assert prepare(tenant_id, entry_id) is None
    entry = entry_of(results[0])
    assert (entry.state, entry.leased_until, entry.attempts) == ("skipped", None, 0)


def test_an_endpoint_disabled_since_the_lease_gives_the_entry_back(
    tenant: TenantKeys, results: list[Result]
) -> None:
    (tenant_id, entry_id), _second = leased()
    set_webhook(tenant.id, CLOSED, enabled=False)
    assert prepare(tenant_id, entry_id) is None
    entry = entry_of(results[0])
    assert (entry.state, entry.leased_until, entry.attempts) == ("pending", None, 0)


def test_a_2xx_delivers_and_marks_the_result_processed(
    tenant: TenantKeys, results: list[Result]
) -> None:
    (tenant_id, entry_id), _second = leased()
    assert record(tenant_id, entry_id, send.Attempt(204)) == "delivered"
    entry = entry_of(results[0])
    assert (entry.state, entry.attempts, entry.last_status) == ("delivered", 1, 204)
    assert entry.delivered_at is not None
    assert feed.get(tenant.id, results[0].id).processed_at is not None
    rows = feed.feed(tenant.id, after=None, limit=10).rows
    assert [r.id for r in rows] == [results[1].id]


def test_a_failure_retries_on_the_schedule(tenant: TenantKeys, results: list[Result]) -> None:
    (tenant_id, entry_id), _second = leased()
    before = utcnow()
    assert record(tenant_id, entry_id, send.Attempt(503, "Service Unavailable")) == "retry"
    entry = entry_of(results[0])
    assert (entry.state, entry.attempts, entry.leased_until) == ("pending", 1, None)
    assert (entry.last_status, entry.last_error) == (503, "Service Unavailable")
    first_step = SETTINGS.retry_schedule[0]
    assert before + timedelta(seconds=first_step * 0.8) <= entry.next_attempt_at
    assert entry.next_attempt_at <= utcnow() + timedelta(seconds=first_step * 1.2)
    assert feed.get(tenant.id, results[0].id).processed_at is None


def test_retry_after_is_waited_out(tenant: TenantKeys, results: list[Result]) -> None:
    (tenant_id, entry_id), _second = leased()
    before = utcnow()
    assert record(tenant_id, entry_id, send.Attempt(429, retry_after=600)) == "retry"
    assert entry_of(results[0]).next_attempt_at >= before + timedelta(seconds=600)


def test_after_the_last_scheduled_retry_the_entry_is_a_dead_letter(
    tenant: TenantKeys, results: list[Result]
) -> None:
    verdicts = []
    for _attempt in range(len(SETTINGS.retry_schedule) + 1):
        with transaction():  # its back-off waited out: due before the other entry
            entry_of(results[0]).next_attempt_at = utcnow() - timedelta(days=1)
        (key,) = leased(limit=1)
        assert key[1] == entry_of(results[0]).id
        verdicts.append(record(*key, send.Attempt(None, "connection refused")))
    assert verdicts == ["retry", "retry", "retry", "dead"]
    assert entry_of(results[0]).state == "dead"
    assert outbox.counts(tenant.id) == {"pending": 1, "dead": 1}


def test_410_gone_disables_the_endpoint_and_spends_no_attempt(
    tenant: TenantKeys, results: list[Result]
) -> None:
    (tenant_id, entry_id), _second = leased()
    assert record(tenant_id, entry_id, send.Attempt(410)) == "gone"
    hook = endpoint(tenant.id)
    assert hook.enabled is False
    assert hook.disabled_reason is not None
    assert hook.disabled_reason.startswith("410 Gone at ")
    entry = entry_of(results[0])
    assert (entry.state, entry.attempts, entry.leased_until) == ("pending", 0, None)
    assert leased() == []  # nothing goes until an admin enables the endpoint again


def test_a_success_after_failures_brings_the_backlog_forward(
    tenant: TenantKeys, results: list[Result]
) -> None:
    (tenant_id, first), (_, second) = leased()
    record(tenant_id, first, send.Attempt(503))
    record(tenant_id, second, send.Attempt(503))
    with transaction():
        entry_of(results[0]).next_attempt_at = utcnow()
    (key,) = leased(limit=1)
    assert key == (tenant_id, first)
    assert record(tenant_id, first, send.Attempt(200)) == "delivered"
    assert entry_of(results[1]).next_attempt_at <= utcnow()  # due now, not at its back-off


def test_a_verdict_of_a_worker_that_lost_the_lease_is_ignored(
    tenant: TenantKeys, results: list[Result]
) -> None:
    (tenant_id, entry_id), _second = leased("w1")
    assert record(tenant_id, entry_id, send.Attempt(200), worker="w2") == "lost"
    entry = entry_of(results[0])
    assert (entry.state, entry.attempts) == ("pending", 0)


def test_a_stopping_worker_gives_its_batch_back_unsent(
    tenant: TenantKeys, results: list[Result]
) -> None:
    session = guard.new_session(allow_private=True)
    try:
        taken = delivery.deliver_batch(session, "w1", SETTINGS, limit=10, should_stop=lambda: True)
    finally:
        session.close()
    assert taken == 2
    for result in results:
        entry = entry_of(result)
        assert (entry.state, entry.attempts, entry.leased_until) == ("pending", 0, None)
    assert len(leased("w2")) == 2


def test_a_refused_connection_is_a_retry_with_its_error_kept(
    tenant: TenantKeys, results: list[Result]
) -> None:
    (tenant_id, entry_id), _second = leased()
    session = guard.new_session(allow_private=True)
    try:
        verdict = delivery.deliver_one(session, tenant_id, entry_id, "w1", SETTINGS)
    finally:
        session.close()
    assert verdict == "retry"
    entry = entry_of(results[0])
    assert (entry.attempts, entry.last_status) == (1, None)
    assert entry.last_error


def test_a_ping_is_signed_for_the_tenant(tenant: TenantKeys, results: list[Result]) -> None:
    now = utcnow()
    ping = delivery.ping_for(tenant.id, "acme", now, SETTINGS)
    assert ping.url == CLOSED
    assert ping.secrets == [KEYS.open(endpoint(tenant.id).secret)]
    assert ping.webhook_id.startswith("msg_")
    assert json.loads(ping.body)["type"] == "ping"
    assert json.loads(ping.body)["data"] == {"tenant": "acme"}

"""Webhook delivery to a real receiver on 127.0.0.1, by the worker running in this process."""

import time
import uuid
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from relay.db import transaction
from relay.extensions import db
from relay.models import Instance, OutboxEntry, Result, WebhookEndpoint
from relay.online import guard, outbox, send
from relay.results import delivery
from relay.timeutil import utcnow
from relay.worker import Worker
from tests.helpers import Client, TenantKeys
from tests.receiver import Receiver, Reply, free_port
from tests.worker.conftest import run_until

DEAD = "/api/v1/admin/dead-letters"


def entries(app: Flask) -> list[OutboxEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))
        db.session.remove()
    return rows


def states(app: Flask) -> list[str]:
    return [e.state for e in entries(app)]


def all_in(state: str, app: Flask) -> bool:
    found = states(app)
    return bool(found) and set(found) == {state}


def endpoint_of(app: Flask, tenant: TenantKeys) -> WebhookEndpoint:
    with app.app_context():
        found = db.session.get(WebhookEndpoint, tenant.id)
        db.session.remove()
    assert found is not None
    return found


@pytest.fixture
def online(api: Client, tenant: TenantKeys, lan: Flask, receiver: Receiver) -> Client:
    """The tenant's webhook points at the receiver, which knows the secret."""
    receiver.secrets = [str(api.set_webhook(tenant, receiver.url))]
    return api


def test_a_result_is_delivered_signed_and_then_processed(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    terminal = online.enroll(tenant, mode="online")
    result_id = online.result(tenant, terminal)
    pulled = online.get(f"/api/v1/results/{result_id}", tenant.accounting_key).json
    run_until(app, lambda: all_in("delivered", app))

    assert receiver.failures == []
    (sent,) = receiver.deliveries
    (entry,) = entries(app)
    assert sent.webhook_id == entry.webhook_id
    assert abs(int(sent.timestamp) - time.time()) < 60
    assert sent.body["type"] == "result.completed"
    assert sent.body["data"] == pulled
    assert sent.body["data"]["lines"][1]["actual_qty"] == 0.5
    assert entry.attempts == 1
    assert entry.last_status == 200
    assert entry.leased_by == "test-worker"

    after = online.get(f"/api/v1/results/{result_id}", tenant.accounting_key).json
    assert after["processed_at"] is not None
    assert online.get("/api/v1/results", tenant.accounting_key).json["results"] == []
    document = online.get(f"/api/v1/documents/{pulled['document_id']}", tenant.accounting_key)
    assert document.json["state"] == "processed"
    processed = [e for e in document.json["timeline"] if e["kind"] == "processed"]
    assert processed[0]["details"]["via"] == "webhook"


def test_an_online_result_stays_in_the_feed_until_delivered(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    receiver.default = Reply(status=503)
    result_id = online.result(tenant, online.enroll(tenant, mode="online"))
    run_until(app, lambda: entries(app)[0].attempts >= 1)
    feed = online.get("/api/v1/results", tenant.accounting_key).json["results"]
    assert [r["id"] for r in feed] == [result_id]


def test_receiver_down_then_up_delivers_everything_once(
    api: Client, tenant: TenantKeys, app: Flask, lan: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SCHEDULE", [0.3] * 20)
    port = free_port()
    receiver = Receiver(port=port)
    receiver.secrets = [str(api.set_webhook(tenant, receiver.url))]
    terminal = api.enroll(tenant, mode="online")
    for n in range(5):
        api.result(tenant, terminal, n)
    run_until(app, lambda: all(e.attempts >= 2 for e in entries(app)))
    assert all_in("pending", app)
    assert all("refused" in (e.last_error or "").lower() for e in entries(app))

    with receiver:
        run_until(app, lambda: all_in("delivered", app))
    assert receiver.failures == []
    assert sorted(receiver.accepted_ids().values()) == [1] * 5
    assert set(receiver.ids()) == {e.webhook_id for e in entries(app)}


def test_a_retry_that_gets_through_brings_the_backlog_forward(
    api: Client, tenant: TenantKeys, app: Flask, lan: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SCHEDULE", [3600, 3600])
    receiver = Receiver()
    receiver.secrets = [str(api.set_webhook(tenant, receiver.url))]
    terminal = api.enroll(tenant, mode="online")
    for n in range(3):
        api.result(tenant, terminal, n)
    run_until(app, lambda: all(e.attempts == 1 for e in entries(app)))
    first = entries(app)[0]
    with app.app_context():
        # The first entry's hour is up; the others still have most of theirs to wait.
        db.session.execute(
            update(OutboxEntry).where(OutboxEntry.id == first.id).values(next_attempt_at=utcnow())
        )
        db.session.commit()
    with receiver:
        run_until(app, lambda: all_in("delivered", app), timeout=10)
    assert sorted(receiver.accepted_ids().values()) == [1, 1, 1]
    assert receiver.failures == []


def test_a_slow_receiver_times_out_and_the_same_webhook_is_retried(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    receiver.plan = [Reply(delay=app.config["WEBHOOK_READ_TIMEOUT"] + 1.0)]
    online.result(tenant, online.enroll(tenant, mode="online"))
    run_until(app, lambda: all_in("delivered", app))
    (entry,) = entries(app)
    assert entry.attempts == 2
    first, second = receiver.deliveries
    assert first.webhook_id == second.webhook_id == entry.webhook_id
    assert int(second.timestamp) >= int(first.timestamp)
    assert receiver.failures == []


def test_retry_after_is_honoured(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    receiver.plan = [Reply(status=429, headers={"Retry-After": "1"})]
    online.result(tenant, online.enroll(tenant, mode="online"))
    run_until(app, lambda: entries(app)[0].attempts == 1)
    (entry,) = entries(app)
    assert entry.state == "pending"
    assert entry.last_status == 429
    assert entry.last_attempt_at is not None
    assert entry.next_attempt_at - entry.last_attempt_at >= timedelta(seconds=0.99)
    run_until(app, lambda: all_in("delivered", app))


def test_after_the_last_attempt_a_dead_letter_then_a_replay_delivers_it(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    receiver.default = Reply(status=500)
    result_id = online.result(tenant, online.enroll(tenant, mode="online"))
    run_until(app, lambda: all_in("dead", app))
    (entry,) = entries(app)
    assert entry.attempts == 3  # the first attempt and the two scheduled retries
    (letter,) = online.get(DEAD, tenant.admin_key).json["dead_letters"]
    assert letter["id"] == entry.webhook_id
    assert letter["last_status"] == 500
    assert (
        online.get(f"/api/v1/results/{result_id}", tenant.accounting_key).json["processed_at"]
        is None
    )

    receiver.default = Reply(status=204)
    replayed = online.post(f"{DEAD}/{letter['id']}/replay", tenant.admin_key)
    assert replayed.status_code == 200
    run_until(app, lambda: all_in("delivered", app))
    assert receiver.ids() == {entry.webhook_id: 4}
    assert online.get("/api/v1/results", tenant.accounting_key).json["results"] == []


def test_410_gone_disables_the_endpoint_until_an_admin_enables_it(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    receiver.plan = [Reply(status=410)]
    terminal = online.enroll(tenant, mode="online")
    online.result(tenant, terminal, 1)
    online.result(tenant, terminal, 2)
    run_until(app, lambda: not endpoint_of(app, tenant).enabled)
    settings = online.get("/api/v1/admin/webhook", tenant.admin_key).json
    assert settings["enabled"] is False
    assert settings["disabled_reason"].startswith("410 Gone at ")
    assert settings["outbox"] == {"pending": 2, "dead": 0}
    assert len(receiver.deliveries) == 1
    assert all(e.attempts == 0 for e in entries(app))

    with app.app_context():
        Worker(app, "test-worker").run(once=True)
    assert len(receiver.deliveries) == 1

    online.set_webhook(tenant, receiver.url)
    assert online.get("/api/v1/admin/webhook", tenant.admin_key).json["disabled_reason"] is None
    run_until(app, lambda: all_in("delivered", app))
    assert sorted(receiver.accepted_ids().values()) == [1, 1]


def test_without_a_webhook_results_wait_without_using_attempts(
    api: Client, tenant: TenantKeys, app: Flask, lan: Flask, receiver: Receiver
) -> None:
    api.result(tenant, api.enroll(tenant, mode="online"))
    with app.app_context():
        Worker(app, "test-worker").run(once=True)
    (entry,) = entries(app)
    assert (entry.state, entry.attempts, entry.leased_by) == ("pending", 0, None)
    receiver.secrets = [str(api.set_webhook(tenant, receiver.url))]
    run_until(app, lambda: all_in("delivered", app))
    assert receiver.failures == []


def test_a_result_pulled_and_acknowledged_first_is_never_sent(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    online.put("/api/v1/admin/webhook", tenant.admin_key, {"url": receiver.url, "enabled": False})
    result_id = online.result(tenant, online.enroll(tenant, mode="online"))
    online.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [result_id]})
    online.set_webhook(tenant, receiver.url)
    with app.app_context():
        Worker(app, "test-worker").run(once=True)
    assert receiver.deliveries == []
    assert states(app) == ["skipped"]


def test_a_result_acknowledged_after_the_lease_is_skipped_at_send_time(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    online.result(tenant, online.enroll(tenant, mode="online"))
    settings = send.Settings.from_config(app.config)
    with app.app_context():
        with transaction():
            ((tenant_id, entry_id),) = outbox.lease(
                "w1", utcnow(), limit=10, duration=settings.lease
            )
        with transaction():
            # Processed by some path that left the entry pending (not the ack, which settles it).
            db.session.execute(update(Result).values(processed_at=utcnow()))
        with transaction():
            assert delivery.prepare(tenant_id, entry_id, "w1", settings) is None
        db.session.remove()
    assert states(app) == ["skipped"]


def test_a_worker_that_lost_its_lease_records_nothing(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    online.result(tenant, online.enroll(tenant, mode="online"))
    settings = send.Settings.from_config(app.config)
    with app.app_context():
        with transaction():
            ((tenant_id, entry_id),) = outbox.lease(
                "w1", utcnow(), limit=10, duration=settings.lease
            )
        with transaction():
            assert delivery.prepare(tenant_id, entry_id, "w1", settings) is not None
        later = utcnow() + settings.lease + timedelta(seconds=1)
        with transaction():
            assert outbox.lease("w2", later, limit=10, duration=settings.lease) == [
                (tenant_id, entry_id)
            ]
        with transaction():
            verdict = delivery.record(tenant_id, entry_id, send.Attempt(200), "w1", settings)
        assert verdict == "lost"
        with transaction():
            assert delivery.record(tenant_id, entry_id, send.Attempt(200), "w2", settings) == (
                "delivered"
            )
        db.session.remove()
    (entry,) = entries(app)
    assert (entry.state, entry.attempts, entry.leased_by) == ("delivered", 1, "w2")


def test_a_stopping_worker_gives_the_rest_of_its_batch_back(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    terminal = online.enroll(tenant, mode="online")
    for n in range(3):
        online.result(tenant, terminal, n)
    settings = send.Settings.from_config(app.config)
    asked = []

    def stop_after_one() -> bool:
        asked.append(1)
        return len(asked) > 1

    session = guard.new_session(allow_private=True)
    try:
        with app.app_context():
            leased = delivery.deliver_batch(
                session, "w1", settings, limit=10, should_stop=stop_after_one
            )
            db.session.remove()
    finally:
        session.close()
    assert leased == 3
    assert len(receiver.deliveries) == 1
    rest = [e for e in entries(app) if e.state == "pending"]
    assert len(rest) == 2
    assert all(e.leased_until is None and e.next_attempt_at <= utcnow() for e in rest)


def test_a_redirect_is_not_followed(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    receiver.plan = [Reply(status=302, headers={"Location": "http://169.254.169.254/"})]
    online.result(tenant, online.enroll(tenant, mode="online"))
    run_until(app, lambda: entries(app)[0].attempts == 1)
    (entry,) = entries(app)
    assert entry.last_status == 302
    assert entry.last_error is not None
    assert "redirects are not followed" in entry.last_error
    assert len(receiver.deliveries) == 1


def test_rotated_secrets_both_sign_deliveries(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    new = online.post("/api/v1/admin/webhook/rotate-secret", tenant.admin_key).json["secret"]
    receiver.secrets = [*receiver.secrets, new]
    online.result(tenant, online.enroll(tenant, mode="online"))
    run_until(app, lambda: all_in("delivered", app))
    assert receiver.failures == []


def test_a_url_that_now_reaches_a_private_address_is_refused_at_connect(
    online: Client,
    tenant: TenantKeys,
    app: Flask,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Set while allowed (or before DNS changed): the guard checks the address it connects to."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    online.result(tenant, online.enroll(tenant, mode="online"))
    run_until(app, lambda: entries(app)[0].attempts == 1)
    (entry,) = entries(app)
    assert entry.state == "pending"
    assert entry.last_error is not None
    assert "127.0.0.1, a loopback address" in entry.last_error
    assert receiver.deliveries == []


def test_a_delivery_that_cannot_be_built_goes_to_the_dead_letters(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver
) -> None:
    online.result(tenant, online.enroll(tenant, mode="online"))
    with app.app_context():
        # A result whose process version is gone: its payload cannot be built.
        db.session.execute(update(Result).values(business_process_version=99))
        db.session.commit()
    run_until(app, lambda: all_in("dead", app))
    (entry,) = entries(app)
    assert entry.last_error is not None
    assert entry.last_error.startswith("The relay could not build this delivery")
    assert receiver.deliveries == []


def test_a_failure_inside_send_is_recorded_not_raised(
    online: Client,
    tenant: TenantKeys,
    app: Flask,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> send.Attempt:
        raise RuntimeError("x" * 2000)

    monkeypatch.setattr(send, "send", broken)
    online.result(tenant, online.enroll(tenant, mode="online"))
    run_until(app, lambda: all_in("dead", app))
    (entry,) = entries(app)
    assert entry.last_error is not None
    assert entry.last_error.startswith("The relay failed while sending: RuntimeError")
    assert len(entry.last_error) == send.ERROR_TEXT_LIMIT


def test_the_worker_returns_expired_claims_to_the_queue(
    api: Client, tenant: TenantKeys, app: Flask
) -> None:
    terminal = api.enroll(tenant)
    from tests.helpers import doc

    pushed = api.push(tenant, "purchase-receipt", [doc()], {"pin": terminal.pin})
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    api.claim(terminal, instance_id)
    with app.app_context():
        db.session.execute(
            update(Instance)
            .where(Instance.id == uuid.UUID(instance_id))
            .values(claim_expires_at=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
        Worker(app, "test-worker").run(once=True)
        instance = db.session.get(Instance, (tenant.id, uuid.UUID(instance_id)))
        assert instance is not None
        assert instance.state == "queued"
        db.session.remove()

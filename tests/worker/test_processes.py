"""`relay worker` as real processes: killed, stopped, restarted, and two of them side by side."""

import signal
import time
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from relay.extensions import db
from relay.models import Document, Instance, OutboxEntry, Result
from relay.online import outbox
from relay.timeutil import utcnow
from tests.helpers import Client, TenantKeys, doc
from tests.receiver import Receiver, Reply, wait_for
from tests.worker.conftest import WorkerProcess

Spawn = Callable[..., WorkerProcess]


def count(app: Flask, state: str) -> int:
    with app.app_context():
        n = db.session.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.state == state)
        )
        db.session.remove()
    return int(n or 0)


def entry_states(app: Flask) -> list[tuple[str, str, int, str | None]]:
    with app.app_context():
        rows = [
            (e.webhook_id, e.state, e.attempts, e.leased_by)
            for e in db.session.scalars(select(OutboxEntry).order_by(OutboxEntry.id))
        ]
        db.session.remove()
    return rows


@pytest.fixture
def online(api: Client, tenant: TenantKeys, lan: Flask, receiver: Receiver) -> Client:
    receiver.secrets = [str(api.set_webhook(tenant, receiver.url))]
    return api


@pytest.mark.timeout(60)
def test_a_worker_killed_mid_delivery_is_replaced_and_the_webhook_id_kept(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver, spawn: Spawn
) -> None:
    receiver.plan = [Reply(block=True)]
    online.result(tenant, online.enroll(tenant, mode="online"))
    first = spawn("w1")
    wait_for(receiver.arrived.is_set)
    first.signal(signal.SIGKILL)
    first.wait()
    receiver.gate.set()
    ((webhook_id, state, attempts, leased_by),) = entry_states(app)
    assert (state, attempts, leased_by) == ("pending", 0, "w1")

    spawn("w2").wait_started()
    wait_for(lambda: count(app, "delivered") == 1)
    assert receiver.ids() == {webhook_id: 2}
    assert receiver.failures == []
    assert entry_states(app) == [(webhook_id, "delivered", 1, "w2")]


@pytest.mark.timeout(60)
def test_sigterm_finishes_the_delivery_in_hand_and_a_restart_loses_nothing(
    online: Client, tenant: TenantKeys, app: Flask, receiver: Receiver, spawn: Spawn
) -> None:
    receiver.plan = [Reply(block=True)]
    terminal = online.enroll(tenant, mode="online")
    for n in range(5):
        online.result(tenant, terminal, n)
    worker = spawn("w1")
    wait_for(receiver.arrived.is_set)
    worker.signal(signal.SIGTERM)
    time.sleep(0.3)
    assert worker.proc.poll() is None, "the worker left with a delivery in hand"
    receiver.gate.set()
    assert worker.wait() == 0
    assert "stopped" in worker.output()
    assert count(app, "delivered") == 1
    assert count(app, "pending") == 4
    assert len(receiver.deliveries) == 1

    spawn("w2").wait_started()
    wait_for(lambda: count(app, "delivered") == 5)
    assert sorted(receiver.ids().values()) == [1] * 5
    assert receiver.failures == []


@pytest.mark.timeout(60)
def test_sigint_stops_an_idle_worker_at_once(app: Flask, spawn: Spawn) -> None:
    worker = spawn("w1", WORKER_POLL_SECONDS=30)
    worker.wait_started()
    worker.signal(signal.SIGINT)
    assert worker.wait(5) == 0


def bulk_online_results(app: Flask, api: Client, tenant: TenantKeys, n: int) -> set[str]:
    """Store ``n`` completed results of an online device straight in the database."""
    terminal = api.enroll(tenant, mode="online")
    pushed = api.push(tenant, "purchase-receipt", [doc()], {"pin": terminal.pin})
    document_id = uuid.UUID(pushed.json["documents"][0]["id"])
    with app.app_context():
        document = db.session.get(Document, (tenant.id, document_id))
        assert document is not None
        now = utcnow()
        instances = [
            Instance(tenant_id=tenant.id, document_id=document_id, state="completed")
            for _ in range(n)
        ]
        db.session.add_all(instances)
        db.session.flush()
        results = [
            Result(
                tenant_id=tenant.id,
                document_id=document_id,
                instance_id=instance.id,
                business_process=document.business_process,
                business_process_version=document.business_process_version,
                completed_at=now,
                completed_by_device_id=uuid.UUID(terminal.device_id),
                device_mode="online",
                header={"n": i},
                lines=[{"line_id": "1", "declared_qty": 10, "actual_qty": 1, "actual": []}],
                undeclared=[],
            )
            for i, instance in enumerate(instances)
        ]
        db.session.add_all(results)
        db.session.flush()
        ids = {e.webhook_id for e in outbox.enqueue(results)}
        db.session.commit()
        db.session.remove()
    return ids


@pytest.mark.postgres_only
@pytest.mark.timeout(240)
def test_two_workers_deliver_a_thousand_results_none_missing_none_twice(
    api: Client, tenant: TenantKeys, app: Flask, lan: Flask, receiver: Receiver, spawn: Spawn
) -> None:
    # Disabled until both workers are up, so they start on the backlog together.
    receiver.secrets = [str(api.set_webhook(tenant, receiver.url, enabled=False))]
    expected = bulk_online_results(app, api, tenant, 1000)
    workers = [spawn(f"w{i}", WORKER_BATCH_SIZE=10) for i in (1, 2)]
    for worker in workers:
        worker.wait_started()
    api.set_webhook(tenant, receiver.url)
    wait_for(lambda: count(app, "delivered") == 1000, timeout=180, interval=0.5)
    for worker in workers:
        worker.signal(signal.SIGTERM)
    assert [worker.wait() for worker in workers] == [0, 0]

    ids = receiver.ids()
    assert set(ids) == expected
    assert set(ids.values()) == {1}
    assert receiver.failures == []
    with app.app_context():
        by_worker = dict(
            db.session.execute(
                select(OutboxEntry.leased_by, func.count()).group_by(OutboxEntry.leased_by)
            ).all()
        )
        unprocessed = db.session.scalar(
            select(func.count()).select_from(Result).where(Result.processed_at.is_(None))
        )
        db.session.remove()
    assert set(by_worker) == {"w1", "w2"}, by_worker
    assert unprocessed == 0

"""`relay worker` SIGKILLed again and again mid-delivery: every result arrives, under one id.

A few hundred results of an online terminal go to a real receiver that verifies every
signature with `standardwebhooks`. Each worker is killed while a delivery is in flight: the
receiver holds that one request until the kill, so the kill lands mid-request every time. A
new worker is started after each kill. The killed deliveries arrive again, after their lease
runs out, with the same `webhook-id`; deduplicated by that id, the receiver has each result
exactly once.
"""

import random
import signal
from collections import Counter, defaultdict
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from relay.extensions import db
from relay.models import OutboxEntry, Result
from tests.helpers import Client, TenantKeys, doc
from tests.receiver import Receiver, Reply, wait_for
from tests.worker.conftest import WorkerProcess

pytestmark = [pytest.mark.fault]

RESULTS = 300
KILLS = 6
# Read time-out of a delivery; the in-flight one is held for less, so a kill is what stops it.
READ_TIMEOUT = 3.0
HOLD = 2.5
PACE = Reply(delay=0.02)


def online_results(api: Client, tenant: TenantKeys, n: int) -> set[str]:
    """Push ``n`` supplier orders to an online terminal; it claims and completes each."""
    terminal = api.enroll(tenant, mode="online")
    pushed = api.push(
        tenant,
        "purchase-receipt",
        [doc(f"ЗаказПоставщику-{k:05d}") for k in range(n)],
        {"pin": terminal.pin},
    )
    results = set()
    for document in pushed.json["documents"]:
        instance_id = document["instances"][0]["id"]
        api.claim(terminal, instance_id)
        done = api.complete(terminal, instance_id, [{"line_id": "1", "qty": 10}])
        results.add(done.json["result_id"])
    return results


def outbox(app: Flask) -> dict[str, tuple[str, str, int]]:
    """result id -> (webhook-id, state, attempts), and every result processed."""
    with app.app_context():
        rows = {
            str(e.result_id): (e.webhook_id, e.state, e.attempts)
            for e in db.session.scalars(select(OutboxEntry))
        }
        unprocessed = db.session.scalars(select(Result.id).where(Result.processed_at.is_(None)))
        rows.update({str(r): ("", "unprocessed", 0) for r in unprocessed})
        db.session.remove()
    return rows


def delivered(app: Flask) -> int:
    return sum(1 for _, state, _ in outbox(app).values() if state == "delivered")


@pytest.mark.timeout(60)
def test_workers_killed_mid_delivery_deliver_everything_under_one_webhook_id(
    api: Client,
    tenant: TenantKeys,
    app: Flask,
    lan: Flask,
    receiver: Receiver,
    spawn: Callable[..., WorkerProcess],
) -> None:
    receiver.secrets = [str(api.set_webhook(tenant, receiver.url))]
    receiver.default = PACE
    expected = online_results(api, tenant, RESULTS)
    rng = random.Random(4)
    config = {"WEBHOOK_READ_TIMEOUT": READ_TIMEOUT}

    kills = 0
    for n in range(KILLS):
        k = rng.randint(5, 25)
        # The worker's k-th request is held; the kill comes while it is.
        receiver.plan = [PACE] * (k - 1) + [Reply(delay=HOLD)]
        before = len(receiver.deliveries)
        worker = spawn(f"w{n}", **config)
        wait_for(lambda: len(receiver.deliveries) >= before + k, timeout=30, interval=0.005)  # noqa: B023
        worker.signal(signal.SIGKILL)
        assert worker.wait() == -signal.SIGKILL
        assert receiver.plan == []
        kills += 1
    assert delivered(app) < RESULTS, "everything was delivered before the last kill"

    last = spawn("last", **config)
    wait_for(lambda: delivered(app) == RESULTS, timeout=30, interval=0.2)
    last.signal(signal.SIGTERM)
    assert last.wait() == 0

    assert receiver.failures == []  # every attempt carried a valid signature
    entries = outbox(app)
    assert set(entries) == expected
    assert {(state, attempts) for _, state, attempts in entries.values()} == {("delivered", 1)}
    # Each result arrived under its own outbox entry's webhook-id, and under no other.
    ids_of: defaultdict[str, set[str]] = defaultdict(set)
    for delivery in receiver.deliveries:
        ids_of[delivery.body["data"]["id"]].add(delivery.webhook_id)
    assert dict(ids_of) == {r: {webhook_id} for r, (webhook_id, _, _) in entries.items()}
    # Deduplicated by webhook-id, the receiver holds each result exactly once; the repeats are
    # the deliveries the kills interrupted.
    arrivals = receiver.ids()
    assert len(arrivals) == RESULTS
    repeats = sum(arrivals.values()) - RESULTS
    assert repeats >= kills, Counter(arrivals.values())
    print(f"\n{RESULTS} results, {kills} workers killed mid-delivery, {repeats} repeats")

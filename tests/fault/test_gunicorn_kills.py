"""gunicorn workers SIGKILLed at random under a load of pushes and completions lose nothing."""

import re
import time

import pytest

from tests.fault.audit import audit
from tests.fault.conftest import StartRelay
from tests.fault.killer import WorkerKiller
from tests.fault.load import Load, RetryLog, check_nothing_lost_nothing_doubled, enroll_fleet

pytestmark = [pytest.mark.fault, pytest.mark.e2e]

WORKERS = 3
# Pushing goes on until this many workers were killed (at least LEAST documents, at most MOST).
KILLS = 15
LEAST, MOST = 60, 1000


@pytest.mark.timeout(60)
def test_workers_killed_at_random_lose_and_double_nothing(
    server_env: dict[str, str], relays: StartRelay, retries: RetryLog
) -> None:
    t0 = time.monotonic()
    relay = relays(server_env, workers=WORKERS)
    assert relay.pid is not None
    keys = relay.create_tenant("fault-sigkill")
    fleet = enroll_fleet(relay.url, keys)
    killer = WorkerKiller(relay.pid, relay.port, seed=1)
    assert len(killer.initial) == WORKERS
    load = Load(fleet, least=LEAST, most=MOST, until=lambda: len(killer.killed) >= KILLS)
    t1 = time.monotonic()
    killer.start()
    load.start()
    try:
        load.join(timeout=45)
    finally:
        killer.stop()
        fleet.close()
    t2 = time.monotonic()
    survivors = killer.wait_respawned(WORKERS)

    check_nothing_lost_nothing_doubled(load.ledger, audit(relay.database_url, keys["tenant"]))

    # The faults were real: workers died mid-request and gunicorn replaced every one of them.
    assert len(killer.killed) >= KILLS, killer.killed
    assert retries.transport > 0, retries.reasons
    log = relay.log_path.read_text(errors="replace")
    reported = {int(pid) for pid in re.findall(r"Worker \(pid:(\d+)\) was sent SIGKILL", log)}
    assert reported == set(killer.killed)
    assert len(killer.seen) >= WORKERS + len(killer.killed)
    assert relay.running
    assert not set(survivors) & killer.initial
    print(
        f"\n{len(load.ledger.acked)} documents, {len(killer.killed)} workers killed, "
        f"{len(load.ledger.completed)} completed, retries {dict(retries.reasons)}, "
        f"statuses {dict(load.ledger.statuses)}, collisions {load.ledger.collisions}"
        f" setup {t1 - t0:.1f} load {t2 - t1:.1f} check {time.monotonic() - t2:.1f}"
    )

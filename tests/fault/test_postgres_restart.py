"""PostgreSQL restarted under load: the relay heals by itself, and nothing is lost or doubled.

The database restarted is a private cluster started for the test (see tests/fault/postgres.py),
never the shared server the rest of the suite uses.
"""

import threading
from pathlib import Path

import pytest
import requests

from tests.fault.audit import audit
from tests.fault.conftest import StartRelay
from tests.fault.load import Load, RetryLog, check_nothing_lost_nothing_doubled, enroll_fleet
from tests.fault.postgres import PrivateCluster
from tests.receiver import wait_for
from tests.serving import relay_env

pytestmark = [pytest.mark.fault, pytest.mark.e2e, pytest.mark.postgres_only]


def readyz(url: str) -> int:
    """The status /readyz answers (0 for no answer)."""
    try:
        return requests.get(f"{url}/readyz", timeout=5).status_code
    except requests.RequestException:
        return 0


@pytest.mark.timeout(60)
def test_a_restart_mid_load_heals_without_help_and_loses_nothing(
    private_postgres: PrivateCluster, relays: StartRelay, retries: RetryLog, tmp_path: Path
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    relay = relays(relay_env(private_postgres.url, instance), workers=2, migrate=True)
    keys = relay.create_tenant("fault-pg-restart")
    fleet = enroll_fleet(relay.url, keys)
    restarted = threading.Event()
    load = Load(fleet, least=60, most=1000, until=restarted.is_set)
    load.start()
    try:
        wait_for(lambda: len(load.ledger.completed) >= 15, timeout=20)
        # A routine restart: every connection is closed under the relay's feet.
        private_postgres.restart("fast")
        done = len(load.ledger.completed)
        wait_for(lambda: len(load.ledger.completed) >= done + 15, timeout=30)

        # A crash, and the database stays down until the relay has noticed.
        private_postgres.stop("immediate")
        wait_for(lambda: readyz(relay.url) == 503, timeout=15)
        wait_for(lambda: retries.count(503) > 0, timeout=15)
        private_postgres.start()
        # Nobody restarts the relay or resets its pool: it heals by itself.
        wait_for(lambda: readyz(relay.url) == 200, timeout=15)
        done = len(load.ledger.completed)
        wait_for(lambda: len(load.ledger.completed) >= done + 15, timeout=30)
        restarted.set()
        load.join(timeout=40)
    finally:
        restarted.set()
        fleet.close()

    check_nothing_lost_nothing_doubled(load.ledger, audit(private_postgres.url, keys["tenant"]))
    assert relay.running
    print(
        f"\n{len(load.ledger.acked)} documents, {len(load.ledger.completed)} completed, "
        f"retries {dict(retries.reasons)}, statuses {dict(load.ledger.statuses)}"
    )

"""Fixtures for the fault tests: relays to kill, the client's retry log, and shared fixtures.

``server_env`` (tests/e2e) picks the database as the rest of the suite does: a fresh SQLite
file, or the suite's PostgreSQL database when RELAY_TEST_DATABASE_URL is set. ``spawn``
(tests/worker) starts `relay worker` processes on the suite's database.
"""

import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from relay.client.tools.localserver import LocalRelay
from tests.e2e.conftest import server_env
from tests.fault.load import RetryLog
from tests.fault.postgres import PrivateCluster, private_cluster, server_binaries
from tests.worker.conftest import spawn

__all__ = ["server_env", "spawn"]

# Operators are created by the dozen: a fast password hash keeps the set-up quick.
FAST_HASH = {"RELAY_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}

StartRelay = Callable[..., LocalRelay]


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[StartRelay]:
    """Start `relay serve` on a given environment; all stopped afterwards."""
    started: list[LocalRelay] = []

    def start(env: Mapping[str, str], workers: int, *, migrate: bool = False) -> LocalRelay:
        relay = LocalRelay(
            env["RELAY_DATABASE_URL"],
            log_path=tmp_path / f"relay-{len(started)}.log",
            workers=workers,
            env={**env, **FAST_HASH},
        )
        started.append(relay)
        if migrate:
            relay.migrate()
        relay.start()
        return relay

    yield start
    for relay in started:
        relay.stop()


@pytest.fixture
def retries() -> Iterator[RetryLog]:
    """The client library's retries during the test, counted by cause."""
    handler = RetryLog()
    logger = logging.getLogger("relay.client")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of the test's own, to restart; always stopped and deleted."""
    bindir = server_binaries()
    if bindir is None:
        pytest.skip(
            "the PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql/*/bin or "
            "on PATH) are not installed, so there is no private cluster to restart"
        )
    with private_cluster(bindir) as cluster:
        yield cluster

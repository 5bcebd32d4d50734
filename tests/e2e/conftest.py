"""Real relays for the end-to-end tests, on 127.0.0.1.

``live_relay`` is one `relay serve` (gunicorn, 2 workers) for the whole session, driven through
relay.client; ``server`` is a gunicorn started for one test. On SQLite each serves a fresh file
migrated with `relay db upgrade`; with RELAY_TEST_DATABASE_URL they serve the suite's
PostgreSQL database (migrated by the session's ``app`` fixture, and emptied before every test
like the rest of the suite).
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from relay.client import AccountingClient, AdminClient, Enrollment, RetryPolicy, TerminalClient
from relay.client.tools.localserver import LocalRelay
from tests.conftest import ON_POSTGRES, PG_URL
from tests.e2e.proxy import CuttingProxy
from tests.serving import LiveServer, live_server, relay_env, run_relay

# Quick retries: the tests cut connections on purpose and should not wait for it.
FAST = RetryPolicy(attempts=4, backoff=0.05, max_backoff=0.2)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.timeout(120))


@pytest.fixture(scope="session")
def live_relay(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRelay]:
    """The relay, started once for the session and always stopped."""
    root = tmp_path_factory.mktemp("e2e")
    url = PG_URL if ON_POSTGRES else f"sqlite:///{root / 'relay.sqlite3'}"
    relay = LocalRelay(
        url,
        log_path=root / "relay.log",
        workers=2,
        # Tests create users by the dozen: a fast hash keeps them quick.
        env={
            "RELAY_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "RELAY_ACCESS_LOG": "-",
            # The online-mode tests' webhook receiver listens on 127.0.0.1.
            "RELAY_WEBHOOK_ALLOW_PRIVATE": "true",
        },
    )
    relay.migrate()
    with relay:
        yield relay
    assert not relay.running


@dataclass
class LiveTenant:
    relay: LocalRelay
    name: str
    admin_key: str
    accounting_key: str

    @property
    def url(self) -> str:
        return self.relay.url


@pytest.fixture
def live_tenant(live_relay: LocalRelay) -> LiveTenant:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    keys = live_relay.create_tenant(name)
    return LiveTenant(live_relay, name, keys["admin_key"], keys["accounting_key"])


@pytest.fixture
def admin(live_tenant: LiveTenant) -> Iterator[AdminClient]:
    with AdminClient(live_tenant.url, live_tenant.admin_key, retry=FAST) as client:
        yield client


@pytest.fixture
def accounting(live_tenant: LiveTenant) -> Iterator[AccountingClient]:
    with AccountingClient(live_tenant.url, live_tenant.accounting_key, retry=FAST) as client:
        yield client


@pytest.fixture
def proxy(live_relay: LocalRelay) -> Iterator[CuttingProxy]:
    with CuttingProxy(live_relay.port) as running:
        yield running


class Terminals:
    """Enrolls terminals against a URL (the relay, or the proxy) and closes them afterwards."""

    def __init__(self, admin: AdminClient) -> None:
        self.admin = admin
        self.opened: list[TerminalClient] = []

    def enroll(
        self, name: str = "Склад-1", *, url: str | None = None
    ) -> tuple[TerminalClient, Enrollment]:
        code = self.admin.create_enrollment_code()["code"]
        client, enrollment = TerminalClient.enroll(
            url or self.admin.base_url, code, name=name, model="EDA50", retry=FAST
        )
        self.opened.append(client)
        return client, enrollment

    def track(self, client: TerminalClient) -> TerminalClient:
        self.opened.append(client)
        return client

    def close(self) -> None:
        for client in self.opened:
            client.close()


@pytest.fixture
def terminals(admin: AdminClient) -> Iterator[Terminals]:
    made = Terminals(admin)
    yield made
    made.close()


@pytest.fixture
def server_env(app: Flask, database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment shared by the server and the CLI calls of one test."""
    url = database_url if ON_POSTGRES else f"sqlite:///{tmp_path / 'relay-e2e.sqlite3'}"
    instance = tmp_path / "instance"
    instance.mkdir()
    env = relay_env(url, instance, RELAY_ACCESS_LOG="-")
    run_relay(["db", "upgrade"], env)
    return env


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(server_env, tmp_path / "gunicorn.log", workers=2) as running:
        yield running

"""Shared fixtures: one migrated database per session, emptied before every test.

The suite runs on SQLite by default and on PostgreSQL when RELAY_TEST_DATABASE_URL names one
(`make test` runs both).
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask
from flask.testing import FlaskClient

from relay import create_app
from relay.extensions import db
from relay.models import Base
from tests.helpers import Client, TenantKeys, new_tenant
from tests.receiver import Receiver


def worker_database(url: str) -> str:
    """Give each pytest-xdist worker a PostgreSQL database of its own, made on first use.

    Every test empties the tables and a session starts by dropping the schema, so two workers on
    one database would wipe each other's rows: worker ``gw0`` of ``…/test`` uses ``…/test_gw0``.
    The variable is rewritten too, so subprocesses and helpers that read it agree.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url.startswith("postgresql") or not worker:
        return url
    base, _, name = url.rpartition("/")
    own = f"{name}_{worker}"
    if not name.endswith(f"_{worker}"):
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
            if c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (own,)).fetchone() is None:
                c.execute(f'CREATE DATABASE "{own}"')
        url = f"{base}/{own}"
    os.environ["RELAY_TEST_DATABASE_URL"] = url
    return url


PG_URL = worker_database(os.environ.get("RELAY_TEST_DATABASE_URL", ""))
ON_POSTGRES = PG_URL.startswith("postgresql")

TEST_CONFIG: dict[str, Any] = {
    "TESTING": True,
    # Tests create many users: a fast hash keeps the suite quick (production uses scrypt).
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "LAST_SEEN_RESOLUTION_SECONDS": 60,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set RELAY_TEST_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def reset_schema(url: str) -> None:
    """Drop everything in the test database so migrations start from nothing."""
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
            c.execute("DROP SCHEMA public CASCADE")
            c.execute("CREATE SCHEMA public")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if ON_POSTGRES:
        return PG_URL
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "relay-test.sqlite3")


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    reset_schema(database_url)
    application = create_app(
        {
            **TEST_CONFIG,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        }
    )
    with application.app_context():
        flask_migrate.upgrade()
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()


def empty_tables() -> None:
    # DELETE, children first: on the few rows a test leaves it is much faster than TRUNCATE.
    for table in reversed(Base.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(autouse=True)
def _clean(app: Flask) -> None:
    with app.app_context():
        empty_tables()
        db.session.remove()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    """An application context for tests that call the domain directly."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(client: FlaskClient) -> Client:
    return Client(client)


@pytest.fixture
def tenant(app: Flask) -> TenantKeys:
    return new_tenant(app, "acme")


@pytest.fixture
def other_tenant(app: Flask) -> TenantKeys:
    return new_tenant(app, "globex")


@pytest.fixture
def lan(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """Webhooks may reach 127.0.0.1 (a LAN deployment), with short time-outs and retries."""
    for name, value in WEBHOOK_TEST_CONFIG.items():
        monkeypatch.setitem(app.config, name, value)
    return app


WEBHOOK_TEST_CONFIG: dict[str, Any] = {
    "WEBHOOK_ALLOW_PRIVATE": True,
    "WEBHOOK_CONNECT_TIMEOUT": 1.0,
    "WEBHOOK_READ_TIMEOUT": 1.0,
    "WEBHOOK_RETRY_SCHEDULE": [0.1, 0.1],
    "WEBHOOK_LEASE_MARGIN_SECONDS": 1.0,
    "WORKER_POLL_SECONDS": 0.05,
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real webhook receiver on 127.0.0.1, stopped after the test."""
    with Receiver() as running:
        yield running


@pytest.fixture
def pg_only() -> None:
    if not ON_POSTGRES:
        pytest.skip("needs PostgreSQL")


def random_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


__all__ = ["Path"]

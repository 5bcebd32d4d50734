"""A real gunicorn serving the relay, on the suite's database.

On SQLite the server gets a fresh database file of its own (migrated with `relay db upgrade`);
on PostgreSQL it shares the suite's database, which the session fixture migrated and the
autouse `_clean` fixture has just emptied.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import ON_POSTGRES
from tests.serving import LiveServer, live_server, relay_env, run_relay


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

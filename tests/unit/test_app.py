"""The application factory: defaults, RELAY_* variables, overrides, SQLite connection settings."""

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from relay import create_app
from relay import db as database
from relay.app import load_config
from relay.extensions import db


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RELAY_* variable of the machine running the suite may leak into these apps."""
    for name in list(os.environ):
        if name.startswith("RELAY_"):
            monkeypatch.delenv(name)


@contextmanager
def built(tmp_path: Path, **overrides: Any) -> Iterator[Flask]:
    """A fresh app with its own instance folder; its engine is closed afterwards."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path), **overrides})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def pragma(name: str) -> Any:
    return db.session.execute(text(f"PRAGMA {name}")).scalar()


# -- configuration ---------------------------------------------------------------------------


def test_shipped_defaults(tmp_path: Path) -> None:
    with built(tmp_path) as app:
        config = app.config
        assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/relay.sqlite3"
        assert config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024
        assert config["PUSH_MAX_DOCUMENTS"] == 500
        assert config["DOCUMENT_MAX_LINES"] == 10_000
        assert config["WEBHOOK_ALLOW_PRIVATE"] is False
        assert config["SESSION_TTL_SECONDS"] == 14 * 3600
        assert config["ENROLLMENT_CODE_USES"] == 1
        assert config["ENROLLMENT_CODE_TTL_SECONDS"] == 24 * 3600
        assert config["RATELIMIT_ENROLL"] == "10 per 10 minutes"
        assert config["SECRET_KEY"]
        assert config["BIND"] == "127.0.0.1:8000"


def test_an_environment_variable_overrides_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("RELAY_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("RELAY_SECRET_KEY", "s3cr3t-from-env")
    monkeypatch.setenv("RELAY_WEBHOOK_RETRY_SCHEDULE", "[1, 2]")
    with built(tmp_path) as app:
        assert app.config["MAX_CONTENT_LENGTH"] == 2048
        assert app.config["WEBHOOK_ALLOW_PRIVATE"] is True
        assert app.config["SECRET_KEY"] == "s3cr3t-from-env"
        assert app.config["WEBHOOK_RETRY_SCHEDULE"] == [1, 2]


def test_relay_database_url_picks_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "elsewhere.sqlite3"
    monkeypatch.setenv("RELAY_DATABASE_URL", f"sqlite:///{path}")
    with built(tmp_path / "instance") as app, app.app_context():
        assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{path}"
        db.session.execute(text("CREATE TABLE probe (x INTEGER)"))
        db.session.commit()
    assert path.exists()
    assert not (tmp_path / "instance" / "relay.sqlite3").exists()


def test_the_overrides_argument_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("RELAY_PUSH_MAX_DOCUMENTS", "7")
    with built(tmp_path, MAX_CONTENT_LENGTH=4096) as app:
        assert app.config["MAX_CONTENT_LENGTH"] == 4096
        assert app.config["PUSH_MAX_DOCUMENTS"] == 7


def test_load_config_follows_the_same_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn's config file reads the settings without building an app."""
    assert load_config()["WORKERS"] == 0
    monkeypatch.setenv("RELAY_WORKERS", "3")
    monkeypatch.setenv("RELAY_BIND", "0.0.0.0:9000")
    config: Mapping[str, Any] = load_config({"WORKERS": 5})
    assert (config["WORKERS"], config["BIND"]) == (5, "0.0.0.0:9000")


def test_a_postgresql_url_switches_the_engine(tmp_path: Path) -> None:
    url = "postgresql+psycopg://relay@127.0.0.1:1/relay"  # never connected to
    with built(tmp_path, DATABASE_URL=url) as app, app.app_context():
        engine = db.engine
        assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
        assert engine.pool.size() == app.config["DATABASE_POOL_SIZE"]
    assert not (tmp_path / "relay.sqlite3").exists()


# -- SQLite connections ----------------------------------------------------------------------


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    with built(tmp_path) as app, app.app_context():
        assert pragma("journal_mode") == "wal"
        assert pragma("busy_timeout") == 15_000
        assert pragma("synchronous") == 2  # FULL
        assert pragma("foreign_keys") == 1


def test_every_new_sqlite_connection_gets_the_settings(tmp_path: Path) -> None:
    with built(tmp_path, SQLITE_BUSY_TIMEOUT=2.5) as app, app.app_context():
        for _ in range(2):
            with db.engine.connect() as connection:
                raw = connection.connection.dbapi_connection
                assert raw is not None
                assert raw.execute("PRAGMA busy_timeout").fetchone() == (2500,)
                assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            db.engine.dispose()  # the next round opens a brand-new connection


def test_sqlite_write_transactions_take_the_write_lock_at_once(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE: a transaction that reads first cannot fail later on 'database is locked'."""
    with built(tmp_path) as app, app.app_context():
        database.set_write_intent(True)
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            other = sqlite3.connect(tmp_path / "relay.sqlite3", timeout=0)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()


def test_sqlite_reads_do_not_block_writers(tmp_path: Path) -> None:
    with (
        built(tmp_path) as app,
        app.app_context(),
        database.reads_only(),
        db.engine.connect() as connection,
    ):
        connection.execute(text("SELECT 1"))
        other = sqlite3.connect(tmp_path / "relay.sqlite3", timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()

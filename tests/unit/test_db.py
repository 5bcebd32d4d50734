"""Engine settings: the PostgreSQL engine, SQLite pragmas and transaction modes (relay/db.py)."""

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from relay import db as database
from relay.extensions import db
from tests.helpers import built

pytestmark = pytest.mark.usefixtures("clean_environment")


def pragma(name: str) -> Any:
    return db.session.execute(text(f"PRAGMA {name}")).scalar()


def test_a_postgresql_url_switches_the_engine(tmp_path: Path) -> None:
    url = "postgresql+psycopg://relay@127.0.0.1:1/relay"  # never connected to
    with built(tmp_path, DATABASE_URL=url) as app, app.app_context():
        engine = db.engine
        assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
        assert engine.pool.size() == app.config["DATABASE_POOL_SIZE"]
    assert not (tmp_path / "relay.sqlite3").exists()


def test_postgresql_connections_plan_each_statement_for_its_parameters(
    app: Flask, pg_only: None
) -> None:
    """No generic plan made while a table was small outlives the table's growth."""
    with app.app_context():
        assert db.session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
        assert db.session.execute(text("SHOW lock_timeout")).scalar() != "0"
        db.session.rollback()


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

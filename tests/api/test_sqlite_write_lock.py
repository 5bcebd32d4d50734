"""SQLite: a terminal's read is not held up by another process holding the write lock.

A call whose device's last-seen time is stale writes that time in a transaction of its own.
While another connection holds SQLite's one write lock (a long catalog commit does, for
minutes), that write is skipped instead of waiting the busy timeout and failing the read.
"""

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import update

from relay.db import transaction
from relay.extensions import db
from relay.models import Device
from tests.helpers import Client, TenantKeys, Terminal


@contextmanager
def write_lock_held(app: Flask) -> Iterator[None]:
    """Hold the database's write lock from another connection, as another process would."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def last_seen(app: Flask, terminal: Terminal) -> object:
    with app.app_context():
        device = db.session.scalars(db.select(Device).where(Device.pin == terminal.pin)).one()
        seen = device.last_seen_at
        db.session.rollback()
        return seen


def forget_last_seen(app: Flask, terminal: Terminal) -> None:
    with app.app_context(), transaction():
        db.session.execute(
            update(Device).where(Device.pin == terminal.pin).values(last_seen_at=None)
        )


@pytest.fixture
def sqlite_only(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL has no database-wide write lock")


@pytest.mark.usefixtures("sqlite_only")
def test_a_read_goes_on_while_another_process_holds_the_write_lock(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    forget_last_seen(app, terminal)
    with write_lock_held(app):
        started = time.monotonic()
        answer = api.get("/api/v1/terminal/documents", terminal.token)
        took = time.monotonic() - started
    assert answer.status_code == 200, answer.json
    assert took < 5, f"the read waited {took:.1f} s for the write lock"
    assert last_seen(app, terminal) is None  # skipped, not half-written
    assert api.get("/api/v1/terminal/documents", terminal.token).status_code == 200
    assert last_seen(app, terminal) is not None  # the next call, with the lock free, records it

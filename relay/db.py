"""Engine settings per database, and the one commit-or-rollback helper.

SQLite runs in WAL mode with a busy timeout, so several gunicorn workers share the file. Write
transactions start with ``BEGIN IMMEDIATE``: a transaction that read first and wrote later could
otherwise fail at once with "database is locked" when another worker wrote in between (the busy
timeout does not cover that case). Reads (GET requests) start a plain deferred transaction and
never wait for writers. The bearer token of a write request is read in a deferred transaction
of its own too (``relay.api.base.authenticated``), so SQLite's one write lock is held only while
the view does its work, not while the body is parsed and validated.
"""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from flask_sqlalchemy.session import Session
from sqlalchemy import event, text
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import scoped_session
from sqlalchemy.sql.expression import Executable

from relay import jsonutil
from relay.extensions import db

if TYPE_CHECKING:
    from flask import Flask

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_sqlite_write_intent: ContextVar[bool] = ContextVar("sqlite_write_intent", default=True)


def configure(app: "Flask") -> None:
    """Derive SQLAlchemy's settings from RELAY_DATABASE_URL and friends."""
    url = app.config["DATABASE_URL"]
    if not url:
        os.makedirs(app.instance_path, exist_ok=True)
        url = "sqlite:///" + os.path.join(app.instance_path, "relay.sqlite3")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options: dict[str, Any] = {
        "json_serializer": jsonutil.dumps,
        "json_deserializer": jsonutil.loads,
    }
    if url.startswith("sqlite"):
        options["connect_args"] = {"timeout": app.config["SQLITE_BUSY_TIMEOUT"]}
    else:
        options["pool_size"] = app.config["DATABASE_POOL_SIZE"]
        options["max_overflow"] = app.config["DATABASE_POOL_SIZE"]
        # A connection broken by a database restart is replaced, not handed to a request.
        options["pool_pre_ping"] = True
        # plan_cache_mode: every statement is planned for its own parameters. A generic plan,
        # kept for the life of a connection, was chosen while the tables were small, and where
        # no ANALYZE refreshes the statistics (autovacuum off, or not yet run) it stays: the
        # foreign-key checks of each insert then walked all of a tenant's documents through
        # an index on (tenant_id, number), and pushes slowed run after run as the table grew
        # (bench/RESULTS.md, "The PostgreSQL slowdown"). Planning these statements costs less.
        options["connect_args"] = {
            "options": (
                f"-c lock_timeout={int(app.config['POSTGRES_LOCK_TIMEOUT_MS'])}"
                " -c plan_cache_mode=force_custom_plan"
            ),
            "application_name": "relay",
        }
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def install_hooks(app: "Flask") -> None:
    """Attach the SQLite connection pragmas and transaction mode to the app's engine."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _install_sqlite_hooks(engine, app.config["SQLITE_BUSY_TIMEOUT"])


def _install_sqlite_hooks(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (pysqlite's own BEGIN is always deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a completion acknowledged to a terminal survives a power cut of the LAN box.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if _sqlite_write_intent.get():
            if _sqlite_no_wait.get():
                _begin_without_waiting(connection, busy_timeout)
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            # The write lock is held from here to the end of the COMMIT (its fsync included).
            _lock_taken[id(connection.connection.dbapi_connection)] = time.perf_counter()
        else:
            connection.exec_driver_sql("BEGIN")

    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            _lock_released(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            _lock_released(dbapi_connection)

    # The dialect instance is this engine's own: its commit and rollback now time the lock.
    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


# SQLite's write lock: when each connection took it (by the DBAPI connection's id), and who
# wants to know how long it was held (the metrics, the benchmarks).
_lock_taken: dict[int, float] = {}
WRITE_LOCK_OBSERVERS: list[Callable[[float], None]] = []


def _lock_released(connection: Any) -> None:
    # SQLAlchemy hands the dialect its pool's proxy of the DBAPI connection.
    taken = _lock_taken.pop(id(getattr(connection, "dbapi_connection", connection)), None)
    if taken is not None:
        held = time.perf_counter() - taken
        for observe in WRITE_LOCK_OBSERVERS:
            observe(held)


def _begin_without_waiting(connection: Any, busy_timeout: float) -> None:
    # The busy timeout matters only here, where the lock is taken: zero for this BEGIN.
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA busy_timeout=0")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")


_sqlite_no_wait: ContextVar[bool] = ContextVar("sqlite_no_wait", default=False)


@contextmanager
def without_waiting() -> Iterator[None]:
    """Within this block, a SQLite write transaction that cannot take the write lock at once
    fails at once ("database is locked") instead of waiting the busy timeout: for writes that
    may be skipped, such as a device's last-seen time."""
    token = _sqlite_no_wait.set(True)
    try:
        yield
    finally:
        _sqlite_no_wait.reset(token)


def locked_out(error: OperationalError) -> bool:
    """Whether ``error`` is SQLite's "database is locked" (another transaction writes)."""
    return "database is locked" in str(error.orig)


@contextmanager
def reads_only() -> Iterator[None]:
    """Within this block, SQLite transactions start deferred (readers never wait for writers)."""
    token = _sqlite_write_intent.set(False)
    try:
        yield
    finally:
        _sqlite_write_intent.reset(token)


def set_write_intent(writes: bool) -> None:
    """Declare whether the current request may write (set once per request, before any query)."""
    _sqlite_write_intent.set(writes)


def core(statement: Executable, params: Any = None) -> CursorResult[*tuple[Any, ...]]:
    """Run a Core statement on the session's connection, in the session's transaction.

    For the hot paths' statements, built once at import with bind parameters: a statement
    object built once keeps its cache key, and going past the ORM session skips its
    per-statement work (about 0.1 ms here against 0.4-0.6 ms for a statement built per call
    and run through the session). The ORM does not see these rows: use it only for rows the
    session has not loaded, or has no pending changes to, and nothing is autoflushed first.
    """
    return db.session.connection().execute(statement, params)


@contextmanager
def transaction() -> Iterator[scoped_session[Session]]:
    """Run a unit of work: commit when the block ends, roll back when it raises."""
    session = db.session
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def reachable() -> bool:
    """Whether the database answers a ``SELECT 1`` (a failed attempt is rolled back)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return False
    return True

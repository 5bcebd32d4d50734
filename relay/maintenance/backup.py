"""Backup and restore: a consistent copy taken while the relay serves, and bringing it back.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies every page in one step
under one read transaction, so the copy is the database at one instant; in WAL mode writers
carry on meanwhile. PostgreSQL: ``pg_dump --format=custom`` (itself a consistent snapshot)
and ``pg_restore``, from the PostgreSQL client tools.

A restore refuses to overwrite a live database: one that holds tenants, or that a relay has
open (an SQLite file with its ``-wal`` file present; a PostgreSQL database with connections
named ``relay``), unless forced.
"""

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_SECONDS = 30


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


def backup(database_url: str, target: Path) -> str:
    """Copy the database to ``target`` (which must not exist); describe what was written."""
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file name.")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a folder.")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_backup(_sqlite_path(url), target)
    return _pg_dump(url, target)


def restore(database_url: str, source: Path, *, force: bool = False) -> str:
    """Replace the database's content with the backup ``source``; describe what was done."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file.")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        target = _sqlite_path(url)
        try:
            return _sqlite_restore(source, target, force=force)
        except sqlite3.Error as err:
            raise BackupError(f"Cannot restore into {target}: {err}.") from err
    return _pg_restore(url, source, force=force)


def _sqlite_path(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupError("The database is in memory: there is nothing to back up or restore.")
    return url.database


def _sqlite_connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    return connection


def _sqlite_backup(source: str, target: Path) -> str:
    if not os.path.isfile(source):
        raise BackupError(f"There is no database at {source}.")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with closing(_sqlite_connect(source)) as src, closing(_sqlite_connect(str(partial))) as dst:
            src.backup(dst)  # every page in one step: one read transaction, one instant
            # One self-contained file, whatever mode the live database runs in.
            dst.execute("PRAGMA journal_mode=DELETE")
            _check_sqlite(dst, str(target))
        os.replace(partial, target)
    except sqlite3.Error as err:
        raise BackupError(f"Cannot back up {source}: {err}.") from err
    finally:
        partial.unlink(missing_ok=True)
    return f"SQLite database {source} copied to {target}"


def _check_sqlite(connection: sqlite3.Connection, name: str) -> str:
    """Return the copy's migration revision; raise unless it is a sound relay database."""
    try:
        (verdict,) = connection.execute("PRAGMA integrity_check").fetchone()
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{name} is not a relay database: {err}.") from err
    if verdict != "ok":
        raise BackupError(f"{name} fails SQLite's integrity check: {verdict}.")
    if row is None:
        raise BackupError(f"{name} is not a relay database: it has no migration revision.")
    return str(row[0])


def _sqlite_restore(source: Path, target: str, *, force: bool) -> str:
    with closing(_sqlite_connect(str(source))) as src:
        revision = _check_sqlite(src, str(source))
        if not force:
            _refuse_live_sqlite(target)
        with closing(_sqlite_connect(target)) as dst:
            # The backup API writes through SQLite's own locking: a relay holding the file
            # sees the restored content on its next transaction.
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
    return f"{target} restored from {source} (migration revision {revision})"


def _refuse_live_sqlite(target: str) -> None:
    if os.path.exists(target + "-wal"):
        raise BackupError(
            f"{target} is open (its -wal file is there): stop the relay and its worker first, "
            "or pass --force to overwrite it anyway."
        )
    if not os.path.exists(target) or os.path.getsize(target) == 0:
        return
    with closing(_sqlite_connect(target)) as connection:
        try:
            (tenants,) = connection.execute("SELECT count(*) FROM tenants").fetchone()
        except sqlite3.DatabaseError:
            return
    if tenants:
        raise BackupError(
            f"{target} holds {tenants} tenant(s): pass --force to overwrite it with the backup."
        )


def _client_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client tools (Debian: apt install "
            f"postgresql-client, the same major version as the server), or run {name} yourself "
            "as described in the README's section on backups."
        )
    return path


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and an environment carrying it."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if finished.returncode != 0:
        last = (finished.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupError(f"{Path(command[0]).name} failed: {last}")


def _pg_dump(url: URL, target: Path) -> str:
    dsn, env = _libpq(url)
    partial = target.with_name(target.name + ".partial")
    try:
        _run(
            [_client_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", dsn],
            env,
        )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return f"PostgreSQL database {url.database} dumped to {target} (pg_dump custom format)"


def _pg_restore(url: URL, source: Path, *, force: bool) -> str:
    dsn, env = _libpq(url)
    tool = _client_tool("pg_restore")
    _run([tool, "--list", str(source)], env)  # a file pg_restore cannot read changes nothing
    if not force:
        _refuse_live_pg(url)
    _run(
        [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={dsn}",
            str(source),
        ],
        env,
    )
    return f"PostgreSQL database {url.database} restored from {source}"


def _refuse_live_pg(url: URL) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        connection = engine.connect()
    except DBAPIError as err:
        reason = (str(err.orig).strip().splitlines() or ["no answer"])[0]
        raise BackupError(f"Cannot connect to database {url.database}: {reason}") from err
    try:
        with connection:
            others = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'relay' AND pid <> pg_backend_pid()"
                )
            )
            has_tenants = connection.scalar(text("SELECT to_regclass('tenants') IS NOT NULL"))
            tenants = connection.scalar(text("SELECT count(*) FROM tenants")) if has_tenants else 0
    finally:
        engine.dispose()
    if others:
        raise BackupError(
            f"{others} relay connection(s) are open on database {url.database}: stop the relay "
            "and its workers first, or pass --force to overwrite it anyway."
        )
    if tenants:
        raise BackupError(
            f"Database {url.database} holds {tenants} tenant(s): pass --force to overwrite it "
            "with the backup."
        )

"""relay backup and relay restore on SQLite files and, with RELAY_TEST_DATABASE_URL, PostgreSQL."""

import shutil
import sqlite3
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from relay.cli import cli
from relay.maintenance import backup
from tests.conftest import ON_POSTGRES, PG_URL
from tests.serving import relay_env, run_relay


def sqlite_relay(path: Path, *tenants: str) -> dict[str, str]:
    """A migrated SQLite relay with these tenants; the environment of its `relay` commands."""
    env = relay_env(f"sqlite:///{path}", path.parent)
    run_relay(["db", "upgrade"], env)
    for name in tenants:
        run_relay(["tenant", "create", name], env)
    return env


def tenant_names(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT name FROM tenants ORDER BY name")]


def test_sqlite_backup_and_restore(tmp_path: Path) -> None:
    live = tmp_path / "live.sqlite3"
    sqlite_relay(live, "acme", "globex")
    copy = tmp_path / "copy.sqlite3"
    said = backup.backup(f"sqlite:///{live}", copy)
    assert str(copy) in said
    # One self-contained file: no -wal beside it.
    assert not Path(f"{copy}-wal").exists()
    assert tenant_names(copy) == ["acme", "globex"]
    with pytest.raises(backup.BackupError, match="exists already"):
        backup.backup(f"sqlite:///{live}", copy)

    fresh = tmp_path / "fresh.sqlite3"
    said = backup.restore(f"sqlite:///{fresh}", copy)
    assert "migration revision" in said
    assert tenant_names(fresh) == ["acme", "globex"]


def test_restore_refuses_a_database_with_data_unless_forced(tmp_path: Path) -> None:
    first = tmp_path / "first.sqlite3"
    sqlite_relay(first, "acme")
    saved = tmp_path / "saved.sqlite3"
    backup.backup(f"sqlite:///{first}", saved)
    other = tmp_path / "other.sqlite3"
    sqlite_relay(other, "globex")
    with pytest.raises(backup.BackupError, match=r"holds 1 tenant.*--force"):
        backup.restore(f"sqlite:///{other}", saved)
    assert tenant_names(other) == ["globex"]
    backup.restore(f"sqlite:///{other}", saved, force=True)
    assert tenant_names(other) == ["acme"]


def test_restore_refuses_an_open_database(tmp_path: Path) -> None:
    target = tmp_path / "open.sqlite3"
    sqlite_relay(target)
    saved = tmp_path / "saved.sqlite3"
    backup.backup(f"sqlite:///{target}", saved)
    holder = sqlite3.connect(target)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
        with pytest.raises(backup.BackupError, match="is open"):
            backup.restore(f"sqlite:///{target}", saved)
    finally:
        holder.close()


def test_a_file_that_is_not_a_relay_database_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "relay.sqlite3"
    sqlite_relay(target, "acme")
    before = target.read_bytes()
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("not a database")
    with pytest.raises(backup.BackupError, match="not a relay database"):
        backup.restore(f"sqlite:///{target}", junk, force=True)
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    with pytest.raises(backup.BackupError, match="not a relay database"):
        backup.restore(f"sqlite:///{target}", empty, force=True)
    with pytest.raises(backup.BackupError, match="is not a file"):
        backup.restore(f"sqlite:///{target}", tmp_path / "missing", force=True)
    assert target.read_bytes() == before
    saved = tmp_path / "saved.sqlite3"
    backup.backup(f"sqlite:///{target}", saved)
    with pytest.raises(backup.BackupError, match="Cannot restore into"):
        backup.restore(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite3'}", saved)
    with pytest.raises(backup.BackupError, match="is not a folder"):
        backup.backup(f"sqlite:///{target}", tmp_path / "no" / "copy.sqlite3")


def test_the_commands_report_errors_in_one_line(app: Flask, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    missing = runner.invoke(cli, ["restore", str(tmp_path / "missing.sqlite3")])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: ")
    assert missing.stderr.count("\n") == 1
    made = runner.invoke(cli, ["backup", str(tmp_path / "b.dump")])
    assert made.exit_code == 0, made.output
    again = runner.invoke(cli, ["backup", str(tmp_path / "b.dump")])
    assert again.exit_code == 1
    assert "exists already" in again.stderr


@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (set RELAY_TEST_DATABASE_URL)")
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_postgres_backup_and_restore_with_pg_dump(tmp_path: Path) -> None:
    url = make_url(PG_URL)
    source = url.set(database=f"{url.database}_bk_src")
    target = url.set(database=f"{url.database}_bk_dst")
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as connection:
        for database in (source.database, target.database):
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{database}"')
    try:
        source_url = source.render_as_string(False)
        target_url = target.render_as_string(False)
        env = relay_env(source_url, tmp_path)
        run_relay(["db", "upgrade"], env)
        run_relay(["tenant", "create", "acme"], env)
        dump = tmp_path / "relay.dump"
        assert "pg_dump" in backup.backup(source_url, dump)
        assert dump.read_bytes().startswith(b"PGDMP")
        backup.restore(target_url, dump)
        with pytest.raises(backup.BackupError, match=r"holds 1 tenant"):
            backup.restore(target_url, dump)
        backup.restore(target_url, dump, force=True)
        junk = tmp_path / "junk.dump"
        junk.write_text("nope")
        with pytest.raises(backup.BackupError, match="pg_restore failed"):
            backup.restore(target_url, junk, force=True)
        plain = target.set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(plain) as connection:
            names = [r[0] for r in connection.execute("SELECT name FROM tenants")]
        assert names == ["acme"]
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            for database in (source.database, target.database):
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

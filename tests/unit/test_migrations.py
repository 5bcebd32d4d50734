"""The migrations build exactly the models' schema, go down and up again, and keep SPEC §3's keys.

SPEC §3: every row belongs to a tenant, and `tenant_id` is in every table and in every unique
key (the README promises more: it *leads* every primary and unique key), so the schema can be
distributed by tenant.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import Column, Engine, Integer, MetaData, create_engine, inspect
from sqlalchemy.engine import Connection, make_url

from relay.extensions import db
from relay.models import Base
from tests.conftest import ON_POSTGRES
from tests.serving import relay_env, run_relay

# Creating and dropping a PostgreSQL database waits for checkpoints: slow on a busy machine.
pytestmark = pytest.mark.timeout(120)

NOT_TENANT_TABLES = {"tenants", "alembic_version"}


def schema_diff(connection: Connection, metadata: MetaData = Base.metadata) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def test_migrated_database_matches_the_models(app_ctx: Flask) -> None:
    with db.engine.connect() as connection:
        assert schema_diff(connection) == []


def test_the_comparison_would_see_a_drift(app_ctx: Flask) -> None:
    """Guard the guard: a column the migrations lack is reported."""
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["devices"].append_column(Column("battery_level", Integer))
    with db.engine.connect() as connection:
        diff = schema_diff(connection, drifted)
    assert [(d[0], d[3].name) for d in diff] == [("add_column", "battery_level")]


@pytest.fixture
def scratch_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own: `<db>_scratch` on PostgreSQL, a file on SQLite."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    url = make_url(database_url)
    name = f"{url.database}_scratch"
    admin_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )

    def drop() -> None:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        drop()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_downgrade_to_base_and_upgrade_again(scratch_url: str, tmp_path: Path) -> None:
    env = relay_env(scratch_url, tmp_path / "instance")
    app_tables = {t.name for t in Base.metadata.sorted_tables}
    engine = create_engine(scratch_url)
    try:
        run_relay(["db", "upgrade"], env)
        assert _tables(engine) == app_tables | {"alembic_version"}
        run_relay(["db", "downgrade", "base"], env)
        engine.dispose()
        assert _tables(engine) <= {"alembic_version"}
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_heads() == ()
        run_relay(["db", "upgrade"], env)
        engine.dispose()
        with engine.connect() as connection:
            assert schema_diff(connection) == []
    finally:
        engine.dispose()


def _reflected(app_ctx: Flask) -> dict[str, dict[str, Any]]:
    inspector = inspect(db.engine)
    out = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        columns = [c["name"] for c in inspector.get_columns(table)]
        primary = inspector.get_pk_constraint(table)["constrained_columns"]
        uniques = {
            u["name"] or f"unnamed unique {u['column_names']}": u["column_names"]
            for u in inspector.get_unique_constraints(table)
        }
        uniques.update(
            {
                f"index {i['name']}": i["column_names"]
                for i in inspector.get_indexes(table)
                if i["unique"]
            }
        )
        foreign = {
            f"fk {f['name']}": (f["constrained_columns"], f["referred_table"])
            for f in inspector.get_foreign_keys(table)
        }
        out[table] = {"columns": columns, "pk": primary, "uniques": uniques, "fks": foreign}
    return out


def test_every_table_has_tenant_id(app_ctx: Flask) -> None:
    schema = _reflected(app_ctx)
    assert set(schema) == {t.name for t in Base.metadata.sorted_tables}
    missing = [
        t
        for t, s in schema.items()
        if t not in NOT_TENANT_TABLES and "tenant_id" not in s["columns"]
    ]
    assert missing == []


def test_tenant_id_leads_every_primary_and_unique_key(app_ctx: Flask) -> None:
    schema = _reflected(app_ctx)
    keys = {
        f"{table} {name}": columns
        for table, s in schema.items()
        if table not in NOT_TENANT_TABLES
        for name, columns in {"primary key": s["pk"], **s["uniques"]}.items()
    }
    assert len(keys) >= len(schema) - 1  # every table has at least its primary key
    assert {k: c for k, c in keys.items() if "tenant_id" not in c} == {}  # SPEC §3
    assert {k: c for k, c in keys.items() if c[0] != "tenant_id"} == {}  # README: it leads


def test_every_foreign_key_stays_within_one_tenant(app_ctx: Flask) -> None:
    """A reference between tenant tables names the tenant too, so rows never cross tenants."""
    schema = _reflected(app_ctx)
    crossing = {
        f"{table} {name}": columns
        for table, s in schema.items()
        for name, (columns, _referred) in s["fks"].items()
        if "tenant_id" not in columns
    }
    assert crossing == {}


def test_0007_seals_the_webhook_secrets_stored_in_clear(scratch_url: str, tmp_path: Path) -> None:
    from relay.online.sealing import Keys

    env = relay_env(scratch_url, tmp_path / "instance", RELAY_SECRET_KEY="migration-test-key")
    engine = create_engine(scratch_url)
    clear, previous = "whsec_" + "A" * 44, "whsec_" + "B" * 44
    try:
        run_relay(["db", "upgrade", "0003"], env)
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO tenants (id, name, created_at, all_inbox_seq) "
                "VALUES (1, 't', '2026-12-01 00:00:00', 0)"
            )
            connection.exec_driver_sql(
                "INSERT INTO webhook_endpoints (tenant_id, url, enabled, secret, previous_secret, "
                "created_at, updated_at) VALUES (1, 'https://erp.example/', true, "
                f"'{clear}', '{previous}', '2026-12-01 00:00:00', '2026-12-01 00:00:00')"
            )
        run_relay(["db", "upgrade"], env)
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT secret, previous_secret FROM webhook_endpoints"
            ).one()
        assert not row[0].startswith("whsec_")
        keys = Keys.of("migration-test-key")
        assert (keys.open(row[0]), keys.open(row[1])) == (clear, previous)
        run_relay(["db", "downgrade", "0006"], env)
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT secret, previous_secret FROM webhook_endpoints"
            ).one()
        assert tuple(row) == (clear, previous)
    finally:
        engine.dispose()

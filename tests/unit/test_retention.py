"""Retention: processed documents go with everything hanging off them; nothing else does."""

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select, update

from relay.cli import cli
from relay.extensions import db
from relay.maintenance import retention
from relay.models import (
    Document,
    Event,
    Instance,
    InstanceAddressee,
    OutboxEntry,
    Result,
    Submission,
)
from relay.timeutil import utcnow
from relay.worker import Worker
from tests.helpers import Client, TenantKeys, doc


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        tables: dict[str, Any] = {
            "documents": Document,
            "instances": Instance,
            "instance_addressees": InstanceAddressee,
            "events": Event,
            "results": Result,
            "submissions": Submission,
            "outbox": OutboxEntry,
        }
        out = {
            name: db.session.scalar(select(func.count()).select_from(m))
            for name, m in tables.items()
        }
        db.session.remove()
        return out


def scenario(api: Client, tenant: TenantKeys) -> dict[str, str]:
    """Two acknowledged results, one not acknowledged, one document still queued."""
    terminal = api.enroll(tenant)
    acked = [api.result(tenant, terminal, n) for n in (1, 2)]
    pending = api.result(tenant, terminal, 3)
    ack = api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": acked})
    assert ack.status_code == 200, ack.json
    api.push(
        tenant, "purchase-receipt", [doc("ЗаказПоставщику-0000-000004")], {"pin": terminal.pin}
    )
    return {"acked_1": acked[0], "acked_2": acked[1], "pending": pending}


def age_everything(app: Flask, days: int) -> None:
    """Move every timestamp the purge looks at ``days`` into the past."""
    past = utcnow() - timedelta(days=days)
    with app.app_context():
        db.session.execute(update(Document).values(updated_at=past))
        db.session.execute(update(Instance).values(updated_at=past))
        db.session.execute(
            update(Result).where(Result.processed_at.is_not(None)).values(processed_at=past)
        )
        db.session.commit()
        db.session.remove()


def test_purge_removes_processed_documents_and_what_hangs_off_them(
    app: Flask, api: Client, tenant: TenantKeys
) -> None:
    ids = scenario(api, tenant)
    before = counts(app)
    assert before["documents"] == 4
    with app.app_context():
        # Nothing was processed before yesterday: nothing goes.
        assert retention.purge(utcnow() - timedelta(days=1))["documents"] == 0
        # One document per batch: three transactions, the same outcome.
        removed = retention.purge(utcnow() + timedelta(seconds=1), batch_size=1)
        db.session.remove()
    after = counts(app)
    assert removed["documents"] == 2
    assert removed["instances"] == 2
    assert removed["results"] == 2
    assert removed["submissions"] == 2
    assert removed["events"] > 0
    for table in ("documents", "instances", "results", "submissions", "events"):
        assert after[table] == before[table] - removed[table], table
    assert (
        after["instance_addressees"]
        == before["instance_addressees"] - removed["instance_addressees"]
    )
    # The unacknowledged result and the queued document stay, and still work.
    feed = api.get("/api/v1/results", tenant.accounting_key).json["results"]
    assert [r["id"] for r in feed] == [ids["pending"]]
    gone = api.get(f"/api/v1/results/{ids['acked_1']}", tenant.accounting_key)
    assert gone.status_code == 404
    listed = api.get("/api/v1/documents", tenant.accounting_key).json["documents"]
    assert len(listed) == 2


def test_purge_removes_outbox_rows_of_online_results(
    app: Flask, lan: Flask, api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant, mode="online")
    api.set_webhook(tenant, "http://127.0.0.1:9/hook")
    result_id = api.result(tenant, terminal)
    assert (
        api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [result_id]}).status_code
        == 200
    )
    assert counts(app)["outbox"] == 1
    with app.app_context():
        removed = retention.purge(utcnow() + timedelta(seconds=1))
        db.session.remove()
    assert removed["outbox"] == 1
    assert counts(app)["outbox"] == 0


def test_relay_purge_reports_what_it_removed(app: Flask, api: Client, tenant: TenantKeys) -> None:
    scenario(api, tenant)
    age_everything(app, days=100)
    runner = app.test_cli_runner()
    kept = runner.invoke(cli, ["purge", "--processed-older-than", "101d"])
    assert kept.exit_code == 0, kept.output
    assert "documents:           0" in kept.output
    done = runner.invoke(cli, ["purge", "--processed-older-than", "90d"])
    assert done.exit_code == 0, done.output
    lines = dict(line.split(":") for line in done.output.splitlines())
    assert int(lines["documents"]) == 2
    assert int(lines["results"]) == 2
    assert set(lines) == set(retention.TABLES)
    bad = runner.invoke(cli, ["purge", "--processed-older-than", "ninety days"])
    assert bad.exit_code == 2
    assert counts(app)["documents"] == 2


def test_the_worker_purges_when_retention_is_set(
    app: Flask, api: Client, tenant: TenantKeys, monkeypatch: Any
) -> None:
    scenario(api, tenant)
    age_everything(app, days=40)
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 60)
    with app.app_context():
        Worker(app, "w").run(once=True)
    assert counts(app)["documents"] == 4
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 30)
    with app.app_context():
        worker = Worker(app, "w")
        worker.run(once=True)
        assert worker.metrics.purged._value.get() == 2
        # Once a day: the next pass does not purge again.
        assert worker.next_purge > 0
    assert counts(app)["documents"] == 2

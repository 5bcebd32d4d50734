"""`make bench-ops`: what the gauges, a backup and a purge cost at 10³..10⁵ documents.

For each database and size: a fresh database (``relay db upgrade``, one tenant, the bulk
loader's directory and N queued documents, as ``make bench-scale`` builds them), then

- the domain gauges behind ``/metrics``: ``gauges.snapshot()`` run in-process, uncached;
- a backup as ``relay backup`` takes it (SQLite's online backup, or ``pg_dump``), in-process;
- retention: every document marked processed 100 days ago, then ``retention.purge`` with its
  default batches: documents removed per second, and the longest write transaction (on
  SQLite, how long terminals' writes could wait for the lock).
"""

import argparse
import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text, update
from werkzeug.security import generate_password_hash

from bench import bulk
from bench.scale import OUT, fresh_database, log, parse_sizes, size_label, tenant_id_of
from relay import settings
from relay.client.tools.localserver import LocalRelay

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/relay_ops_bench"


def gauge_seconds(url: str, repeats: int) -> list[float]:
    """Time ``repeats`` gauge snapshots (after one untimed)."""
    from relay.app import create_app
    from relay.db import reads_only, transaction
    from relay.extensions import db
    from relay.maintenance import gauges
    from relay.timeutil import utcnow

    app = create_app({"DATABASE_URL": url})
    samples = []
    with app.app_context():
        for index in range(repeats + 1):
            started = time.perf_counter()
            with reads_only(), transaction():
                gauges.snapshot(utcnow())
            if index:
                samples.append(time.perf_counter() - started)
        db.session.remove()
        db.engine.dispose()
    return samples


def backup_seconds(url: str, n: int) -> tuple[float, int]:
    """Time one backup (what `relay backup` runs, without the command's start-up)."""
    from relay.maintenance import backup

    target = OUT / f"ops-backup-{n}.bin"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    backup.backup(url, target)
    seconds = time.perf_counter() - started
    size = target.stat().st_size
    target.unlink()
    return seconds, size


def purge_figures(url: str) -> dict[str, Any]:
    """Mark everything processed long ago, purge it; rate and the longest write transaction."""
    from relay.app import create_app
    from relay.extensions import db
    from relay.maintenance import retention
    from relay.models import Document, Instance
    from relay.timeutil import utcnow

    app = create_app({"DATABASE_URL": url})
    with app.app_context():
        past = utcnow() - timedelta(days=100)
        db.session.execute(update(Instance).values(state="processed", updated_at=past))
        db.session.execute(update(Document).values(updated_at=past))
        db.session.commit()
        durations: list[float] = []
        opened: list[float] = []
        wrote: list[bool] = [False]

        @event.listens_for(db.engine, "begin")
        def _begin(_conn: Any) -> None:
            opened.append(time.perf_counter())
            wrote[0] = False

        @event.listens_for(db.engine, "before_cursor_execute")
        def _statement(*args: Any) -> None:
            if args[2].lstrip().upper().startswith("DELETE"):
                wrote[0] = True

        @event.listens_for(db.engine, "commit")
        def _commit(_conn: Any) -> None:
            # Only the transactions that deleted: the search for candidates reads without
            # holding SQLite's write lock (and PostgreSQL readers lock nothing).
            if opened and wrote[0]:
                durations.append(time.perf_counter() - opened[-1])
            if opened:
                opened.pop()

        started = time.perf_counter()
        counts = retention.purge(utcnow() - timedelta(days=90))
        seconds = time.perf_counter() - started
        left = db.session.execute(text("SELECT count(*) FROM documents")).scalar_one()
        db.session.remove()
        db.engine.dispose()
    return {
        "documents": counts["documents"],
        "rows": sum(counts.values()),
        "seconds": seconds,
        "per_second": counts["documents"] / seconds if seconds else 0.0,
        "longest_transaction_ms": max(durations) * 1000 if durations else 0.0,
        "transactions": len(durations),
        "left": left,
    }


def run_one(kind: str, n: int, args: argparse.Namespace, password_hash: str) -> dict[str, Any]:
    log(f"== {kind}, {size_label(n)} documents")
    with fresh_database(kind, n, args.pg_url, keep=False) as url:
        relay = LocalRelay(url, log_path=OUT / f"ops-{kind}-{n}.log")
        relay.migrate()
        relay.create_tenant("bench")
        bulk.load(url, tenant_id_of(url, "bench"), n, password_hash=password_hash, log=log)
        gauges = gauge_seconds(url, args.repeats)
        backup_s, backup_bytes = backup_seconds(url, n)
        purge = purge_figures(url)
    record = {
        "db": kind,
        "size": size_label(n),
        "gauges_median_ms": statistics.median(gauges) * 1000,
        "gauges_max_ms": max(gauges) * 1000,
        "backup_s": backup_s,
        "backup_mb": backup_bytes / 1e6,
        **{f"purge_{k}": v for k, v in purge.items()},
    }
    log(str(record))
    return record


def table(records: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| database | documents | gauges median / max ms | backup s (MB) | purge docs/s "
        "| longest purge write transaction ms | write transactions | left |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['db']} | {r['size']} | {r['gauges_median_ms']:.1f} / {r['gauges_max_ms']:.1f} "
            f"| {r['backup_s']:.2f} ({r['backup_mb']:.1f}) | {r['purge_per_second']:.0f} "
            f"| {r['purge_longest_transaction_ms']:.0f} | {r['purge_transactions']} "
            f"| {r['purge_left']} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1e3,1e4,1e5"))
    parser.add_argument("--repeats", type=int, default=15, help="timed gauge snapshots")
    parser.add_argument("--pg-url", default=os.environ.get("RELAY_OPS_PG_URL", PG_DEFAULT))
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    password_hash = generate_password_hash(bulk.PASSWORD, method=settings.PASSWORD_HASH_METHOD)
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    records = [run_one(kind, n, args, password_hash) for kind in kinds for n in args.sizes]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nnproc {os.cpu_count()}, load average {load}, commit {commit}, {when}")
    print(table(records))
    Path(OUT / "ops.md").write_text(table(records) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`make bench-pgpush`: consecutive push runs on one PostgreSQL database, and what grows.

Issue 16 saw relay pushes slow down run after run on one database (184 → 157 → 146 → 110
req/s) while the bare stack stayed flat. This serves the relay and the bare app on fresh
databases (as `make bench` does), then runs the push phase ``--runs`` times in a row, bare
and relay alternately, on the same databases. After each relay run it records, for the
relay's database, every table's live and dead tuples, updates (and how many were HOT), the
last (auto)vacuum and analyze, and its size with indexes; after the first and the last run,
EXPLAIN (ANALYZE, BUFFERS) of each statement one push sends (the inserts are left out: an
EXPLAIN ANALYZE of them would write; the updates run in a transaction rolled back).

    .venv/bin/python -m bench.pgpush [--runs 5] [--duration 10] [--vacuum-between]

``--vacuum-between`` runs VACUUM (ANALYZE) on the relay's database between runs: what a
working autovacuum would do, to tell growth that vacuum reclaims from growth it does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.common import (
    OUT,
    RssSampler,
    cpu_between,
    database_cpu,
    machine,
    markdown_table,
    median,
)
from bench.run import PHASES, HotPath, servers

PUSH = next(p for p in PHASES if p.name == "push")
STATS = """
SELECT s.relname, s.n_live_tup, s.n_dead_tup, s.n_tup_upd, s.n_tup_hot_upd,
       s.last_vacuum IS NOT NULL OR s.last_autovacuum IS NOT NULL AS vacuumed,
       s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL AS analyzed,
       pg_total_relation_size(s.relid) AS bytes
FROM pg_stat_user_tables s ORDER BY s.relname
"""


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    name = url.rsplit("/", 1)[-1]
    return psycopg.connect(
        f"host=127.0.0.1 port=5432 user=postgres dbname={name}", autocommit=autocommit
    )


def table_stats(url: str) -> dict[str, dict[str, Any]]:
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(STATS).fetchall()
    keys = ("live", "dead", "updates", "hot_updates", "vacuumed", "analyzed", "bytes")
    return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in rows}


def server_settings() -> dict[str, str]:
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres") as conn:
        return {
            name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in ("autovacuum", "autovacuum_naptime", "shared_buffers", "server_version")
        }


def push_statements(url: str, tenant_name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The statements of one push as the relay sends them (with SQLAlchemy's typed parameters),
    with parameters of this database: the tenant's last enrolled device (a push device), an
    external_id not stored. (label, SQL, parameters)."""
    with connect(url) as conn:
        tenant_id, device_id, pin = conn.execute(
            "SELECT d.tenant_id, d.id, d.pin FROM devices d JOIN tenants t ON t.id = d.tenant_id "
            "WHERE t.name = %s AND d.pin IS NOT NULL ORDER BY d.created_at DESC LIMIT 1",
            (tenant_name,),
        ).fetchone()  # type: ignore[misc]
        token_hash = conn.execute(
            "SELECT token_hash FROM credentials WHERE tenant_id = %s AND kind = 'accounting' "
            "LIMIT 1",
            (tenant_id,),
        ).fetchone()[0]  # type: ignore[index]
    params = {"tenant_id": tenant_id, "device_id": device_id, "pin": pin}
    return [
        (
            "token → identity",
            "SELECT c.tenant_id, c.kind, t.name FROM credentials c JOIN tenants t "
            "ON t.id = c.tenant_id WHERE c.token_hash = %(token_hash)s::VARCHAR "
            "AND c.revoked_at IS NULL",
            {"token_hash": token_hash},
        ),
        (
            "process version",
            "SELECT version FROM business_processes WHERE tenant_id = %(tenant_id)s::INTEGER "
            "AND key = 'purchase-receipt'",
            params,
        ),
        (
            "device by PIN",
            "SELECT * FROM devices WHERE tenant_id = %(tenant_id)s::INTEGER "
            "AND pin = %(pin)s::VARCHAR AND status = 'active'",
            params,
        ),
        (
            "external_id, locked",
            "SELECT * FROM documents WHERE tenant_id = %(tenant_id)s::INTEGER "
            "AND business_process = 'purchase-receipt' AND external_id = 'bench-explain' "
            "FOR UPDATE",
            params,
        ),
        (
            "inbox counter",
            "UPDATE devices SET inbox_seq = inbox_seq + 1 WHERE tenant_id = %(tenant_id)s::INTEGER "
            "AND id IN (%(device_id)s::UUID)",
            params,
        ),
    ]


def explain(url: str, statements: list[tuple[str, str, dict[str, Any]]]) -> dict[str, str]:
    plans = {}
    with connect(url) as conn:
        for label, sql, params in statements:
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
            plans[label] = "\n".join(r[0] for r in rows)
        conn.rollback()
    return plans


def vacuum(url: str) -> float:
    started = time.monotonic()
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pgpush", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--vacuum-between", action="store_true")
    args = parser.parse_args(argv)
    args.repeats = args.runs
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    settings = server_settings()
    rss = RssSampler()
    rows, stats, plans = [], [], {}
    with servers("postgres", rss) as (relay, bare):
        url = relay.database_url
        hot = HotPath("postgres", relay, bare, args)
        hot.setup()
        for server in ("bare", "relay"):
            hot.one_run(PUSH, server, args.warmup)
        for n in range(1, args.runs + 1):
            bare_run = hot.one_run(PUSH, "bare", args.duration)
            db_before = database_cpu(url)
            relay_run = hot.one_run(PUSH, "relay", args.duration)
            db_ms = cpu_between(db_before, database_cpu(url)) * 1000 / max(1, relay_run.requests)
            taken = table_stats(url)
            stats.append(taken)
            if n in (1, args.runs):
                plans[n] = explain(url, push_statements(url, hot.tenant.name))
            vacuumed = vacuum(url) if args.vacuum_between and n < args.runs else None
            documents = taken.get("documents", {}).get("live", 0)
            devices = taken.get("devices", {})
            rows.append(
                [
                    n,
                    f"{relay_run.rps:.0f}",
                    f"{bare_run.rps:.0f}",
                    f"**{relay_run.rps / bare_run.rps:.0%}**" if bare_run.rps else "–",
                    f"{relay_run.p99_ms:.0f}",
                    f"{relay_run.cpu_ms_per_request:.2f}",
                    f"{db_ms:.2f}",
                    documents,
                    f"{devices.get('dead', 0)} / {devices.get('hot_updates', 0)}",
                    f"{sum(t['dead'] for t in taken.values())}",
                    f"{sum(t['bytes'] for t in taken.values()) / 2**20:.1f}",
                    "–" if vacuumed is None else f"{vacuumed:.1f} s",
                ]
            )
            print(" | ".join(map(str, rows[-1])), flush=True)
    table = markdown_table(
        [
            "run",
            "relay push req/s",
            "bare insert req/s",
            "relay ÷ bare",
            "relay p99 ms",
            "worker CPU ms per push",
            "PostgreSQL CPU ms per push",
            "documents stored",
            "devices: dead tuples / HOT updates",
            "dead tuples, all tables",
            "database MB",
            "VACUUM (ANALYZE) after",
        ],
        rows,
    )
    ratios = [float(r[1]) / float(r[2]) for r in rows if float(r[2])]
    spread = (max(ratios) - min(ratios)) / median(ratios) if ratios else 0.0
    given = " ".join(sys.argv[1:] if argv is None else argv)
    header = (
        f"Machine: {machine()}. Date: {stamp}. Command: `python -m bench.pgpush {given}`. "
        f"PostgreSQL {settings['server_version']}, autovacuum "
        f"{settings['autovacuum']} (naptime {settings['autovacuum_naptime']}), shared_buffers "
        f"{settings['shared_buffers']}. Relay ÷ bare across runs: {min(ratios):.0%}–"
        f"{max(ratios):.0%} (spread {spread:.0%} of the median)."
    )
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "-vacuum" if args.vacuum_between else ""
    text = header + "\n\n" + table + "\n"
    for n, got in plans.items():
        text += f"\nEXPLAIN (ANALYZE, BUFFERS) after run {n}:\n"
        for label, plan in got.items():
            text += f"\n{label}:\n```\n{plan}\n```\n"
    (OUT / f"pgpush{suffix}.md").write_text(text, encoding="utf-8")
    (OUT / f"pgpush{suffix}.json").write_text(
        json.dumps({"settings": settings, "stats": stats, "plans": plans}, indent=1, default=str),
        encoding="utf-8",
    )
    print("\n" + text)
    print(f"Written to {OUT}/pgpush{suffix}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

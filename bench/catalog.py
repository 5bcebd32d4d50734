"""Catalogs at scale (SPEC §13): load 10⁶ products in packets, pull deltas, look barcodes up.

For each database, in one fresh database built by the migrations:

1. **Load**: N products with 2 barcodes each (a unit barcode and a box of 12) go through an
   upload in packets of 5 000: every packet validated and stored (``uploads.put_packet``, one
   transaction each), then one commit applying them all as one version (``uploads.commit``).
   This calls the domain functions in this process, not HTTP: on the shared 2-core machine
   10⁶ items through gunicorn would mostly measure JSON parsing and the network stack. A few
   packets are also sent through the HTTP view (Flask test client) to give that rate. The
   bench's own CPU time is recorded beside the wall time (the machine is shared). On
   PostgreSQL the tables are then ANALYZEd, as autovacuum does shortly after such a load.
2. **Deltas**: a second tenant holds a 10⁴-product catalog. In both catalogs the same number
   of items changes price (100, and 10⁴ = 1 % of 10⁶), and a terminal pulls the delta through
   the terminal endpoint (Flask test client: auth, view, JSON), following ``next`` in pages of
   1 000. Median of repeated pulls. The delta query is EXPLAINed at both sizes.
3. **Barcode lookup**: random barcodes of the 10⁶ catalog through the terminal endpoint;
   p50/p99, with the lookup's EXPLAIN.

    python -m bench.catalog --db both --size 1000000 --small 10000

Figures go to bench/out/catalog-<db>.json and plans to bench/out/catalog-plans-<db>.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask_migrate
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

from bench.common import OUT, fresh_sqlite, recreate_pg
from relay import create_app
from relay.catalogs import changes, uploads
from relay.catalogs.config import Settings
from relay.db import transaction
from relay.directory import tenants
from relay.extensions import db
from relay.timeutil import utcnow

PG_DB = "relay_bench_catalog"
PACKET = 5000
PAGE = 1000


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def product(n: int, price: int = 100) -> dict[str, Any]:
    return {
        "id": f"p-{n:07}",
        "name": f"Товар {n}",
        "unit": "шт",
        "article": f"ART-{n}",
        "price": price,
        "barcodes": [
            {"barcode": f"46{n:011}"},
            {"barcode": f"146{n:011}", "unit": "кор", "factor": 12},
        ],
    }


def packets(first: int, count: int, price: int = 100) -> Iterator[list[dict[str, Any]]]:
    for start in range(first, first + count, PACKET):
        yield [product(n, price) for n in range(start, min(start + PACKET, first + count))]


@dataclass
class Tenant:
    id: int
    accounting_key: str
    device_token: str


def make_tenant(app: Flask, client: FlaskClient, name: str) -> Tenant:
    with app.app_context(), transaction():
        created = tenants.create(name)
        tenant_id, admin, accounting = (
            created.tenant.id,
            created.admin_key,
            created.accounting_key,
        )
    code = client.post(
        "/api/v1/admin/enrollment-codes",
        json={"uses": 1},
        headers={"Authorization": f"Bearer {admin}"},
    ).json["code"]
    token = client.post(
        "/api/v1/terminal/enroll",
        json={"code": code, "name": "bench", "model": "bench", "serial": ""},
    ).json["token"]
    return Tenant(tenant_id, accounting, token)


def load(
    app: Flask, tenant: Tenant, size: int, settings: Settings, profile: str = ""
) -> dict[str, float]:
    """Upload ``size`` products in packets through the domain; time packets and commit.

    With ``profile`` (a file name in bench/out), the commit runs under cProfile and its
    statistics go to that file (``.prof``) and a text summary beside it (``.txt``).
    """
    count = -(-size // PACKET)
    started = time.perf_counter()
    cpu = time.process_time()
    with app.app_context():
        with transaction():
            upload = uploads.open_upload(tenant.id, "products", "merge", count, settings, utcnow())
            upload_id = upload.id
        for number, items in enumerate(packets(0, size), 1):
            with transaction():
                uploads.put_packet(
                    tenant.id, "products", upload_id, number, items, settings, utcnow()
                )
            if number % 40 == 0:
                log(f"    packet {number}/{count}")
        sent = time.perf_counter()
        sent_cpu = time.process_time()
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        with transaction():
            outcome = uploads.commit(tenant.id, "products", upload_id, False, settings, utcnow())
        if profiler:
            profiler.disable()
            write_profile(profiler, profile)
        db.session.remove()
    done = time.perf_counter()
    commit_cpu = time.process_time() - sent_cpu
    assert outcome["changed"] == size, outcome
    total = done - started
    return {
        "items": size,
        "rows": size * 3,
        "packets_s": sent - started,
        "commit_s": done - sent,
        "commit_cpu_s": commit_cpu,
        "total_s": total,
        "cpu_s": time.process_time() - cpu,
        "items_per_s": size / total,
        "rows_per_s": size * 3 / total,
    }


def write_profile(profiler: cProfile.Profile, name: str) -> None:
    """Keep a profile's statistics and a summary: the top functions by own and total time."""
    profiler.dump_stats(OUT / f"{name}.prof")
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)
    (OUT / f"{name}.txt").write_text(text.getvalue())
    log(f"    commit profile → bench/out/{name}.txt")


def http_packets(client: FlaskClient, tenant: Tenant, n: int) -> dict[str, float]:
    """Send ``n`` packets through the HTTP view (test client); return the items/s."""
    headers = {"Authorization": f"Bearer {tenant.accounting_key}"}
    opened = client.post(
        "/api/v1/catalogs/products/uploads", json={"mode": "merge", "packets": n}, headers=headers
    ).json
    started = time.perf_counter()
    for number, items in enumerate(packets(0, n * PACKET), 1):
        response = client.put(
            f"/api/v1/catalogs/products/uploads/{opened['id']}/packets/{number}",
            json={"items": items},
            headers=headers,
        )
        assert response.status_code == 200, response.json
    took = time.perf_counter() - started
    return {"packets": n, "items": n * PACKET, "seconds": took, "items_per_s": n * PACKET / took}


def change(app: Flask, tenant: Tenant, count: int, price: int, settings: Settings) -> int:
    """Change the price of ``count`` items (in merges of a packet each); return the version."""
    version = 0
    with app.app_context():
        for items in packets(0, count, price):
            with transaction():
                version = changes.merge(tenant.id, "products", items, settings, utcnow()).version
        db.session.remove()
    return version


def pull(client: FlaskClient, tenant: Tenant, since: int) -> tuple[float, int, int]:
    """Pull a delta to the end; return seconds, items and pages."""
    headers = {"Authorization": f"Bearer {tenant.device_token}"}
    started = time.perf_counter()
    items = pages = 0
    after = ""
    while True:
        response = client.get(
            f"/api/v1/terminal/catalogs/products?since={since}&limit={PAGE}&after={after}",
            headers=headers,
        )
        assert response.status_code == 200, response.json
        body = response.json
        items += len(body["items"]) + len(body["deleted"])
        pages += 1
        if not body["next"]:
            return time.perf_counter() - started, items, pages
        after = body["next"]


@dataclass
class Captured:
    statements: list[tuple[str, Any]] = field(default_factory=list)


def capture(app: Flask, run: Any, needle: str) -> list[tuple[str, Any]]:
    """The SQL statements (with parameters) that ``run`` sent and that mention ``needle``."""
    got = Captured()
    with app.app_context():
        engine = db.engine

    def listener(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if needle in statement:
            got.statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return got.statements


def explain(app: Flask, statement: str, params: Any) -> str:
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            if db.engine.dialect.name == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
                rows = cursor.fetchall()
                return "\n".join(str(r[-1]) for r in rows)
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            return "\n".join(r[0] for r in cursor.fetchall())
        finally:
            connection.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_db(
    kind: str,
    size: int,
    small: int,
    repeats: int,
    lookups: int,
    pg_db: str = PG_DB,
    *,
    load_only: bool = False,
    profile: bool = False,
) -> dict[str, Any]:
    url = fresh_sqlite(f"catalog-{size}") if kind == "sqlite" else recreate_pg(pg_db)
    app = create_app({"DATABASE_URL": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
    settings = Settings.from_config(app.config)
    client = app.test_client()
    big = make_tenant(app, client, "big")
    little = make_tenant(app, client, "small")
    record: dict[str, Any] = {"db": kind, "size": size, "small": small}

    log(f"{kind}: loading {size:,} products (2 barcodes each) in packets of {PACKET}")
    record["load"] = load(
        app, big, size, settings, f"catalog-commit-{kind}-{size}" if profile else ""
    )
    log(f"    {record['load']}")
    if load_only:
        with app.app_context():
            db.engine.dispose()
        record["plans"] = {}
        return record
    if kind == "postgres":
        with app.app_context():
            db.session.execute(text("ANALYZE catalog_items, catalog_barcodes"))
            db.session.commit()
            db.session.remove()
    record["load_small"] = load(app, little, small, settings)
    record["http_packets"] = http_packets(client, make_tenant(app, client, "http"), 4)
    log(f"    HTTP packets: {record['http_packets']}")

    plans: dict[str, str] = {}
    deltas: list[dict[str, Any]] = []
    for delta_size in (100, min(small, size // 100)):
        for tenant, catalog_size in ((little, small), (big, size)):
            price = 200 + len(deltas)
            with app.app_context():
                base = changes.find(tenant.id, "products").version
                db.session.remove()
            change(app, tenant, delta_size, price, settings)
            times = []
            for _ in range(repeats):
                took, items, pages = pull(client, tenant, base)
                assert items == delta_size, (items, delta_size)
                times.append(took)
            row = {
                "catalog": catalog_size,
                "delta": delta_size,
                "pages": pages,
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
            }
            deltas.append(row)
            log(f"    delta {delta_size} of {catalog_size:,}: {row}")
            # The first page's query, at both sizes and both delta sizes.
            statements = capture(app, lambda t=tenant, b=base: pull(client, t, b), "catalog_items")
            plans[f"delta query, catalog {catalog_size:,}, {delta_size:,} changed"] = (
                statements[0][0] + "\n\n" + explain(app, *statements[0])
            )
    record["deltas"] = deltas

    log(f"{kind}: {lookups} barcode lookups at {size:,}")
    headers = {"Authorization": f"Bearer {big.device_token}"}
    rng = random.Random(7)
    times = []
    for _ in range(lookups):
        n = rng.randrange(size)
        code = f"146{n:011}" if rng.random() < 0.5 else f"46{n:011}"
        started = time.perf_counter()
        response = client.get(f"/api/v1/terminal/barcodes/{code}", headers=headers)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.json
    record["lookup_ms"] = {
        "n": lookups,
        "p50": percentile(times, 0.5) * 1000,
        "p99": percentile(times, 0.99) * 1000,
    }
    log(f"    lookup: {record['lookup_ms']}")
    statements = capture(
        app,
        lambda: client.get("/api/v1/terminal/barcodes/14600000012345", headers=headers),
        "catalog_barcodes",
    )
    plans["barcode lookup"] = statements[0][0] + "\n\n" + explain(app, *statements[0])
    record["plans"] = plans
    with app.app_context():
        db.engine.dispose()
    return record


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu or platform.processor()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--pg-db", default=PG_DB, help="the PostgreSQL database to recreate")
    parser.add_argument(
        "--load-only", action="store_true", help="only the load: no deltas, no lookups"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the load's commit under cProfile (bench/out/catalog-commit-<db>-<size>.txt)",
    )
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for kind in kinds:
        started = time.perf_counter()
        record = run_db(
            kind,
            args.size,
            args.small,
            args.repeats,
            args.lookups,
            args.pg_db,
            load_only=args.load_only,
            profile=args.profile,
        )
        record.update(
            machine=machine(),
            date=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            commit=commit,
            took_s=time.perf_counter() - started,
        )
        plans = record.pop("plans")
        name = kind if args.size == 1_000_000 else f"{kind}-{args.size}"
        if args.load_only:
            name += "-load"
        (OUT / f"catalog-{name}.json").write_text(json.dumps(record, indent=2))
        (OUT / f"catalog-plans-{name}.md").write_text(
            "\n\n".join(f"## {title}\n\n```\n{text}\n```" for title, text in plans.items())
        )
        log(f"{kind}: done in {record['took_s']:.0f} s → bench/out/catalog-{name}.json")


if __name__ == "__main__":
    main()

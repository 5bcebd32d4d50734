"""Where the time goes in each hot-path request: SQL statements per request and a profile.

Runs the relay in-process (the Flask test client, no HTTP server, so the profile shows the
relay's own work) against a fresh database, and for each hot request — inbox poll unchanged
(304) and changed, push of a 20-line document, claim, complete, results page, ack — reports
the mean time, the number of SQL statements it sends, and writes a pyinstrument profile
(text and HTML) under bench/out/profile/.

    make bench-profile                         # SQLite
    make bench-profile BENCH_ARGS="--db postgres --requests 300"
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text

OUT = Path(__file__).resolve().parent / "out" / "profile"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "relay_profile"


def twenty_lines() -> list[dict[str, Any]]:
    return [
        {
            "line_id": str(n),
            "product_id": f"p-{n:03d}",
            "name": f"Товар {n}",
            "barcode": f"46012345{n:05d}",
            "unit": "шт",
            "declared_qty": n,
        }
        for n in range(1, 21)
    ]


def database_url(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'profile.sqlite3'}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
    admin.dispose()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DATABASE}"


def build_app(url: str) -> Flask:
    from flask_migrate import upgrade

    from relay.app import create_app

    app = create_app({"DATABASE_URL": url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
    return app


class Statements:
    """Counts the SQL statements the app's engine sends."""

    def __init__(self, app: Flask) -> None:
        from relay.extensions import db

        self.count = 0
        self.seen: list[str] = []
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.count += 1
        self.seen.append(statement.split("\n", 1)[0][:100])

    @contextmanager
    def measure(self) -> Iterator[list[str]]:
        self.count = 0
        self.seen = []
        yield self.seen


class Scenario:
    """A tenant with one terminal, and the calls each hot request needs."""

    def __init__(self, client: FlaskClient, app: Flask) -> None:
        from relay.db import transaction
        from relay.directory import tenants

        with app.app_context(), transaction():
            created = tenants.create("Профиль")
        self.client = client
        self.admin = {"Authorization": f"Bearer {created.admin_key}"}
        self.accounting = {"Authorization": f"Bearer {created.accounting_key}"}
        self.enroll()
        self.queued: list[str] = []
        self.claimed: list[tuple[str, str]] = []
        self.results: list[str] = []

    def enroll(self) -> None:
        """Work as a newly enrolled terminal (with an empty inbox) from now on."""
        code = self.call("POST", "/api/v1/admin/enrollment-codes", self.admin, {"uses": 1})
        enrolled = self.call(
            "POST", "/api/v1/terminal/enroll", {}, {"code": code["code"], "name": "ТСД-1"}
        )
        self.pin = enrolled["pin"]
        self.terminal = {"Authorization": f"Bearer {enrolled['token']}"}

    def call(
        self, method: str, path: str, headers: dict[str, str], body: Any = None, status: int = 0
    ) -> Any:
        response = self.client.open(path, method=method, headers=headers, json=body)
        if (status and response.status_code != status) or response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.get_json(silent=True)

    def push(self) -> None:
        body = {
            "business_process": "purchase-receipt",
            "target": {"pin": self.pin},
            "documents": [
                {
                    "external_id": f"ЗаказПоставщику-{uuid.uuid4().hex[:12]}",
                    "number": "1",
                    "date": "2026-11-20",
                    "header": {"warehouse": "Основной склад"},
                    "lines": twenty_lines(),
                }
            ],
        }
        pushed = self.call("POST", "/api/v1/documents", self.accounting, body, 201)
        self.queued.append(pushed["documents"][0]["instances"][0]["id"])

    def inbox_changed(self) -> None:
        self.call("GET", "/api/v1/terminal/documents", self.terminal)

    def inbox_unchanged(self) -> None:
        etag = self.client.get("/api/v1/terminal/documents", headers=self.terminal).headers["ETag"]
        headers = {**self.terminal, "If-None-Match": etag}

        def poll() -> None:
            response = self.client.get("/api/v1/terminal/documents", headers=headers)
            if response.status_code != 304:
                raise RuntimeError(f"inbox poll: {response.status_code}, not 304")

        self.poll_unchanged = poll

    def claim(self) -> None:
        instance = self.queued.pop()
        claimed = self.call(
            "POST", f"/api/v1/terminal/documents/{instance}/claim", self.terminal, None, 200
        )
        self.claimed.append((instance, claimed["claim_token"]))

    def complete(self) -> None:
        instance, token = self.claimed.pop()
        body = {
            "submission_id": uuid.uuid4().hex,
            "claim_token": token,
            "lines": [{"line_id": str(n), "qty": n} for n in range(1, 21)],
        }
        done = self.call(
            "POST", f"/api/v1/terminal/documents/{instance}/complete", self.terminal, body, 200
        )
        self.results.append(done["result_id"])

    def results_page(self) -> None:
        self.call("GET", "/api/v1/results?limit=50", self.accounting)

    def ack(self) -> None:
        result = self.results.pop()
        self.call("POST", "/api/v1/results/ack", self.accounting, {"ids": [result]}, 200)

    def cycle(self, documents: int) -> None:
        """``documents`` full cycles as the bench's terminals and accounting client run them:
        push, inbox, document, claim, complete each; then the feed read and acknowledged in
        pages of 100."""
        self.results.clear()
        for _ in range(documents):
            self.push()
            self.inbox_changed()
            self.call("GET", f"/api/v1/terminal/documents/{self.queued[-1]}", self.terminal)
            self.claim()
            self.complete()
        while True:
            page = self.call("GET", "/api/v1/results?limit=100", self.accounting)
            ids = [r["id"] for r in page["results"]]
            if not ids:
                break
            self.call("POST", "/api/v1/results/ack", self.accounting, {"ids": ids}, 200)
        self.results.clear()


def run(kind: str, requests: int) -> list[tuple[str, float, float, float, int, list[str]]]:
    from pyinstrument import Profiler

    with tempfile.TemporaryDirectory() as workdir:
        app = build_app(database_url(kind, Path(workdir)))
        statements = Statements(app)
        from relay import db as database

        holds: list[float] = []
        # Absent from relay trees older than issue 16: profiling one of those reports no holds.
        getattr(database, "WRITE_LOCK_OBSERVERS", []).append(holds.append)
        client = app.test_client()
        scenario = Scenario(client, app)
        for _ in range(3 * requests):  # warm-up, and a stock for the claims and completions
            scenario.push()
        operations: list[tuple[str, Callable[[], None]]] = [
            ("push (20 lines)", scenario.push),
            ("inbox changed (200)", scenario.inbox_changed),
            ("inbox unchanged (304)", scenario.inbox_unchanged),
            ("claim", scenario.claim),
            ("complete", scenario.complete),
            ("results page", scenario.results_page),
            ("ack", scenario.ack),
        ]
        rows = []
        OUT.mkdir(parents=True, exist_ok=True)
        for name, operation in operations:
            if operation == scenario.inbox_unchanged:
                scenario.inbox_unchanged()  # the ETag as it is now, after the pushes
                operation = scenario.poll_unchanged
            with statements.measure() as seen:
                operation()
            per_request = statements.count
            sql = list(seen)
            times, cpu = [], []
            holds.clear()
            for _ in range(requests):  # timed without the profiler's overhead
                started, started_cpu = time.perf_counter(), time.process_time()
                operation()
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
            profiler = Profiler(interval=0.0005)
            with profiler:
                for _ in range(requests):
                    operation()
            slug = f"{kind}-{name.split(' (')[0].replace(' ', '-')}"
            (OUT / f"{slug}.txt").write_text(profiler.output_text(unicode=True, color=False))
            (OUT / f"{slug}.html").write_text(profiler.output_html())
            rows.append(
                (
                    name,
                    statistics.median(times) * 1000,
                    statistics.mean(cpu) * 1000,
                    statistics.median(holds) * 1000 if holds else 0.0,
                    per_request,
                    sql,
                )
            )
        # The whole cycle, CPU per document: the in-process counterpart of `make bench`'s
        # headline (no HTTP server), for before/after comparisons on a busy machine. A new
        # terminal, so its inbox holds only the document at hand (as the bench's terminals'
        # hold a few), not the stock queued above.
        scenario.enroll()
        scenario.queued.clear()
        documents = max(10, requests // 4)
        scenario.cycle(documents)
        per_document = []
        for _ in range(5):
            started_cpu = time.process_time()
            scenario.cycle(documents)
            per_document.append((time.process_time() - started_cpu) / documents)
        rows.append(
            (
                f"full cycle, per document (median of 5 × {documents})",
                0.0,
                statistics.median(per_document) * 1000,
                0.0,
                0,
                [],
            )
        )
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sql", action="store_true", help="list each request's statements")
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(
        "| database | request | median wall ms | mean CPU ms | SQLite write lock held, "
        "median ms | SQL statements |"
    )
    print("|---|---|---:|---:|---:|---:|")
    listings = []
    for kind in kinds:
        for name, ms, cpu_ms, held_ms, count, sql in run(kind, args.requests):
            held = f"{held_ms:.2f}" if kind == "sqlite" and held_ms else "–"
            wall = f"{ms:.2f}" if ms else "–"
            statements = str(count) if count else "–"
            print(f"| {kind} | {name} | {wall} | {cpu_ms:.2f} | {held} | {statements} |")
            listings.append((kind, name, sql))
    if args.sql:
        for kind, name, sql in listings:
            print(f"\n{kind} — {name}:")
            for statement in sql:
                print("   ", statement)
    print(f"\nProfiles: {OUT}/")


if __name__ == "__main__":
    main()

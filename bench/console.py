"""The admin console's overview and document list as the queue grows, 10⁴ to 10⁶ documents.

For each database and size: a fresh database (``relay db upgrade``), one tenant, the bulk-loaded
directory and N queued documents (``bench.bulk``, the rows a real push writes), a console account
made with ``relay admin create``, then ``relay serve`` (gunicorn, 2 sync workers) and one
browser-like client (a cookie session, signed in) sending sequential requests:

* ``GET /admin/`` — the overview (documents by state, today's completions, devices seen,
  deliveries, failures);
* ``GET /admin/documents`` — the newest page of documents;
* ``GET /admin/documents?state=queued`` — the newest page of queued documents.

Each page is also rendered once in-process with a ``before_cursor_execute`` listener, and the
number of SQL statements it sent is reported. Raw figures go to bench/out/console.json.

    python -m bench.console --db both --sizes 1e4,1e5,1e6 --requests 50
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import requests
from sqlalchemy import event
from werkzeug.security import generate_password_hash

from bench import bulk
from bench.scale import OUT, fresh_database, machine, size_label, summary, tenant_id_of
from relay.client.tools.localserver import LocalRelay, relay_command

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/relay_console_bench"
PASSWORD = "bench-console-1"  # noqa: S105 - a throwaway bench account
PAGES = {
    "overview": "/admin/",
    "documents": "/admin/documents",
    "documents, queued": "/admin/documents?state=queued",
}


def log(message: str) -> None:
    print(message, flush=True)


def create_account(relay: LocalRelay) -> None:
    """``relay admin create`` with the password on standard input."""
    done = subprocess.run(
        [relay_command(), "admin", "create", "--tenant", "bench", "--password-stdin", "bench"],
        input=PASSWORD + "\n",
        env=relay.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"relay admin create failed: {done.stderr.strip()}")


def signed_in(url: str) -> requests.Session:
    """A session signed in to the console as a browser would (CSRF token from the form)."""
    session = requests.Session()
    page = session.get(f"{url}/admin/sign-in", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None, "no CSRF token on the sign-in page"
    answer = session.post(
        f"{url}/admin/sign-in",
        data={
            "csrf_token": token.group(1),
            "tenant": "bench",
            "login": "bench",
            "password": PASSWORD,
        },
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    return session


def time_page(session: requests.Session, url: str, requests_: int, warmup: int) -> dict[str, float]:
    samples = []
    for n in range(warmup + requests_):
        started = time.perf_counter()
        answer = session.get(url, timeout=120)
        elapsed = (time.perf_counter() - started) * 1000
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        if n >= warmup:
            samples.append(elapsed)
    return summary(samples)


def count_statements(database_url: str, tenant_id: int) -> dict[str, int]:
    """Render each page in-process and count the SQL statements it sends."""
    from relay import create_app
    from relay.db import transaction
    from relay.directory import console
    from relay.extensions import db

    app = create_app({"DATABASE_URL": database_url, "TESTING": True})
    counts: dict[str, int] = {}
    with app.app_context():
        with transaction():
            opened = console.sign_in(
                "bench",
                "bench",
                PASSWORD,
                lockout_failures=5,
                lockout=timedelta(minutes=1),
            )
        engine = db.engine
    client = app.test_client()
    with client.session_transaction("/admin/") as cookie:
        cookie["tid"] = tenant_id
        cookie["sid"] = str(opened.id)
    for name, path in PAGES.items():
        statements: list[str] = []

        def listener(*args: Any, _into: list[str] = statements) -> None:
            _into.append(args[2])

        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get(path).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        counts[name] = len(statements)
    with app.app_context():
        db.engine.dispose()
    return counts


def run_one(kind: str, n: int, args: argparse.Namespace, password_hash: str) -> dict[str, Any]:
    label = size_label(n)
    log(f"== {kind}, {label} queued documents")
    record: dict[str, Any] = {"db": kind, "size": n, "label": label}
    with fresh_database(kind, n, args.pg_url, False) as url:
        relay = LocalRelay(
            url,
            log_path=OUT / f"console-{kind}-{n}.log",
            workers=2,
            env={"RELAY_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"},
        )
        relay.migrate()
        relay.create_tenant("bench")
        tenant_id = tenant_id_of(url, "bench")
        started = time.perf_counter()
        bulk.load(url, tenant_id, n, seed=1, password_hash=password_hash, log=log)
        record["load_s"] = time.perf_counter() - started
        create_account(relay)
        record["statements"] = count_statements(url, tenant_id)
        log(f"    loaded in {record['load_s']:.1f} s; statements: {record['statements']}")
        with relay:
            session = signed_in(relay.url)
            record["latency"] = {
                name: time_page(session, relay.url + path, args.requests, args.warmup)
                for name, path in PAGES.items()
            }
        for name, figures in record["latency"].items():
            log(f"    {name:20} p50 {figures['p50']:8.1f} ms   p90 {figures['p90']:8.1f} ms")
    return record


def table(records: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| database | queued documents | page | SQL statements | p50 ms | p90 ms | max ms |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for record in records:
        for name, figures in record["latency"].items():
            lines.append(
                f"| {record['db']} | {record['label']} | {name} | {record['statements'][name]} "
                f"| {figures['p50']:.1f} | {figures['p90']:.1f} | {figures['max']:.1f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sizes", default="1e4,1e5,1e6")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--pg-url", default=PG_DEFAULT)
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    OUT.mkdir(parents=True, exist_ok=True)
    password_hash = generate_password_hash(bulk.PASSWORD, method="pbkdf2:sha256:1000")
    info = machine()
    info["command"] = info["command"].replace("bench.scale", "bench.console")
    started = time.perf_counter()
    records = [run_one(kind, n, args, password_hash) for kind in kinds for n in sizes]
    info["took"] = f"{(time.perf_counter() - started) / 60:.1f} min"
    (OUT / "console.json").write_text(
        json.dumps({"machine": info, "records": records}, indent=2), encoding="utf-8"
    )
    log(json.dumps(info))
    log(table(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

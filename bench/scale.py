"""Inbox, claim and push latency as the queue grows from 10³ to 10⁶ documents, with EXPLAIN.

For each database and size: a fresh database built by ``relay db upgrade``, one tenant from
``relay tenant create --json``, 5 000 devices, 5 000 users in 100 groups and N queued documents
bulk-loaded in the relay's own row shape (``bench.bulk``), checked against a real push. Then
``relay serve`` (gunicorn, 2 sync workers) and one client sending sequential requests:

* inbox of a device (200, and 304 with If-None-Match), inbox of an operator session (200);
* claim of a queued instance; push of one 20-line document by PIN.

Probe devices and the probe operator have the same inbox at every size, so only the rest of
the queue changes. Afterwards one request of each kind runs in-process with a
``before_cursor_execute`` listener, and every statement it sent is explained (SQLite
``EXPLAIN QUERY PLAN``, PostgreSQL ``EXPLAIN (ANALYZE, BUFFERS)``). Tables, plans and raw
figures go to bench/out/.

    python -m bench.scale --db both --sizes 1e3,1e4,1e5,1e6 --requests 400
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, event, text
from werkzeug.security import generate_password_hash

from bench import bulk
from relay import settings
from relay.client.tools.localserver import LocalRelay

OUT = Path(__file__).resolve().parent / "out"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/relay_scale"
QUEUE_TABLES = {
    "documents",
    "instances",
    "instance_addressees",
    "events",
    "results",
    "parts",
    "submissions",
    "outbox",
}
DIRECTORY_TABLES = {"devices", "users", "groups", "group_members", "credentials"}
OPS = ("inbox 200", "inbox 304", "session inbox 200", "claim", "push 20 lines")


def log(message: str) -> None:
    print(message, flush=True)


def size_label(n: int) -> str:
    exp = round(math.log10(n))
    if 10**exp == n:
        return "10" + str(exp).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{n:,}"


# -- databases -------------------------------------------------------------------------------


@contextmanager
def fresh_database(kind: str, n: int, pg_url: str, keep: bool) -> Iterator[str]:
    """A new empty database for one run: an SQLite file under bench/out, or ``relay_scale``."""
    if kind == "sqlite":
        path = OUT / f"scale-{n}.sqlite3"
        _remove_sqlite(path)
        try:
            yield f"sqlite:///{path}"
        finally:
            if not keep:
                _remove_sqlite(path)
        return
    import psycopg

    name = pg_url.rsplit("/", 1)[1]
    if name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to drop database {name!r}: give --pg-url a bench database")
    admin = pg_url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url
    finally:
        if not keep:
            with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def database_bytes(url: str) -> int:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    engine = create_engine(url)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return int(size)


ORPHAN_CHECKS = {
    "documents without their process version": """
        SELECT count(*) FROM documents d LEFT JOIN business_process_versions v
        ON v.tenant_id = d.tenant_id AND v."key" = d.business_process
        AND v.version = d.business_process_version WHERE v."key" IS NULL""",
    "instances without their document": """
        SELECT count(*) FROM instances i LEFT JOIN documents d
        ON d.tenant_id = i.tenant_id AND d.id = i.document_id WHERE d.id IS NULL""",
    "addressees without their instance": """
        SELECT count(*) FROM instance_addressees a LEFT JOIN instances i
        ON i.tenant_id = a.tenant_id AND i.id = a.instance_id WHERE i.id IS NULL""",
    "events without their document": """
        SELECT count(*) FROM events e LEFT JOIN documents d
        ON d.tenant_id = e.tenant_id AND d.id = e.document_id WHERE d.id IS NULL""",
    "credentials without their device": """
        SELECT count(*) FROM credentials c LEFT JOIN devices v
        ON v.tenant_id = c.tenant_id AND v.id = c.device_id
        WHERE c.device_id IS NOT NULL AND v.id IS NULL""",
    "memberships without their user or group": """
        SELECT count(*) FROM group_members m
        LEFT JOIN users u ON u.tenant_id = m.tenant_id AND u.id = m.user_id
        LEFT JOIN groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
        WHERE u.id IS NULL OR g.id IS NULL""",
}


def orphans(url: str) -> dict[str, int]:
    """Rows whose foreign key points nowhere (the load writes with FK checks off)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {
            name: int(conn.execute(text(sql)).scalar_one()) for name, sql in ORPHAN_CHECKS.items()
        }
    engine.dispose()
    return {name: count for name, count in found.items() if count}


def tenant_id_of(url: str, name: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM tenants WHERE name = :n"), {"n": name})
        tenant_id = int(found.scalar_one())
    engine.dispose()
    return tenant_id


# -- requests --------------------------------------------------------------------------------


def push_body(pin: str, external_id: str, lines: int = 20) -> dict[str, Any]:
    """A push of one document of ``lines`` lines to a device by PIN (purchase receipt)."""
    import random

    rng = random.Random(external_id)
    products = rng.sample(range(1, 5001), lines)
    return {
        "business_process": bulk.DEVICE_PROCESS,
        "target": {"pin": pin},
        "documents": [
            {
                "external_id": external_id,
                "number": external_id.rsplit("-", 1)[-1],
                "date": datetime.now(UTC).date().isoformat(),
                "header": {"warehouse": "Основной склад", "counterparty": "ООО «Поставщик 001»"},
                "lines": [
                    _json_line(bulk.payload_line(j, p, rng))
                    for j, p in enumerate(products, start=1)
                ],
            }
        ],
    }


def _json_line(line: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if not isinstance(v, str | int) else v for k, v in line.items()}


@dataclass
class Client:
    """One sequential client of a running relay."""

    url: str
    session: requests.Session = field(default_factory=requests.Session)

    def call(
        self, method: str, path: str, token: str, expect: int, **kwargs: Any
    ) -> tuple[float, requests.Response]:
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        started = time.perf_counter()
        response = self.session.request(
            method, self.url + path, headers=headers, timeout=60, **kwargs
        )
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != expect:
            raise RuntimeError(
                f"{method} {path}: {response.status_code} (expected {expect}): "
                + response.text[:300]
            )
        return elapsed, response


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p90": quantile(ordered, 0.90),
        "p99": quantile(ordered, 0.99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


@dataclass(frozen=True)
class Budget:
    """How many requests to time per operation, and when to stop early.

    An operation whose latency grows with the queue would take many minutes at 10⁶; past
    ``seconds`` it stops once it has ``floor`` samples (the tables give n).
    """

    requests: int
    warmup: int
    seconds: float
    floor: int = 100


def measure(name: str, budget: Budget, call: Callable[[int], float]) -> dict[str, float]:
    for i in range(budget.warmup):
        call(i)
    samples: list[float] = []
    started = time.monotonic()
    for i in range(budget.requests):
        samples.append(call(budget.warmup + i))
        if len(samples) >= budget.floor and time.monotonic() - started > budget.seconds:
            break
    result = summary(samples)
    log(
        f"    {name:<18} p50 {result['p50']:7.2f} ms   p99 {result['p99']:7.2f} ms"
        f"   (n={len(samples)})"
    )
    return result


# -- verification ----------------------------------------------------------------------------


def shape_differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON answers differ in structure: keys and value types (numbers alike),
    lists by their first item."""
    kind = {bool: "bool", int: "number", float: "number", str: "str", type(None): "null"}
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only one has it" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += shape_differences(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if a and b:
            return shape_differences(a[0], b[0], f"{path}[0]")
        return [] if bool(a) == bool(b) else [f"{path}: one list is empty"]
    ta, tb = kind.get(type(a), type(a).__name__), kind.get(type(b), type(b).__name__)
    return [] if ta == tb else [f"{path}: {ta} vs {tb}"]


def verify(
    client: Client, url: str, tenant: dict[str, Any], loaded: bulk.Loaded, session_token: str
) -> dict[str, Any]:
    """Check the bulk rows against a real push, and that the relay serves them."""
    acc = tenant["accounting_key"]
    out: dict[str, Any] = {}
    # 1. A push through the API writes exactly the rows the bulk load renders for it.
    pin = loaded.background_pins[0]
    body = push_body(pin, "Verify-000001")
    _ms, answer = client.call("POST", "/api/v1/documents", acc, 201, json=body)
    pushed = answer.json()["documents"][0]
    key = "device:" + pushed["instances"][0]["addressee"]["device_id"]
    doc = json.loads(json.dumps(body["documents"][0]))
    for line in doc["lines"]:
        line["declared_qty"] = bulk.Decimal(str(line["declared_qty"]))
    rendered = bulk.render_push(
        loaded.tenant_id,
        doc,
        process=bulk.DEVICE_PROCESS,
        target={"pin": pin},
        key=key,
        dialect="sqlite" if url.startswith("sqlite") else "postgresql",
    )
    engine = create_engine(url)
    stored = bulk.stored_rows(engine, loaded.tenant_id, "Verify-000001")
    engine.dispose()
    out["push_row_differences"] = bulk.differences(
        stored, rendered, exact_json=url.startswith("sqlite")
    )
    # 2. A bulk document reads back like the pushed one (GET /documents/{id} with timeline).
    _ms, real = client.call("GET", f"/api/v1/documents/{pushed['id']}", acc, 200)
    _ms, bulk_doc = client.call(
        "GET", f"/api/v1/documents/{loaded.sample_document_ids[0]}", acc, 200
    )
    same_process = next(
        (
            d
            for d in loaded.sample_document_ids
            if client.call("GET", f"/api/v1/documents/{d}", acc, 200)[1].json()["business_process"]
            == bulk.DEVICE_PROCESS
        ),
        None,
    )
    if same_process is not None:
        bulk_doc = client.call("GET", f"/api/v1/documents/{same_process}", acc, 200)[1]
    a, b = real.json(), bulk_doc.json()
    out["document_answer_differences"] = shape_differences(a, b)
    out["bulk_timeline"] = [e["kind"] for e in b["timeline"]]
    # 3. A probe device's inbox over HTTP lists exactly the documents loaded for it.
    probe = loaded.probes[0]
    _ms, inbox = client.call("GET", "/api/v1/terminal/documents", probe.token, 200)
    listed = [d["id"] for d in inbox.json()["documents"]]
    out["device_inbox_matches"] = listed == sorted(probe.instances)
    out["device_inbox_size"] = len(listed)
    # 4. The operator's session inbox: the device's, the user's, the group's and "all".
    _ms, inbox = client.call("GET", "/api/v1/terminal/documents", session_token, 200)
    listed = [d["id"] for d in inbox.json()["documents"]]
    expected = sorted(
        probe.instances
        + loaded.probe_user_instances
        + loaded.probe_group_instances
        + loaded.all_instances
    )
    out["session_inbox_matches"] = listed == expected
    out["session_inbox_size"] = len(listed)
    out["ok"] = (
        not out["push_row_differences"]
        and not out["document_answer_differences"]
        and out["bulk_timeline"] == ["pushed"]
        and out["device_inbox_matches"]
        and out["session_inbox_matches"]
    )
    return out


# -- latency ---------------------------------------------------------------------------------


def run_latency(
    client: Client,
    tenant: dict[str, Any],
    loaded: bulk.Loaded,
    session_token: str,
    budget: Budget,
    label: str,
) -> dict[str, dict[str, float]]:
    probes = loaded.probes
    path = "/api/v1/terminal/documents"
    results: dict[str, dict[str, float]] = {}

    def inbox(i: int) -> float:
        return client.call("GET", path, probes[i % len(probes)].token, 200)[0]

    results["inbox 200"] = measure("inbox 200", budget, inbox)
    etags = {p.token: client.call("GET", path, p.token, 200)[1].headers["ETag"] for p in probes}

    def inbox_304(i: int) -> float:
        token = probes[i % len(probes)].token
        return client.call("GET", path, token, 304, headers={"If-None-Match": etags[token]})[0]

    results["inbox 304"] = measure("inbox 304", budget, inbox_304)

    def session_inbox(_i: int) -> float:
        return client.call("GET", path, session_token, 200)[0]

    results["session inbox 200"] = measure("session inbox 200", budget, session_inbox)

    # Claims take the probes' instances round-robin, oldest first; one per probe stays
    # queued for the in-process capture.
    queue = [
        (p.token, iid)
        for depth in range(max(len(p.instances) for p in probes) - 1)
        for p in probes
        if depth < len(p.instances) - 1
        for iid in [p.instances[depth]]
    ]
    if len(queue) < budget.requests + budget.warmup:
        raise SystemExit(
            f"{budget.requests + budget.warmup} claims need more probe documents: raise "
            "Layout.probe_docs_per_device or lower --requests"
        )

    def claim(i: int) -> float:
        token, iid = queue[i]
        return client.call("POST", f"{path}/{iid}/claim", token, 200, json={})[0]

    results["claim"] = measure("claim", budget, claim)

    pins = loaded.background_pins
    acc = tenant["accounting_key"]
    bodies = [
        push_body(pins[(i * 37) % len(pins)], f"Bench-{label}-{i:06d}")
        for i in range(budget.requests + budget.warmup)
    ]

    def push(i: int) -> float:
        return client.call("POST", "/api/v1/documents", acc, 201, json=bodies[i])[0]

    results["push 20 lines"] = measure("push 20 lines", budget, push)
    return results


# -- plans -----------------------------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    params: Any
    ops: list[str]


def capture(
    url: str, loaded: bulk.Loaded, tenant: dict[str, Any], session_token: str
) -> list[Statement]:
    """Run one request of each kind in-process and keep every statement it sent."""
    from relay.app import create_app
    from relay.extensions import db

    app = create_app({"DATABASE_URL": url})
    found: dict[str, Statement] = {}
    current: list[str] = [""]

    with app.app_context():
        engine = db.engine

    def listener(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, executemany: bool
    ) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb not in ("SELECT", "UPDATE", "DELETE", "INSERT", "WITH"):
            return
        params = parameters[0] if executemany and parameters else parameters
        entry = found.setdefault(statement, Statement(statement, params, []))
        if current[0] not in entry.ops:
            entry.ops.append(current[0])

    event.listen(engine, "before_cursor_execute", listener)
    client = app.test_client()
    probe = loaded.probes[-1]
    path = "/api/v1/terminal/documents"

    def run(op: str, method: str, route: str, token: str, expect: int, **kwargs: Any) -> Any:
        current[0] = op
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        response = client.open(route, method=method, headers=headers, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(
                f"capture {op}: {response.status_code} {response.get_data()[:300]!r}"
            )
        return response

    try:
        tag = run("inbox 200", "GET", path, probe.token, 200).headers["ETag"]
        run("inbox 304", "GET", path, probe.token, 304, headers={"If-None-Match": tag})
        run("session inbox 200", "GET", path, session_token, 200)
        run("claim", "POST", f"{path}/{probe.instances[-1]}/claim", probe.token, 200, json={})
        body = push_body(loaded.background_pins[1], "Capture-000001")
        run("push 20 lines", "POST", "/api/v1/documents", tenant["accounting_key"], 201, json=body)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
        with app.app_context():
            db.engine.dispose()
    return list(found.values())


def explain(url: str, statements: Sequence[Statement]) -> list[dict[str, Any]]:
    """The plan of each statement: EXPLAIN QUERY PLAN, or EXPLAIN (ANALYZE, BUFFERS)."""
    out = []
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            for st in statements:
                if st.sql.lstrip().upper().startswith("INSERT"):
                    out.append({**asdict(st), "plan": [], "skipped": "INSERT"})
                    continue
                rows = conn.execute("EXPLAIN QUERY PLAN " + st.sql, st.params or ()).fetchall()
                out.append({**asdict(st), "plan": _sqlite_tree(rows)})
        finally:
            conn.close()
        return out
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for st in statements:
            if st.sql.lstrip().upper().startswith("INSERT"):
                out.append({**asdict(st), "plan": [], "skipped": "INSERT"})
                continue
            try:
                with conn.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + st.sql, st.params or None)
                    plan = [row[0] for row in cur.fetchall()]
            finally:
                conn.rollback()  # EXPLAIN ANALYZE ran the UPDATEs: undo them
            out.append({**asdict(st), "plan": plan})
    return out


def _sqlite_tree(rows: Sequence[tuple[int, int, int, str]]) -> list[str]:
    depth = {0: -1}
    lines = []
    for ident, parent, _unused, detail in rows:
        depth[ident] = depth.get(parent, -1) + 1
        lines.append("  " * depth[ident] + detail)
    return lines


def label_of(sql: str) -> str:
    """A short name for a statement: verb and main table (e.g. ``SELECT credentials``)."""
    flat = " ".join(sql.split())
    verb = flat.split(None, 1)[0].upper()
    if verb == "UPDATE":
        table = flat.split()[1]
    elif verb == "INSERT" or verb == "DELETE":
        table = flat.split()[2]
    else:
        match = re.search(r"\bFROM\s+([a-z_]+)", flat, re.IGNORECASE)
        table = match.group(1) if match else "?"
    if verb == "SELECT" and " FOR UPDATE" in flat.upper():
        verb = "SELECT … FOR UPDATE"
    if "UNION ALL" in flat:
        return "SELECT inbox page (instances, documents)"
    return f"{verb} {table}"


_SCAN = re.compile(r"^\s*SCAN ([a-z_]+?)(?:_\d+)?(?: |$)")
# A SEARCH bounded only by the tenant reads every row of the tenant: a scan in disguise.
_TENANT_RANGE = re.compile(
    r"^\s*SEARCH ([a-z_]+?)(?:_\d+)? USING (?:COVERING )?INDEX \S+ \(tenant_id=\?\)$"
)
_SEQ = re.compile(r"Seq Scan on ([a-z_]+)")
_PG_TENANT_RANGE = re.compile(r"Index Cond: \(tenant_id = \d+\)$")
_PG_NODE = re.compile(r"(?:Index|Index Only|Bitmap Index) Scan (?:using \S+ )?on ([a-z_]+)")
_BUFFERS = re.compile(r"Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?")
_EXEC = re.compile(r"Execution Time: ([\d.]+) ms")
_REMOVED = re.compile(r"Rows Removed by (?:Filter|Index Recheck): (\d+)")


def findings(plan: Sequence[str], dialect: str) -> dict[str, Any]:
    """Scans of tables that grow with the queue (or the directory), buffers, time."""
    scans, directory_scans = [], []
    node = ""
    for line in plan:
        if dialect == "sqlite":
            match = _SCAN.match(line) or _TENANT_RANGE.match(line)
        else:
            match = _SEQ.search(line)
            found = _PG_NODE.search(line)
            if found:
                node = found.group(1)
            elif _PG_TENANT_RANGE.search(line) and node:
                line = f"{node}: {line.strip()}"
                match = re.match(r"([a-z_]+)", line)
        if match:
            table = match.group(1)
            if table in QUEUE_TABLES:
                scans.append(line.strip())
            elif table in DIRECTORY_TABLES:
                directory_scans.append(line.strip())
    out: dict[str, Any] = {"queue_scans": scans, "directory_scans": directory_scans}
    if dialect == "postgresql":
        for line in plan:
            match = _BUFFERS.search(line)
            if match:
                out["buffers"] = int(match.group(1) or 0) + int(match.group(2) or 0)
                break
        for line in plan:
            match = _EXEC.search(line)
            if match:
                out["exec_ms"] = float(match.group(1))
        out["rows_removed"] = sum(
            int(m.group(1)) for line in plan for m in [_REMOVED.search(line)] if m
        )
    return out


def write_plans(path: Path, dialect: str, label: str, explained: Sequence[dict[str, Any]]) -> None:
    lines = [f"# Query plans: {dialect}, {label} queued documents", ""]
    for i, item in enumerate(explained, start=1):
        lines += [
            f"## {i}. {label_of(item['sql'])} — {', '.join(item['ops'])}",
            "",
            "```sql",
            item["sql"].strip(),
            "```",
            "",
            f"parameters: `{item['params']!r}`"[:2000],
            "",
            "```",
            *(item["plan"] or [f"(no plan: {item.get('skipped', 'empty')})"]),
            "```",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


# -- what would fix it ------------------------------------------------------------------------

# The two sub-queries of the inbox page that plans showed reading the whole tenant, in the form
# the relay rendered them before migration 0003 and in the form it renders them since, against
# the indexes migration 0003 builds (a record of the fix, measured on every run).
WHAT_IF = {
    "sqlite": {
        "indexes": [],
        "queries": {
            "addressee range, before 0003 (listed IS 1)": (
                "SELECT instance_id FROM instance_addressees WHERE tenant_id = ? AND key = ?"
                " AND listed IS 1 ORDER BY instance_id LIMIT 101",
                "addressee",
            ),
            "addressee range, since 0003 (listed = 1, index WHERE listed = 1)": (
                "SELECT instance_id FROM instance_addressees WHERE tenant_id = ? AND key = ?"
                " AND listed = 1 ORDER BY instance_id LIMIT 101",
                "addressee",
            ),
            "held by device, before 0003 (state IN (?, ?))": (
                "SELECT id FROM instances WHERE tenant_id = ? AND holder_device_id = ?"
                " AND state IN (?, ?) ORDER BY id LIMIT 101",
                "held",
            ),
            "held by device, since 0003 (literal states, index + id)": (
                "SELECT id FROM instances WHERE tenant_id = ? AND holder_device_id = ?"
                " AND state IN ('claimed', 'cancelled') ORDER BY id LIMIT 101",
                "held_literal",
            ),
        },
    },
    "postgresql": {
        "indexes": [],
        "queries": {
            "addressee range, before 0003 (listed IS true)": (
                "SELECT instance_id FROM instance_addressees WHERE tenant_id = %s AND key = %s"
                " AND listed IS true ORDER BY instance_id LIMIT 101",
                "addressee",
            ),
            "addressee range, since 0003 (listed)": (
                "SELECT instance_id FROM instance_addressees WHERE tenant_id = %s AND key = %s"
                " AND listed ORDER BY instance_id LIMIT 101",
                "addressee",
            ),
            "held by device, before 0003 (state IN ($1, $2))": (
                "SELECT id FROM instances WHERE tenant_id = %s AND holder_device_id = %s"
                " AND state IN (%s, %s) ORDER BY id LIMIT 101",
                "held",
            ),
            "held by device, since 0003 (literal states, index + id)": (
                "SELECT id FROM instances WHERE tenant_id = %s AND holder_device_id = %s"
                " AND state IN ('claimed', 'cancelled') ORDER BY id LIMIT 101",
                "held_literal",
            ),
        },
    },
}


def what_if(url: str, loaded: bulk.Loaded) -> list[dict[str, Any]]:
    """Plan and median time of the inbox sub-queries before and since migration 0003."""
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    spec = WHAT_IF[dialect]
    probe = loaded.probes[1]
    device = probe.device_id.replace("-", "") if dialect == "sqlite" else probe.device_id
    params = {
        "addressee": (loaded.tenant_id, f"device:{probe.device_id}"),
        "held": (loaded.tenant_id, device, "claimed", "cancelled"),
        "held_literal": (loaded.tenant_id, device),
    }
    out = []
    if dialect == "sqlite":
        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        prefix = "EXPLAIN QUERY PLAN "
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        conn.autocommit = True
        prefix = "EXPLAIN (ANALYZE, BUFFERS) "
    try:
        for sql in spec["indexes"]:
            conn.execute(sql)
        for name, (sql, which) in spec["queries"].items():
            rows = conn.execute(prefix + sql, params[which]).fetchall()
            plan = _sqlite_tree(rows) if dialect == "sqlite" else [r[0] for r in rows]
            times = []
            for _ in range(21):
                started = time.perf_counter()
                conn.execute(sql, params[which]).fetchall()
                times.append((time.perf_counter() - started) * 1000)
            out.append({"query": name, "sql": sql, "plan": plan, "ms": statistics.median(times)})
    finally:
        conn.close()
    return out


# -- the run ---------------------------------------------------------------------------------


def run_one(kind: str, n: int, args: argparse.Namespace, password_hash: str) -> dict[str, Any]:
    label = size_label(n)
    log(f"== {kind}, {label} queued documents")
    record: dict[str, Any] = {"db": kind, "size": n, "label": label}
    with fresh_database(kind, n, args.pg_url, args.keep) as url:
        relay = LocalRelay(url, log_path=OUT / f"scale-{kind}-{n}.log", workers=args.workers)
        started = time.perf_counter()
        relay.migrate()
        tenant = relay.create_tenant("bench")
        record["setup_s"] = time.perf_counter() - started
        tenant_id = tenant_id_of(url, "bench")
        started = time.perf_counter()
        loaded = bulk.load(url, tenant_id, n, seed=args.seed, password_hash=password_hash, log=log)
        record["load_s"] = time.perf_counter() - started
        record["load_parts_s"] = loaded.seconds
        record["rows"] = loaded.rows
        record["bytes"] = database_bytes(url)
        record["orphans"] = orphans(url)
        log(
            f"    loaded in {record['load_s']:.1f} s ({record['bytes'] / 2**20:,.0f} MiB);"
            f" orphans: {record['orphans'] or 'none'}"
        )
        with relay:
            client = Client(relay.url)
            probe = loaded.probes[0]
            _ms, login = client.call(
                "POST",
                "/api/v1/terminal/sessions",
                probe.token,
                201,
                json={"login": loaded.probe_user_login, "password": bulk.PASSWORD},
            )
            session_token = login.json()["session_token"]
            record["verify"] = verify(client, url, tenant, loaded, session_token)
            log(f"    verify: {record['verify']}")
            record["latency"] = run_latency(
                client,
                tenant,
                loaded,
                session_token,
                Budget(args.requests, args.warmup, args.max_seconds),
                str(n),
            )
        if n in args.plans_at:
            dialect = "sqlite" if kind == "sqlite" else "postgresql"
            statements = capture(url, loaded, tenant, session_token)
            explained = explain(url, statements)
            for item in explained:
                item["label"] = label_of(item["sql"])
                item["findings"] = findings(item["plan"], dialect)
            record["plans"] = explained
            write_plans(OUT / f"scale-plans-{kind}-{n}.md", dialect, label, explained)
            flagged = [
                f"{item['label']}: {item['findings']['queue_scans']}"
                for item in explained
                if item["findings"]["queue_scans"]
            ]
            log(f"    plans: {len(explained)} statements; queue scans: {flagged or 'none'}")
            record["what_if"] = what_if(url, loaded)
            with (OUT / f"scale-plans-{kind}-{n}.md").open("a", encoding="utf-8") as plans:
                plans.write("\n# What would fix the whole-tenant ranges\n\n")
                for item in record["what_if"]:
                    plans.write(
                        f"## {item['query']}: {item['ms']:.3f} ms (median of 21)\n\n"
                        f"```sql\n{item['sql']}\n```\n\n```\n"
                        + "\n".join(item["plan"])
                        + "\n```\n\n"
                    )
            for item in record["what_if"]:
                log(f"    what-if {item['ms']:8.3f} ms  {item['query']}")
    return record


def machine() -> dict[str, str]:
    model = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in lscpu.splitlines()
                if line.startswith("Model name")
            ),
            "",
        )
    except OSError:
        pass
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "relay"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model or platform.processor(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "commit": head + (" (relay/ has uncommitted changes)" if dirty else ""),
        "command": " ".join(["python -m bench.scale", *(shlex.quote(a) for a in sys.argv[1:])]),
    }


# -- tables ----------------------------------------------------------------------------------


def latency_table(records: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for kind in dict.fromkeys(r["db"] for r in records):
        rows = [r for r in records if r["db"] == kind and "latency" in r]
        if not rows:
            continue
        lines += [
            f"**{'SQLite' if kind == 'sqlite' else 'PostgreSQL'}** — latency in ms, p50 / p99",
            "",
            "| queued documents | " + " | ".join(OPS) + " |",
            "|---:|" + "---:|" * len(OPS),
        ]
        for r in rows:
            cells = [f"{r['latency'][op]['p50']:.1f} / {r['latency'][op]['p99']:.1f}" for op in OPS]
            lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
        first, last = rows[0], rows[-1]
        if first is not last:
            ratios = [
                f"{last['latency'][op]['p99'] / first['latency'][op]['p99']:.2f}" for op in OPS
            ]
            lines.append(f"| p99 {last['label']} ÷ {first['label']} | " + " | ".join(ratios) + " |")
        lines.append("")
    return lines


def load_table(records: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| database | queued documents | rows written | load (directory + documents + settle) "
        "| on disk | verified |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in records:
        parts = r["load_parts_s"]
        rows = sum(r["rows"].values())
        ok = "yes" if r.get("verify", {}).get("ok") and not r["orphans"] else "**no**"
        lines.append(
            f"| {r['db']} | {r['label']} | {rows:,} | {r['load_s']:.1f} s "
            f"({parts['directory']:.1f} + {parts['documents']:.1f} + {parts['finish']:.1f}) "
            f"| {r['bytes'] / 2**20:,.0f} MiB | {ok} |"
        )
    return [*lines, ""]


def plan_table(records: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for kind in dict.fromkeys(r["db"] for r in records):
        rows = [r for r in records if r["db"] == kind and "plans" in r]
        if not rows:
            continue
        first, last = rows[0], rows[-1]
        by_sql = {p["sql"]: p for p in first["plans"]}
        pg = kind != "sqlite"
        head = "| statement | requests | scans growing with the queue |"
        if pg:
            span = f"{first['label']} → {last['label']}"
            head += f" buffers {span} | ms {span} |"
        lines += [
            f"**{'SQLite' if kind == 'sqlite' else 'PostgreSQL'}** — statements of one request "
            f"of each kind, plans at {first['label']} and {last['label']}",
            "",
            head,
            "|---|---|---|" + ("---:|---:|" if pg else ""),
        ]
        for p in last["plans"]:
            if p.get("skipped"):
                continue
            before = by_sql.get(p["sql"], {}).get("findings", {})
            scans = "; ".join(p["findings"]["queue_scans"] + p["findings"]["directory_scans"])
            row = f"| {p['label']} | {', '.join(p['ops'])} | {scans or '—'} |"
            if pg:
                row += (
                    f" {before.get('buffers', '?')} → {p['findings'].get('buffers', '?')} |"
                    f" {before.get('exec_ms', 0):.2f} → {p['findings'].get('exec_ms', 0):.2f} |"
                )
            lines.append(row)
        lines.append("")
    return lines


def what_if_table(records: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for kind in dict.fromkeys(r["db"] for r in records):
        rows = [r for r in records if r["db"] == kind and "what_if" in r]
        if not rows:
            continue
        labels = [r["label"] for r in rows]
        lines += [
            f"**{'SQLite' if kind == 'sqlite' else 'PostgreSQL'}** — inbox sub-queries before "
            "and since migration 0003, median ms of 21 runs in-process",
            "",
            "| sub-query | " + " | ".join(labels) + " | plan at " + labels[-1] + " |",
            "|---|" + "---:|" * len(labels) + "---|",
        ]
        for i, item in enumerate(rows[-1]["what_if"]):
            cells = [f"{r['what_if'][i]['ms']:.3f}" for r in rows]
            main = next(
                (
                    line.strip()
                    for line in item["plan"]
                    if line.strip().startswith(("SEARCH", "SCAN")) or "Scan" in line
                ),
                item["plan"][0] if item["plan"] else "",
            )
            lines.append(f"| {item['query']} | " + " | ".join(cells) + f" | `{main}` |")
        lines.append("")
    return lines


def report(records: Sequence[dict[str, Any]], info: dict[str, str], total_s: float) -> str:
    lines = [
        f"Machine: {info['nproc']} cores, {info['cpu']}; Python {info['python']}; "
        f"relay at {info['commit']}.",
        f"Date: {info['date']}. Command: `{info['command']}` ({total_s / 60:.1f} min in all).",
        "",
        *latency_table(records),
        *load_table(records),
        *plan_table(records),
        *what_if_table(records),
    ]
    return "\n".join(lines)


def parse_sizes(value: str) -> list[int]:
    return [int(float(part)) for part in value.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1e3,1e4,1e5,1e6"))
    parser.add_argument("--requests", type=int, default=400, help="timed requests per operation")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests first")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60,
        help="stop timing an operation after this long (once it has 100 samples)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--plans-at", type=parse_sizes, default=None, help="sizes to EXPLAIN at (default: all)"
    )
    parser.add_argument("--pg-url", default=os.environ.get("RELAY_SCALE_PG_URL", PG_DEFAULT))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep each database after its run")
    args = parser.parse_args(argv)
    args.plans_at = set(args.plans_at or args.sizes)
    OUT.mkdir(parents=True, exist_ok=True)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    info = machine()
    log(f"bench.scale: {info['date']}, {info['nproc']} cores, {info['cpu']}")
    started = time.perf_counter()
    password_hash = generate_password_hash(bulk.PASSWORD, method=settings.PASSWORD_HASH_METHOD)
    records = []
    for kind in kinds:
        for n in sorted(args.sizes):
            records.append(run_one(kind, n, args, password_hash))
            (OUT / "scale-results.json").write_text(
                json.dumps({"machine": info, "runs": records}, indent=1, default=str),
                encoding="utf-8",
            )
    text_out = report(records, info, time.perf_counter() - started)
    (OUT / "scale-results.md").write_text(text_out + "\n", encoding="utf-8")
    log("")
    log(text_out)
    failed = [f"{r['db']} {r['label']}" for r in records if not r["verify"]["ok"] or r["orphans"]]
    if failed:
        log(f"verification FAILED for: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

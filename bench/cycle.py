"""The full cycle: push → inbox → claim → complete → results → ack, in documents per second.

N simulated terminals (one process each) and one accounting client (one process: threads
pushing one document per request, keeping a bounded backlog, and a thread pulling the results
feed and acknowledging each page) run against a relay for a fixed time after a warm-up. They
speak HTTP/1.1 with keep-alive through ``http.client``, which costs the load generator less
CPU than ``requests`` would on a 2-core machine; their CPU time is reported beside the
server's, so it shows whether the load generator was the bottleneck.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import queue
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    PROCESS,
    RssSampler,
    Tenant,
    completion,
    cpu_between,
    database_cpu,
    document,
    markdown_table,
    worker_cpu_seconds,
)
from relay.client.tools.localserver import LocalRelay

INBOX = "/api/v1/terminal/documents"
EXPECTED = {
    "push": (201,),
    "inbox 304": (304,),
    "inbox 200": (200,),
    "claim": (200,),
    "document": (200,),
    "complete": (200,),
    "results": (200,),
    "ack": (200,),
}
# Which bare endpoint stands for each relay request in the cycle's limit.
BARE_FOR = {
    "push": "insert",
    "inbox 304": "hello",
    "inbox 200": "read",
    "document": "read",
    "claim": "claim",
    "complete": "insert",
    "results": "read",
    "ack": "insert",
}
FORMULA = (
    "The bare limit is what the bare stack could carry if each relay request of the cycle cost "
    "what its bare counterpart costs: with c_t the requests of type t per document in the "
    "measured window and r_t the bare rate measured in the same run, **limit = 1 / Σ_t "
    "(c_t / r_t)** documents per second. The bare rates r_t come from one `--duration` run "
    "of each bare endpoint right before the cycle, so both see the same load on the shared "
    "machine. Counterparts: push, complete and ack → *insert + "
    "commit*; inbox 200, document and results page → *read 10 rows*; inbox 304 → *hello*; "
    "claim → *SKIP LOCKED claim*. Idle terminals poll every `--poll-interval` seconds with "
    "their ETag, so the 304 polls are counted too. Client CPU is the terminals' and the "
    "accounting client's CPU time in the window, as a share of the machine's cores.\n"
)


# Issue 16's targets: worker CPU per acknowledged document, and documents/s against the limit.
CPU_TARGET_MS = 25.0
RATIO_TARGET = 0.40


def headline(r: CycleResult) -> str:
    """One line for the end of `make bench`: the cost per document beside its bare limit."""
    db = f" + PostgreSQL {r.db_cpu_ms_per_doc:.1f}" if r.db == "postgres" else ""
    return (
        f"{r.db}: {r.cpu_ms_per_doc:.1f} worker CPU-ms per acknowledged document{db} "
        f"(bare counterparts {r.bare_cpu_ms_per_doc:.1f}); {r.docs_per_s:.1f} documents/s of a "
        f"bare limit of {r.limit:.1f} ({r.ratio:.0%})"
    )


@dataclass
class CycleResult:
    db: str
    terminals: int
    seconds: float
    documents: int
    docs_per_s: float
    per_doc: dict[str, float]
    bare_rates: dict[str, float]
    limit: float
    ratio: float
    latency_p50_ms: float
    latency_p99_ms: float
    unexpected: dict[str, dict[int, int]]
    request_p99_ms: dict[str, float]
    server_cpu: float
    client_cpu: float
    # The headline: gunicorn-worker CPU-ms per acknowledged document (and PostgreSQL's own, for
    # the relay's connections), beside what the bare counterparts of the same requests cost.
    cpu_ms_per_doc: float
    db_cpu_ms_per_doc: float
    bare_cpu_ms_per_doc: float
    rss_relay_mb: float | None
    notes: list[str] = field(default_factory=list)


class Conn:
    """A keep-alive HTTP/1.1 connection that records each request's type, status and time."""

    def __init__(self, url: str, token: str, start: float, end: float) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = token
        self.start, self.end = start, end
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.counts: dict[str, int] = defaultdict(int)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.latency: dict[str, list[float]] = defaultdict(list)

    def call(
        self,
        kind: str,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, http.client.HTTPResponse, Any]:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if data is not None:
            sent["Content-Type"] = "application/json"
        began = time.monotonic()
        try:
            self.conn.request(method, path, body=data, headers=sent)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.conn.request(method, path, body=data, headers=sent)
            response = self.conn.getresponse()
            raw = response.read()
        ended = time.monotonic()
        status = response.status
        if self.start <= ended < self.end:
            kind = f"inbox {status}" if kind == "inbox" and status in (200, 304) else kind
            self.counts[kind] += 1
            self.statuses[kind][status] += 1
            self.latency[kind].append(ended - began)
        parsed = json.loads(raw) if raw and status != 304 else None
        return status, response, parsed

    def report(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "statuses": {k: dict(v) for k, v in self.statuses.items()},
            "latency": dict(self.latency),
        }


def terminal(url: str, token: str, start: float, end: float, poll: float, out: Any) -> None:
    """A terminal: poll the inbox with its ETag; claim, read and complete what arrives."""
    conn = Conn(url, token, start, end)
    etag: str | None = None
    cpu_start = None
    while time.monotonic() < end:
        if cpu_start is None and time.monotonic() >= start:
            cpu_start = time.process_time()
        status, response, body = conn.call(
            "inbox", "GET", INBOX, headers={"If-None-Match": etag} if etag else {}
        )
        if status != 200:
            time.sleep(poll)
            continue
        etag = response.getheader("ETag")
        todo = [d for d in body["documents"] if d["state"] in ("queued", "claimed")]
        if not todo:
            time.sleep(poll)
        for doc in todo:
            if time.monotonic() >= end:
                break
            status, _, claimed = conn.call("claim", "POST", f"{INBOX}/{doc['id']}/claim")
            if status != 200:
                continue
            conn.call("document", "GET", f"{INBOX}/{doc['id']}")
            conn.call(
                "complete",
                "POST",
                f"{INBOX}/{doc['id']}/complete",
                completion(claimed["claim_token"]),
            )
    cpu = time.process_time() - (cpu_start if cpu_start is not None else time.process_time())
    out.put({"role": "terminal", "cpu": cpu, **conn.report()})


PUSHERS = 4


def accounting(
    url: str, key: str, pins: list[str], start: float, end: float, backlog: int, out: Any
) -> None:
    """The accounting client: PUSHERS threads pushing one document a request (as an exchange
    module sends a day's orders over a few connections), one thread pulling results and acking
    each page. A single pusher capped the cycle at 1 / push latency with the relay half idle."""
    pushed_at: dict[str, float] = {}
    lock = threading.Lock()
    state = {"pushed": 0, "acked": 0}
    nonce = uuid.uuid4().hex[:8]
    push_conns = [Conn(url, key, start, end) for _ in range(PUSHERS)]
    pull_conn = Conn(url, key, start, end)
    done_in_window: list[float] = []

    def pusher(first: int, push_conn: Conn) -> None:
        n = first
        while time.monotonic() < end:
            with lock:
                waiting = state["pushed"] - state["acked"]
            if waiting >= backlog:
                time.sleep(0.002)
                continue
            external_id = f"cycle-{nonce}-{n}"
            body = {
                "business_process": PROCESS,
                "target": {"pin": pins[n % len(pins)]},
                "documents": [document(external_id)],
            }
            began = time.monotonic()
            status, _, _ = push_conn.call("push", "POST", "/api/v1/documents", body)
            if status in (200, 201):
                with lock:
                    pushed_at[external_id] = began
                    state["pushed"] += 1
            n += PUSHERS

    threads = [
        threading.Thread(target=pusher, args=(i, conn), daemon=True)
        for i, conn in enumerate(push_conns)
    ]
    cpu_start = None
    for thread in threads:
        thread.start()
    while time.monotonic() < end:
        if cpu_start is None and time.monotonic() >= start:
            cpu_start = time.process_time()
        status, _, body = pull_conn.call("results", "GET", "/api/v1/results?limit=100")
        results = body["results"] if status == 200 else []
        if not results:
            time.sleep(0.01)
            continue
        ids = [r["id"] for r in results]
        status, _, _ = pull_conn.call("ack", "POST", "/api/v1/results/ack", {"ids": ids})
        now = time.monotonic()
        if status != 200:
            continue
        with lock:
            state["acked"] += len(ids)
            for r in results:
                began = pushed_at.pop(r["external_id"], None)
                if began is not None and start <= now < end:
                    done_in_window.append(now - began)
    for thread in threads:
        thread.join()
    cpu = time.process_time() - (cpu_start if cpu_start is not None else time.process_time())
    reports = [*(conn.report() for conn in push_conns), pull_conn.report()]
    merged = merge_reports(reports)
    out.put({"role": "accounting", "cpu": cpu, "done": done_in_window, **merged})


def merge_reports(reports: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    latency: dict[str, list[float]] = defaultdict(list)
    for report in reports:
        for kind, n in report["counts"].items():
            counts[kind] += n
        for kind, codes in report["statuses"].items():
            for code, n in codes.items():
                statuses[kind][int(code)] += n
        for kind, values in report["latency"].items():
            latency[kind] += values
    return {
        "counts": dict(counts),
        "statuses": {k: dict(v) for k, v in statuses.items()},
        "latency": dict(latency),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(
    relay: LocalRelay,
    *,
    db: str,
    bare_rates: dict[str, float],
    bare_cpu_ms: dict[str, float],
    terminals: int,
    seconds: float,
    warmup: float,
    poll_interval: float,
    rss: RssSampler,
    backlog_per_terminal: int = 4,
) -> CycleResult:
    """Run the cycle on a new tenant of ``relay``; return documents/s and the bare limit."""
    tenant = Tenant.create(relay, f"cycle-{uuid.uuid4().hex[:8]}")
    devices = tenant.enroll(terminals, "cycle")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    begin = time.monotonic() + 3.0  # the processes' start-up
    start = begin + warmup
    end = start + seconds
    procs = [
        ctx.Process(
            target=terminal, args=(relay.url, d.token, start, end, poll_interval, out), daemon=True
        )
        for d in devices
    ]
    procs.append(
        ctx.Process(
            target=accounting,
            args=(
                relay.url,
                tenant.accounting_key,
                [d.pin for d in devices],
                start,
                end,
                backlog_per_terminal * terminals,
                out,
            ),
            daemon=True,
        )
    )
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, start - time.monotonic()))
    cpu_before = worker_cpu_seconds(relay.pid)
    db_before = database_cpu(relay.database_url)
    time.sleep(max(0.0, end - time.monotonic()))
    cpu_after = worker_cpu_seconds(relay.pid)
    db_after = database_cpu(relay.database_url)
    reports = []
    for _ in procs:
        try:
            reports.append(out.get(timeout=120))
        except queue.Empty:
            break
    for proc in procs:
        proc.join(30)
    merged = merge_reports(reports)
    done = [x for r in reports for x in r.get("done", [])]
    documents = len(done)
    per_doc = {k: n / documents for k, n in merged["counts"].items()} if documents else {}
    cost = sum(
        c / bare_rates[BARE_FOR[k]] for k, c in per_doc.items() if bare_rates.get(BARE_FOR[k])
    )
    limit = 1 / cost if cost else 0.0
    bare_cpu_per_doc = sum(c * bare_cpu_ms.get(BARE_FOR[k], 0.0) for k, c in per_doc.items())
    unexpected = {
        kind: {code: n for code, n in codes.items() if code not in EXPECTED.get(kind, ())}
        for kind, codes in merged["statuses"].items()
    }
    cores = len(os.sched_getaffinity(0))
    notes = []
    if len(reports) < len(procs):
        notes.append(f"only {len(reports)} of {len(procs)} client processes reported")
    missing = {BARE_FOR[k] for k in per_doc} - set(bare_rates)
    if missing:
        notes.append(f"no bare rate for {', '.join(sorted(missing))}: left out of the limit")
    docs_per_s = documents / seconds
    return CycleResult(
        db=db,
        terminals=terminals,
        seconds=seconds,
        documents=documents,
        docs_per_s=docs_per_s,
        per_doc=per_doc,
        bare_rates=bare_rates,
        limit=limit,
        ratio=docs_per_s / limit if limit else 0.0,
        latency_p50_ms=percentile(done, 50) * 1000,
        latency_p99_ms=percentile(done, 99) * 1000,
        unexpected={k: v for k, v in unexpected.items() if v},
        request_p99_ms={k: percentile(v, 99) * 1000 for k, v in sorted(merged["latency"].items())},
        server_cpu=(cpu_after - cpu_before) / seconds / cores,
        cpu_ms_per_doc=(cpu_after - cpu_before) * 1000 / documents if documents else 0.0,
        db_cpu_ms_per_doc=cpu_between(db_before, db_after) * 1000 / documents if documents else 0.0,
        bare_cpu_ms_per_doc=bare_cpu_per_doc,
        client_cpu=sum(r["cpu"] for r in reports) / seconds / cores,
        rss_relay_mb=rss.peak_mb(f"relay-{db}"),
        notes=notes,
    )


def table(results: list[CycleResult]) -> str:
    rows = []
    for r in results:
        mix = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.per_doc.items()))
        slow = ", ".join(f"{k} {v:.0f}" for k, v in r.request_p99_ms.items())
        bad = "; ".join(f"{k}: {dict(v)}" for k, v in r.unexpected.items()) or "none"
        rows.append(
            [
                {"sqlite": "SQLite", "postgres": "PostgreSQL"}[r.db],
                r.terminals,
                f"**{r.cpu_ms_per_doc:.1f}**"
                + (f" (+{r.db_cpu_ms_per_doc:.1f} PostgreSQL)" if r.db == "postgres" else ""),
                f"{r.bare_cpu_ms_per_doc:.1f}",
                f"≤ {CPU_TARGET_MS:g}: "
                + ("met" if r.cpu_ms_per_doc <= CPU_TARGET_MS else "MISSED"),
                f"{r.docs_per_s:.1f}",
                f"{r.limit:.1f}",
                f"**{r.ratio:.0%}**",
                f"≥ {RATIO_TARGET:.0%}: " + ("met" if r.ratio >= RATIO_TARGET else "MISSED"),
                f"{r.latency_p50_ms:.0f} / {r.latency_p99_ms:.0f}",
                mix,
                slow,
                f"{r.server_cpu:.0%} / {r.client_cpu:.0%}",
                "n/a" if r.rss_relay_mb is None else f"{r.rss_relay_mb:.0f} MB",
                bad + ("; " + "; ".join(r.notes) if r.notes else ""),
            ]
        )
    return markdown_table(
        [
            "database",
            "terminals",
            "worker CPU ms per acknowledged document",
            "bare CPU ms for the same requests",
            "target",
            "documents/s",
            "bare limit",
            "ratio",
            "target",
            "push→ack p50 / p99 ms",
            "requests per document",
            "request p99 ms",
            "CPU server / clients",
            "peak RSS per worker",
            "unexpected statuses",
        ],
        rows,
    )

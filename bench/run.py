"""`make bench`: the relay's hot-path requests and full cycle beside a bare Flask stack.

For each database (SQLite, then PostgreSQL) one run serves the relay (``relay serve``) and the
bare app (:mod:`bench.bare_app`) side by side with the same gunicorn configuration, and loads
them in turn with ``wrk -t2 -c16`` from its own process. Each phase is warmed up, then measured
``--repeats`` times, alternating bare and relay runs so drift on a shared machine hits both;
tables give medians (and the range across repeats). Then the full cycle
(:mod:`bench.cycle`) runs on the same servers. Tables are printed and written to bench/out/.

    .venv/bin/python -m bench.run [--db sqlite|postgres|both] [--duration 10] [--repeats 3]
                                  [--only inbox-304,push,…,cycle] [--update-results]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench import cycle
from bench.common import (
    LINES,
    OUT,
    PROCESS,
    WORK,
    BareServer,
    Device,
    Req,
    RssSampler,
    Tenant,
    WrkRun,
    bearer,
    completion,
    database_urls,
    document,
    machine,
    markdown_table,
    median,
    read_captured,
    run_wrk,
    spread,
    start_relay,
    worker_cpu_seconds,
    write_requests,
)
from relay.client.tools.localserver import LocalRelay

INBOX = "/api/v1/terminal/documents"
INBOX_DEVICES = 16
INBOX_SIZE = 10
CLAIM_DEVICES = 16
PUSH_DEVICES = 4
# A first guess of a write phase's rate, to size its prepared requests before any run.
FIRST_GUESS = 1500.0
RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass(frozen=True)
class Phase:
    """One hot-path request of the relay and the bare request it is set against."""

    name: str
    label: str
    bare: str
    expected: tuple[int, ...]
    bare_expected: tuple[int, ...]
    target: float | None = None
    # Reads may replay the same requests; writes need a distinct request each time.
    cycle: bool = False


PHASES = [
    Phase("inbox-304", "inbox poll, unchanged (304)", "hello", (304,), (200,), 0.60, True),
    Phase(
        "inbox-changed",
        f"inbox poll, changed ({INBOX_SIZE} documents)",
        f"read {INBOX_SIZE} rows",
        (200,),
        (200,),
        None,
        True,
    ),
    Phase("push", f"push of a {LINES}-line document", "insert + commit", (201,), (201,), 0.35),
    Phase("claim", "claim", "SKIP LOCKED claim", (200,), (200,), 0.35),
    Phase("complete", f"complete ({LINES} lines)", "SKIP LOCKED claim", (200,), (200,), 0.35),
    Phase("results", "results page", "read page rows", (200,), (200,), None, True),
    Phase("ack", "ack (one result)", "insert + commit", (200,), (201,), None),
]
PHASE_NAMES = [p.name for p in PHASES]


@dataclass
class Measured:
    """The repeats of one phase on one server."""

    runs: list[WrkRun] = field(default_factory=list)
    warmup: WrkRun | None = None

    def rps(self) -> float:
        return median([r.rps for r in self.runs])

    def p50(self) -> float:
        return median([r.p50_ms for r in self.runs])

    def p99(self) -> float:
        return median([r.p99_ms for r in self.runs])

    def cpu_ms(self) -> float:
        """Median gunicorn-worker CPU-ms per request across the repeats."""
        return median([r.cpu_ms_per_request for r in self.runs])

    def rps_range(self) -> str:
        return spread([r.rps for r in self.runs])

    def unexpected(self, expected: tuple[int, ...]) -> dict[int, int]:
        out: dict[int, int] = {}
        for run in [*self.runs, *([self.warmup] if self.warmup else [])]:
            for code, n in run.unexpected(expected).items():
                out[code] = out.get(code, 0) + n
        return out

    def socket_errors(self) -> int:
        return sum(sum(r.socket_errors.values()) for r in self.runs)

    def wrapped(self) -> int:
        return sum(r.wraps for r in self.runs)

    def wrk_cpu(self) -> float:
        """The most CPU wrk used in one run, as a share of one core."""
        return max((r.wrk_cpu_s / r.seconds for r in self.runs if r.seconds), default=0.0)


class HotPath:
    """The hot-path phases on one database: a relay and a bare app, served side by side."""

    def __init__(
        self, db: str, relay: LocalRelay, bare: BareServer, args: argparse.Namespace
    ) -> None:
        self.db = db
        self.relay = relay
        self.bare = bare
        self.args = args
        self.work = WORK / db
        self.work.mkdir(parents=True, exist_ok=True)
        self.nonce = uuid.uuid4().hex[:8]
        self.results: dict[str, dict[str, Measured]] = {}
        self.counter = 0
        # Claimed instances (id, claim token, device token) and results, made by earlier runs.
        self.claimed: list[tuple[str, str, str]] = []
        self.unacked: list[str] = []
        self.owner: dict[str, str] = {}
        self.tenant: Tenant

    # -- preparation ------------------------------------------------------------------------

    def setup(self) -> None:
        self.tenant = Tenant.create(self.relay, f"bench-{self.nonce}")
        self.inbox_devices = self.tenant.enroll(INBOX_DEVICES, "inbox")
        self.claim_devices = self.tenant.enroll(CLAIM_DEVICES, "claim")
        self.push_devices = self.tenant.enroll(PUSH_DEVICES, "push")
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda d: self.tenant.push_many(d, INBOX_SIZE, prefix=f"inbox-{d.pin}"),
                    self.inbox_devices,
                )
            )
        self.etags = {d.token: self.tenant.inbox_etag(d) for d in self.inbox_devices}
        small = {"external_id": "x", "number": "0000-000001", "state": "queued", "version": 1}
        self.bare.seed("inbox", INBOX_SIZE, small)
        self.bare.seed("results", self.args.page, result_like())

    def seed_claims(self, count: int) -> list[Req]:
        """Queue ``count`` relay instances over the claim devices; their claim requests."""
        per = math.ceil(count / len(self.claim_devices))
        self.counter += 1
        batch = self.counter

        def push(device: Device) -> list[tuple[str, str]]:
            ids = self.tenant.push_many(device, per, prefix=f"c{batch}-{device.pin}")
            return [(i, device.token) for i in ids]

        with ThreadPoolExecutor(2) as pool:
            seeded = [x for chunk in pool.map(push, self.claim_devices) for x in chunk]
        # Interleave devices, so each connection's run touches every device.
        seeded.sort(key=lambda x: x[0])
        for instance, token in seeded:
            self.owner[instance] = token
        return [Req("POST", f"{INBOX}/{i}/claim", bearer(t)) for i, t in seeded]

    def top_up_claims(self, count: int) -> None:
        """Claim more instances through the API when the claim runs left too few."""
        reqs = self.seed_claims(count - len(self.claimed))

        def claim(req: Req) -> None:
            answer = requests.post(self.relay.url + req.path, headers=dict(req.headers), timeout=60)
            answer.raise_for_status()
            body = answer.json()
            self.claimed.append((body["id"], body["claim_token"], self.owner[body["id"]]))

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(claim, reqs))

    def top_up_results(self, count: int) -> None:
        """Complete more instances through the API when the complete runs left too few."""
        need = count - len(self.unacked)
        if len(self.claimed) < need:
            self.top_up_claims(need)
        take, self.claimed = self.claimed[:need], self.claimed[need:]

        def complete(item: tuple[str, str, str]) -> None:
            instance, claim_token, token = item
            answer = requests.post(
                f"{self.relay.url}{INBOX}/{instance}/complete",
                json=completion(claim_token),
                headers=bearer(token),
                timeout=60,
            )
            answer.raise_for_status()
            self.unacked.append(answer.json()["result_id"])

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(complete, take))

    def relay_requests(self, phase: Phase, count: int) -> list[Req]:
        accounting = bearer(self.tenant.accounting_key)
        if phase.name == "inbox-304":
            return [
                Req("GET", INBOX, {**bearer(t), "If-None-Match": e}) for t, e in self.etags.items()
            ]
        if phase.name == "inbox-changed":
            return [Req("GET", INBOX, bearer(t)) for t in self.etags]
        if phase.name == "push":
            self.counter += 1
            pins = [d.pin for d in self.push_devices]
            return [
                Req(
                    "POST",
                    "/api/v1/documents",
                    accounting,
                    {
                        "business_process": PROCESS,
                        "target": {"pin": pins[n % len(pins)]},
                        "documents": [document(f"push-{self.nonce}-{self.counter}-{n}")],
                    },
                )
                for n in range(count)
            ]
        if phase.name == "claim":
            return self.seed_claims(count)
        if phase.name == "complete":
            if len(self.claimed) < count:
                self.top_up_claims(count)
            take, self.claimed = self.claimed[:count], self.claimed[count:]
            return [
                Req("POST", f"{INBOX}/{i}/complete", bearer(t), completion(c)) for i, c, t in take
            ]
        if phase.name == "results":
            return [Req("GET", f"/api/v1/results?limit={self.args.page}", accounting)] * 16
        if phase.name == "ack":
            if len(self.unacked) < count:
                self.top_up_results(count)
            take, self.unacked = self.unacked[:count], self.unacked[count:]
            return [Req("POST", "/api/v1/results/ack", accounting, {"ids": [r]}) for r in take]
        raise ValueError(phase.name)

    def bare_requests(self, phase: Phase, count: int) -> list[Req]:
        if phase.name == "inbox-304":
            return [Req("GET", "/hello")] * 16
        if phase.name == "inbox-changed":
            return [Req("GET", f"/items?target=inbox&limit={INBOX_SIZE}")] * 16
        if phase.name == "push":
            self.counter += 1
            return [
                Req(
                    "POST",
                    "/items?target=push",
                    {},
                    {
                        "business_process": PROCESS,
                        "target": {"pin": "0000"},
                        "documents": [document(f"push-{self.nonce}-{self.counter}-{n}")],
                    },
                )
                for n in range(count)
            ]
        if phase.name in ("claim", "complete"):
            # Identical requests: each claims the next queued row, so seed enough rows.
            rate = max(
                (r.rps for m in self.results[phase.name].values() for r in m.runs), default=0
            )
            self.bare.seed(
                "claim",
                math.ceil(max(rate, FIRST_GUESS) * self.args.duration * 1.5),
                {},
            )
            return [Req("POST", "/claim?target=claim")] * 16
        if phase.name == "results":
            return [Req("GET", f"/items?target=results&limit={self.args.page}")] * 16
        if phase.name == "ack":
            return [
                Req("POST", "/items?target=ack", {}, {"ids": [str(uuid.uuid4())]})
                for _ in range(count)
            ]
        raise ValueError(phase.name)

    # -- measuring --------------------------------------------------------------------------

    def sized(self, phase: Phase, server: str, seconds: float) -> int:
        """How many distinct requests a run of ``seconds`` may need (with a margin).

        The bare runs replay theirs, except that each claim needs a queued row.
        """
        if server == "bare":
            return 2000
        done = self.results.get(phase.name, {})
        own = done.get("relay")
        rates = [r.rps for r in [*own.runs, own.warmup] if r is not None] if own else []
        if not rates:
            # Before the relay's first run, the bare rate is the ceiling to prepare for.
            bare = done.get("bare")
            rates = [r.rps for r in [*bare.runs, bare.warmup] if r is not None] if bare else []
        guess = max(rates, default=FIRST_GUESS)
        return math.ceil(guess * seconds * 2) + 64

    def one_run(self, phase: Phase, server: str, seconds: float) -> WrkRun:
        count = self.sized(phase, server, seconds)
        base = self.relay.url if server == "relay" else self.bare.url
        make = self.relay_requests if server == "relay" else self.bare_requests
        reqs = make(phase, count)
        path = self.work / f"{phase.name}-{server}.requests"
        prepared = write_requests(path, reqs)
        capture = None
        if server == "relay" and phase.name in ("claim", "complete"):
            capture = self.work / f"{phase.name}-{server}.captured"
        pid = self.relay.pid if server == "relay" else self.bare.pid
        cpu_before = worker_cpu_seconds(pid)
        run = run_wrk(
            base,
            path,
            seconds,
            threads=self.args.threads,
            connections=self.args.connections,
            capture=capture,
            prepared=0 if self.replays(phase, server) else prepared,
        )
        run.server_cpu_s = worker_cpu_seconds(pid) - cpu_before
        if capture is not None:
            self.collect(phase, capture)
        if not self.replays(phase, server) and run.wraps:
            print(f"    ! {server} {phase.name}: ran out of prepared requests ({prepared})")
        return run

    @staticmethod
    def replays(phase: Phase, server: str) -> bool:
        """Whether the run may send its prepared requests more than once.

        The bare app does the same work for a repeated request (another row inserted, the
        next queued row claimed); the relay would answer a repeat from what it stored.
        """
        return phase.cycle or server == "bare"

    def collect(self, phase: Phase, capture: Path) -> None:
        bodies = list(read_captured(capture))
        if phase.name == "claim":
            self.claimed += [(b["id"], b["claim_token"], self.owner[b["id"]]) for b in bodies]
        else:
            self.unacked += [b["result_id"] for b in bodies]

    def measure(self, phase: Phase) -> dict[str, Measured]:
        got = self.results.setdefault(phase.name, {"bare": Measured(), "relay": Measured()})
        for server in ("bare", "relay"):
            got[server].warmup = self.one_run(phase, server, self.args.warmup)
        for repeat in range(self.args.repeats):
            for server in ("bare", "relay"):
                run = self.one_run(phase, server, self.args.duration)
                got[server].runs.append(run)
                bad = run.unexpected(phase.expected if server == "relay" else phase.bare_expected)
                print(
                    f"  {self.db} {phase.name:14} {server:5} #{repeat + 1}: "
                    f"{run.rps:7.0f} req/s  p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:7.1f} ms"
                    + (f"  unexpected {bad}" if bad else ""),
                    flush=True,
                )
        return got

    # -- reporting --------------------------------------------------------------------------

    def table(self) -> str:
        rows = []
        for phase in PHASES:
            got = self.results.get(phase.name)
            if not got:
                continue
            relay, bare = got["relay"], got["bare"]
            ratio = relay.rps() / bare.rps() if bare.rps() else 0.0
            verdict = ""
            if phase.target is not None:
                verdict = f"≥ {phase.target:.0%}: " + ("met" if ratio >= phase.target else "MISSED")
            bad = relay.unexpected(phase.expected)
            bare_bad = bare.unexpected(phase.bare_expected)
            flaws = [f"{c}×{n}" for c, n in sorted(bad.items())]
            flaws += [f"bare {c}×{n}" for c, n in sorted(bare_bad.items())]
            if relay.socket_errors() or bare.socket_errors():
                flaws.append(f"socket errors {relay.socket_errors()}/{bare.socket_errors()}")
            if relay.wrapped() and not phase.cycle:
                flaws.append("ran out of prepared requests")
            rows.append(
                [
                    phase.label,
                    with_range(relay),
                    f"{relay.p50():.1f}",
                    f"{relay.p99():.1f}",
                    phase.bare,
                    with_range(bare),
                    f"{bare.p50():.1f}",
                    f"{bare.p99():.1f}",
                    f"**{ratio:.0%}**",
                    verdict,
                    f"{relay.cpu_ms():.2f} / {bare.cpu_ms():.2f}",
                    ", ".join(flaws) or "none",
                ]
            )
        return markdown_table(
            [
                "request",
                "relay req/s (range)",
                "p50 ms",
                "p99 ms",
                "bare reference",
                "bare req/s (range)",
                "p50 ms",
                "p99 ms",
                "relay ÷ bare",
                "target",
                "worker CPU ms per request, relay / bare",
                "unexpected statuses",
            ],
            rows,
        )

    def wrk_cpu(self) -> float:
        return max(
            (m.wrk_cpu() for got in self.results.values() for m in got.values()), default=0.0
        )

    def bare_rates(self, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
        """The bare stack's rates and worker CPU-ms per request for the full cycle's limit.

        Measured right before the cycle: on a shared machine the load drifts within minutes;
        bare rates taken from the hot-path medians could be measured under another load than
        the cycle runs under.
        """
        names = {"hello": "inbox-304", "read": "inbox-changed", "insert": "push", "claim": "claim"}
        by_name = {p.name: p for p in PHASES}
        rates, cpu_ms = {}, {}
        for key, phase in names.items():
            self.results.setdefault(phase, {"bare": Measured(), "relay": Measured()})
            run = self.one_run(by_name[phase], "bare", seconds)
            rates[key], cpu_ms[key] = run.rps, run.cpu_ms_per_request
        return rates, cpu_ms


def result_like() -> dict[str, Any]:
    """A body the size of one result in the feed (declared vs actual, 20 lines)."""
    return {
        "external_id": "ЗаказПоставщику-0000-000123",
        "business_process": PROCESS,
        "result_document_type": "Приобретение товаров и услуг",
        "completed_by": {"login": None, "device_id": str(uuid.uuid4()), "pin": "5546"},
        "header": {"comment": "bench"},
        "lines": [
            {
                "line_id": str(n),
                "product_id": f"p-{n:03}",
                "declared_qty": 10,
                "actual_qty": 10,
                "actual": [{"qty": 10}],
            }
            for n in range(1, LINES + 1)
        ],
        "undeclared": [],
    }


@contextlib.contextmanager
def servers(db: str, rss: RssSampler) -> Iterator[tuple[LocalRelay, BareServer]]:
    relay_url, bare_url = database_urls(db)
    logs = WORK / db
    relay = start_relay(relay_url, log_path=logs / "relay.log")
    bare = BareServer(bare_url, log_path=logs / "bare.log")
    try:
        bare.start()
        rss.watch(f"relay-{db}", relay.pid)
        rss.watch(f"bare-{db}", bare.pid)
        yield relay, bare
    finally:
        rss.sample()
        rss.masters.pop(f"relay-{db}", None)
        rss.masters.pop(f"bare-{db}", None)
        bare.stop()
        relay.stop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per phase")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--page", type=int, default=100, help="results page size")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated phases: " + ",".join([*PHASE_NAMES, "cycle"]),
    )
    parser.add_argument("--terminals", type=int, default=8, help="terminals in the full cycle")
    parser.add_argument(
        "--cycle-duration", type=float, default=20.0, help="seconds of the measured full cycle"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=0.2, help="a cycle terminal's idle poll interval"
    )
    parser.add_argument(
        "--update-results",
        action="store_true",
        help="write the tables into bench/RESULTS.md (the hotpath and cycle sections)",
    )
    args = parser.parse_args(argv)
    wanted = [x for x in args.only.split(",") if x]
    unknown = set(wanted) - {*PHASE_NAMES, "cycle"}
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    args.phases = wanted or [*PHASE_NAMES, "cycle"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    given = " ".join(sys.argv[1:] if argv is None else argv)
    if os.environ.get("MAKELEVEL"):
        command = f"make bench BENCH_ARGS='{given}'" if given else "make bench"
    else:
        command = f"python -m bench.run {given}".strip()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    rss = RssSampler()
    rss.start()
    hot_tables: list[str] = []
    cycle_rows: list[cycle.CycleResult] = []
    raw: dict[str, Any] = {"machine": machine(), "date": stamp, "command": command}
    try:
        for db in dbs:
            with servers(db, rss) as (relay, bare):
                hot = HotPath(db, relay, bare, args)
                hot.setup()
                phases = [p for p in PHASES if p.name in args.phases]
                for phase in phases:
                    hot.measure(phase)
                rss_relay = rss.peak_mb(f"relay-{db}")
                rss_bare = rss.peak_mb(f"bare-{db}")
                table = hot.table()
                text = (
                    f"**{db_title(db)}** — wrk -t{args.threads} -c{args.connections}, "
                    f"{args.repeats} × {args.duration:g} s per row after {args.warmup:g} s of "
                    f"warm-up; medians (range). Peak RSS per gunicorn worker: relay "
                    f"{fmt_mb(rss_relay)}, bare {fmt_mb(rss_bare)} (target < 150 MB). "
                    f"wrk used at most {hot.wrk_cpu():.0%} of one core.\n\n{table}\n"
                )
                hot_tables.append(text)
                print("\n" + text, flush=True)
                raw[db] = {
                    phase: {server: asdict(m) for server, m in got.items()}
                    for phase, got in hot.results.items()
                }
                if "cycle" in args.phases:
                    bare_rates, bare_cpu_ms = hot.bare_rates(args.duration)
                    result = cycle.run(
                        relay,
                        db=db,
                        bare_rates=bare_rates,
                        bare_cpu_ms=bare_cpu_ms,
                        terminals=args.terminals,
                        seconds=args.cycle_duration,
                        warmup=args.warmup,
                        poll_interval=args.poll_interval,
                        rss=rss,
                    )
                    cycle_rows.append(result)
                    print("\n" + cycle.table([result]), flush=True)
                    raw[db]["cycle"] = asdict(result)
    finally:
        rss.stop()
    elapsed = time.monotonic() - started
    header = (
        f"Machine: {machine()}. Date: {stamp}. Command: `{command}` "
        f"(took {elapsed / 60:.1f} min). Load average (1 min) before the run: {load_before:.2f} "
        f"(the bench's own load is not in it; {os.cpu_count()} cores).\n"
    )
    hot_md = header + "\n" + "\n".join(hot_tables) + "\n" + RATIO_NOTE
    cycle_md = (
        header + "\n" + cycle.table(cycle_rows) + "\n\n" + cycle.FORMULA if cycle_rows else ""
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "hotpath.md").write_text(hot_md, encoding="utf-8")
    if cycle_md:
        (OUT / "cycle.md").write_text(cycle_md, encoding="utf-8")
    (OUT / "results.json").write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
    print(f"\nDone in {elapsed / 60:.1f} min; tables in {OUT}/hotpath.md and cycle.md.")
    for row in cycle_rows:
        print("Cost per document — " + cycle.headline(row))
    if args.update_results:
        if hot_tables:
            replace_section("hotpath", hot_md)
        if cycle_md:
            replace_section("cycle", cycle_md)
    return 0


RATIO_NOTE = (
    "Bare references: *hello* is a JSON answer with no database; *read N rows* selects N rows "
    "and returns their JSON bodies (10 small rows for the inbox, a page of result-sized rows "
    "for the results page); *insert + commit* stores the posted body as one row; *SKIP LOCKED "
    "claim* claims the oldest queued row of one target (`FOR UPDATE SKIP LOCKED` with an index "
    "on (target, status, id) on PostgreSQL, `BEGIN IMMEDIATE` on SQLite). Every relay write is "
    "distinct: a new `external_id` per push, another queued instance per claim (16 devices), "
    "the claimed instances with their claim tokens per complete, another result per ack. "
    "*Unexpected statuses* counts every answer other than the one the request should get "
    "(warm-up included): a fast error is not a fast request.\n"
)


def with_range(measured: Measured) -> str:
    spread_ = measured.rps_range()
    return f"{measured.rps():.0f} ({spread_})" if spread_ else f"{measured.rps():.0f}"


def db_title(db: str) -> str:
    return {"sqlite": "SQLite (WAL)", "postgres": "PostgreSQL"}[db]


def fmt_mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


def replace_section(name: str, text: str) -> None:
    """Put ``text`` between the ``name`` markers of bench/RESULTS.md (and nothing else)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    current = RESULTS_MD.read_text(encoding="utf-8")
    before, rest = current.split(start, 1)
    _, after = rest.split(end, 1)
    RESULTS_MD.write_text(f"{before}{start}\n{text.strip()}\n{end}{after}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())

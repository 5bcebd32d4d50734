"""What the benchmarks share: databases, the two servers, seeding, wrk, RSS sampling.

The relay runs through its real ``relay serve`` (``relay.client.tools.localserver``); the
bare app (:mod:`bench.bare_app`) runs through gunicorn with ``config/gunicorn.conf.py``, which
takes the same options from the same function (:func:`relay.serve.gunicorn_options`): sync
workers, the same count, time-outs, keep-alive and access log. Load comes from ``wrk`` in its
own process, replaying prepared requests (``bench/wrk/replay.lua``) so that each request does
distinct work.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

from relay.client import AccountingClient, AdminClient, TerminalClient
from relay.client.tools.localserver import LocalRelay, free_port

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
# Working files of bench.run (databases, logs, prepared requests), apart from other benches'.
WORK = OUT / "run"
WRK_SCRIPT = ROOT / "bench" / "wrk" / "replay.lua"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
# Databases of our own: never `test`, which the suite and CI use. RELAY_BENCH_PG_DB names
# another, so benches run side by side on one server do not drop each other's database.
PG_RELAY_DB = os.environ.get("RELAY_BENCH_PG_DB") or "relay_bench"
PG_BARE_DB = f"{PG_RELAY_DB}_bare"
WORKERS = 2
LINES = 20
PROCESS = "purchase-receipt"


# -- databases -----------------------------------------------------------------------------


def recreate_pg(name: str) -> str:
    """Drop and create the PostgreSQL database ``name``; return its SQLAlchemy URL."""
    import psycopg

    if name in ("test", "postgres", "template0", "template1"):
        raise ValueError(f"refusing to recreate database {name!r}")
    with psycopg.connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_SERVER}/{name}"


def fresh_sqlite(name: str) -> str:
    """A new SQLite file under bench/out/ (and its WAL files removed); return its URL."""
    path = WORK / f"{name}.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()
    return f"sqlite:///{path}"


def database_urls(kind: str) -> tuple[str, str]:
    """Fresh (relay, bare) database URLs for ``sqlite`` or ``postgres``."""
    if kind == "sqlite":
        return fresh_sqlite("relay"), fresh_sqlite("bare")
    return recreate_pg(PG_RELAY_DB), recreate_pg(PG_BARE_DB)


# -- the bare server -----------------------------------------------------------------------


class BareServer:
    """``gunicorn -c config/gunicorn.conf.py 'bench.bare_app:create_app()'`` on a free port."""

    def __init__(self, database_url: str, *, log_path: Path, workers: int = WORKERS) -> None:
        self.database_url = database_url
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 30) -> None:
        from bench.bare_app import init_db

        init_db(self.database_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        env |= {
            "RELAY_BIND": f"127.0.0.1:{self.port}",
            "RELAY_WORKERS": str(self.workers),
            "BARE_DATABASE_URL": self.database_url,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("gunicorn")),
                    "-c",
                    str(ROOT / "config" / "gunicorn.conf.py"),
                    "bench.bare_app:create_app()",
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the bare app exited; see {self.log_path}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/hello", timeout=2).ok:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the bare app did not start; see {self.log_path}")
            time.sleep(0.1)

    def stop(self, grace: float = 10) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def seed(self, target: str, count: int, body: Mapping[str, Any] | None = None) -> None:
        """Insert ``count`` queued rows for ``target`` (in chunks; not timed)."""
        with requests.Session() as session:
            while count > 0:
                chunk = min(count, 2000)
                answer = session.post(
                    f"{self.url}/seed",
                    params={"target": target, "count": chunk},
                    json=body or {},
                    timeout=120,
                )
                answer.raise_for_status()
                count -= chunk


# -- the relay and what it is seeded with ---------------------------------------------------


@dataclass(frozen=True)
class Device:
    device_id: str
    pin: str
    token: str


def start_relay(database_url: str, *, log_path: Path, workers: int = WORKERS) -> LocalRelay:
    """Migrate, then serve the relay with ``relay serve``; the caller stops it."""
    relay = LocalRelay(database_url, log_path=log_path, workers=workers)
    relay.migrate()
    relay.start()
    return relay


@dataclass
class Tenant:
    """A tenant on a running relay, with its keys and enrolled terminals."""

    relay: LocalRelay
    name: str
    admin_key: str
    accounting_key: str
    devices: list[Device] = field(default_factory=list)

    @classmethod
    def create(cls, relay: LocalRelay, name: str) -> Tenant:
        keys = relay.create_tenant(name)
        return cls(relay, name, keys["admin_key"], keys["accounting_key"])

    def enroll(self, count: int, prefix: str) -> list[Device]:
        """Enroll ``count`` terminals with one code; return them."""
        with AdminClient(self.relay.url, self.admin_key) as admin:
            code = admin.create_enrollment_code(uses=count)["code"]
        out = []
        for n in range(count):
            client, enrolled = TerminalClient.enroll(
                self.relay.url, code, name=f"{prefix}-{n}", model="bench", serial=f"{prefix}{n}"
            )
            client.close()
            out.append(Device(enrolled.device_id, enrolled.pin, enrolled.token))
        self.devices += out
        return out

    def push_many(self, device: Device, count: int, *, prefix: str, batch: int = 250) -> list[str]:
        """Push ``count`` documents to ``device`` in batches; return their instance ids."""
        ids: list[str] = []
        with AccountingClient(self.relay.url, self.accounting_key) as accounting:
            for start in range(0, count, batch):
                docs = [document(f"{prefix}-{n}") for n in range(start, min(count, start + batch))]
                answer = accounting.push(PROCESS, docs, target={"pin": device.pin})
                ids += [d["instances"][0]["id"] for d in answer["documents"]]
        return ids

    def inbox_etag(self, device: Device) -> str:
        answer = requests.get(
            f"{self.relay.url}/api/v1/terminal/documents",
            headers={"Authorization": f"Bearer {device.token}"},
            timeout=30,
        )
        answer.raise_for_status()
        return answer.headers["ETag"]


def document(external_id: str, lines: int = LINES) -> dict[str, Any]:
    """A supplier order with ``lines`` declared lines (about what a delivery carries)."""
    return {
        "external_id": external_id,
        "number": external_id[-11:],
        "date": "2026-11-20",
        "header": {"warehouse": "Основной склад", "counterparty": "ООО Ромашка"},
        "lines": [
            {
                "line_id": str(n),
                "product_id": f"p-{n:03}",
                "name": f"Товар № {n}",
                "barcode": f"46012345{n:05}",
                "unit": "шт",
                "declared_qty": 10,
            }
            for n in range(1, lines + 1)
        ],
    }


def completion(claim_token: str, lines: int = LINES) -> dict[str, Any]:
    """A completion of :func:`document`: every line scanned in full."""
    return {
        "submission_id": str(uuid.uuid4()),
        "claim_token": claim_token,
        "close": True,
        "header": {"comment": "bench"},
        "lines": [{"line_id": str(n), "qty": 10} for n in range(1, lines + 1)],
    }


# -- wrk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    """One prepared request: method, path, headers and an optional JSON body."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None

    def line(self) -> str:
        headers = "|".join(f"{k}: {v}" for k, v in self.headers.items())
        body = "" if self.body is None else dumps(self.body)
        if self.body is not None:
            headers = "|".join(filter(None, [headers, "Content-Type: application/json"]))
        for part in (self.path, headers, body):
            if "\t" in part or "\n" in part:
                raise ValueError("a prepared request may hold no tab or newline")
        return f"{self.method}\t{self.path}\t{headers}\t{body}"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def write_requests(path: Path, reqs: Iterable[Req]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for req in reqs:
            out.write(req.line() + "\n")
            n += 1
    if n == 0:
        raise ValueError("no requests to replay")
    return n


@dataclass
class WrkRun:
    """What one wrk run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    wraps: int
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    wrk_cpu_s: float
    prepared: int
    # CPU seconds the server's gunicorn workers used during the run (set by the caller).
    server_cpu_s: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_s * 1000 / self.requests if self.requests else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def unexpected(self, expected: Sequence[int]) -> dict[int, int]:
        return {code: n for code, n in self.statuses.items() if code not in expected}

    def ok(self, expected: Sequence[int]) -> int:
        return sum(n for code, n in self.statuses.items() if code in expected)


def run_wrk(
    base_url: str,
    requests_file: Path,
    seconds: float,
    *,
    threads: int = 2,
    connections: int = 16,
    capture: Path | None = None,
    prepared: int = 0,
) -> WrkRun:
    """Replay ``requests_file`` against ``base_url`` for ``seconds`` with wrk."""
    env = dict(os.environ)
    env["BENCH_REQUESTS"] = str(requests_file)
    env["BENCH_THREADS"] = str(threads)
    env["BENCH_CAPTURE"] = str(capture) if capture else ""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(WRK_SCRIPT),
            base_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 120,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}\n{done.stdout}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return WrkRun(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        wraps=data["wraps"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        socket_errors=data["socket_errors"],
        wrk_cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        prepared=prepared,
    )


def read_captured(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


# -- RSS -----------------------------------------------------------------------------------


class RssSampler:
    """Sample the resident memory of each gunicorn worker under given masters, in a thread."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.masters: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def watch(self, name: str, master_pid: int | None) -> None:
        if master_pid is not None:
            self.masters[name] = master_pid

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        for name, pid in list(self.masters.items()):
            try:
                workers = psutil.Process(pid).children()
            except psutil.NoSuchProcess:
                continue
            for worker in workers:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    rss = worker.memory_info().rss
                    self.peak[name] = max(self.peak.get(name, 0), rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def peak_mb(self, name: str) -> float | None:
        value = self.peak.get(name)
        return None if value is None else value / 2**20


def worker_cpu_seconds(master_pid: int | None) -> float:
    """CPU seconds (user + system) used so far by the workers of a gunicorn master."""
    if master_pid is None:
        return 0.0
    total = 0.0
    with contextlib.suppress(psutil.NoSuchProcess):
        for worker in psutil.Process(master_pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                times = worker.cpu_times()
                total += times.user + times.system
    return total


def database_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend connected to ``database_url``'s database.

    Empty for SQLite (its work is done inside the workers and counted there). The backends are
    found in ``pg_stat_activity`` and read from /proc, so the bench must run on the database's
    machine as a user that may read them (root, or the postgres user).
    """
    if not database_url.startswith("postgresql"):
        return {}
    import psycopg

    name = database_url.rsplit("/", 1)[-1]
    with psycopg.connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True
    ) as conn:
        pids = [
            row[0]
            for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        ]
    used = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            used[pid] = times.user + times.system
    return used


def cpu_between(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """CPU seconds the processes of ``after`` used since ``before`` (new ones from zero)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# -- reporting -----------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def spread(values: Sequence[float]) -> str:
    """The range of repeated figures, e.g. ``612–640``."""
    if len(values) < 2:
        return ""
    return f"{min(values):.0f}–{max(values):.0f}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """``N cores, <model name>`` from nproc and lscpu."""
    model = "unknown CPU"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    return f"{len(os.sched_getaffinity(0))} cores (nproc), {model}"

"""Subprocesses for the tests: the installed `relay` command and a real gunicorn server."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def relay_env(database_url: str, instance_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `relay` subprocess: this venv first, and only the RELAY_* given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["RELAY_DATABASE_URL"] = database_url
    env["RELAY_INSTANCE_PATH"] = str(instance_path)
    env.update(extra)
    return env


def run_relay(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the installed `relay` command; fail with its output when it fails."""
    done = subprocess.run(
        [str(VENV_BIN / "relay"), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"relay {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - the group id was reused by someone else
        return True
    return True


def children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


class LiveServer:
    """A `relay serve` (gunicorn, sync workers) in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 30) -> None:
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "relay"),
                "serve",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"relay serve exited early:\n{self.log()}")
            with (
                contextlib.suppress(requests.RequestException),
                requests.get(f"{self.url}/healthz", timeout=1) as response,
            ):
                if response.status_code == 200 and self._workers_up():
                    return
            time.sleep(0.1)
        raise AssertionError(f"relay serve did not answer /healthz in {timeout} s:\n{self.log()}")

    def _workers_up(self) -> bool:
        assert self.proc is not None
        return len(children_of(self.proc.pid)) >= self.workers

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then kill the process group; leave nothing behind."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the master leads its own group
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(pgid, signal.SIGKILL)
                    self.proc.wait(timeout=5)
            deadline = time.monotonic() + 10
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
                raise AssertionError("gunicorn workers outlived their master")
        finally:
            if self._log is not None:
                self._log.close()
            self.proc = None


@contextlib.contextmanager
def live_server(env: dict[str, str], log_path: Path, workers: int = 2) -> Iterator[LiveServer]:
    server = LiveServer(env, log_path, workers)
    try:
        server.start()
        yield server
    finally:
        server.stop()

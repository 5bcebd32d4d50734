"""A throwaway relay on 127.0.0.1, started with the real CLI and always stopped.

`make demo` and the end-to-end tests run the relay exactly as an operator would: ``relay db
upgrade``, ``relay tenant create --json``, ``relay serve`` (gunicorn). The server runs in its
own process group, so stopping it stops gunicorn's workers too, and nothing is left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import requests


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def relay_command() -> str:
    """The ``relay`` console script of this environment."""
    beside = Path(sys.executable).with_name("relay")
    if beside.exists():
        return str(beside)
    found = shutil.which("relay")
    if found is None:
        raise RuntimeError("The `relay` command is not installed; run `make install`.")
    return found


class LocalRelay:
    """``relay serve`` on a free 127.0.0.1 port against ``database_url``, and its CLI."""

    def __init__(
        self,
        database_url: str,
        *,
        log_path: str | Path,
        workers: int = 2,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.log_path = Path(log_path)
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RELAY_")},
            "RELAY_DATABASE_URL": database_url,
            **(env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- the CLI ---------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run ``relay ARGS…`` against this relay's database; return what it printed."""
        done = subprocess.run(  # noqa: S603 - our own console script, fixed arguments
            [relay_command(), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"relay {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}"
            )
        return done.stdout

    def migrate(self) -> None:
        """Apply the migrations (``relay db upgrade``)."""
        self.cli("db", "upgrade")

    def create_tenant(self, name: str) -> dict[str, Any]:
        """Create a tenant; return its name, admin key and accounting key."""
        created: dict[str, Any] = json.loads(self.cli("tenant", "create", name, "--json"))
        return created

    # -- the server ------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        """Start gunicorn and wait until the relay answers ``/readyz``."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - our own console script
            [
                relay_command(),
                "serve",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        with requests.Session() as session:
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"relay serve exited with {self._process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if session.get(self.url + "/readyz", timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"relay serve did not answer within {timeout:.0f} s:\n{self.log_tail()}"
                    )
                time.sleep(0.1)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self, grace: float = 10.0) -> None:
        """Stop gunicorn and its workers (TERM, then KILL after ``grace`` seconds)."""
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    process.wait(grace)
                except subprocess.TimeoutExpired:
                    _signal_group(process.pid, signal.SIGKILL)
                    process.wait()
            elif process is not None:
                # The master is gone; make sure no orphaned worker of its group lingers.
                _signal_group(process.pid, signal.SIGKILL)
                deadline = time.monotonic() + grace
                while group_alive(process.pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def group_alive(pgid: int | None) -> bool:
    """Whether a process of the process group ``pgid`` is still running (zombies aside)."""
    if pgid is None:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            return True
    return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)

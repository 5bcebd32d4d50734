"""A chaos thread that SIGKILLs gunicorn's workers (the master's children) mid-request."""

import os
import random
import signal
import threading
import time
from pathlib import Path

import psutil

from tests.serving import children_of


def live_children(pid: int) -> list[int]:
    """The master's children that are running (a killed worker is a zombie until reaped)."""
    out = []
    for child in children_of(pid):
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            out.append(child)
    return out


class WorkerKiller:
    """SIGKILL a random busy worker of the gunicorn master ``pid``, then pause ``interval``.

    A worker is busy when it holds an accepted connection on ``port``: the kill lands in the
    middle of a request, and never on a worker still importing the app (it has accepted
    nothing yet), so the relay keeps making progress between the kills.
    """

    def __init__(
        self, pid: int, port: int, *, seed: int = 0, interval: tuple[float, float] = (0.4, 1.0)
    ) -> None:
        self.pid = pid
        self.port = port
        self.rng = random.Random(seed)
        self.interval = interval
        self.initial = set(live_children(pid))
        self.seen = set(self.initial)
        self.killed: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="killer", daemon=True)

    def busy(self) -> list[int]:
        """Workers holding an accepted connection, i.e. serving a request right now."""
        out = []
        for worker in live_children(self.pid):
            self.seen.add(worker)
            try:
                connections = psutil.Process(worker).net_connections(kind="tcp")
            except psutil.Error:
                continue
            if any(
                c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == self.port
                for c in connections
            ):
                out.append(worker)
        return out

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.rng.uniform(*self.interval)):
            while not self._stop.is_set():
                busy = self.busy()
                if busy:
                    victim = self.rng.choice(busy)
                    try:
                        os.kill(victim, signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                    self.killed.append(victim)
                    break
                self._stop.wait(0.01)

    def wait_respawned(self, count: int, timeout: float = 30.0) -> list[int]:
        """Wait until the master runs ``count`` workers again, none of them a killed one."""
        deadline = time.monotonic() + timeout
        while True:
            pids = sorted(live_children(self.pid))
            self.seen.update(pids)
            if len(pids) == count and not set(pids) & set(self.killed):
                return pids
            if time.monotonic() > deadline:
                raise AssertionError(f"gunicorn runs {pids} {timeout} s after the last kill")
            time.sleep(0.05)

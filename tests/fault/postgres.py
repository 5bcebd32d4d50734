"""A private, throwaway PostgreSQL cluster to restart under load (never the shared server)."""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from relay.client.tools.localserver import free_port


def server_binaries() -> Path | None:
    """The newest PostgreSQL server bin directory with initdb and pg_ctl, if installed."""
    found = [
        Path(d)
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()
    ]
    if not found:
        on_path = shutil.which("pg_ctl")
        if on_path and (Path(on_path).parent / "initdb").exists():
            return Path(on_path).parent
        return None
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


class PrivateCluster:
    """initdb in a temporary directory and `pg_ctl start` on a free port on 127.0.0.1.

    As root, PostgreSQL refuses to run: the cluster then belongs to the ``postgres`` user and
    every command runs through ``runuser``.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="relay-fault-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args)

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        # fsync off: a throwaway cluster on a shared disk; a crash of the server process (what
        # the test does) loses nothing without it, only a crash of the machine would.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100"
        )
        self._pg_ctl("-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop and start again with the same options (pg_ctl keeps them)."""
        self._pg_ctl("-m", mode, "-w", "-t", "60", "restart")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        """Stop the cluster however it is (immediate, then SIGKILL) and delete its files."""
        try:
            if self.running():
                with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                    self.stop("immediate")
            pidfile = self.data / "postmaster.pid"
            if pidfile.exists():
                with contextlib.suppress(ValueError, OSError, IndexError):
                    pid = int(pidfile.read_text().split()[0])
                    os.kill(pid, signal.SIGKILL)
                    deadline = time.monotonic() + 10
                    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                        time.sleep(0.05)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_cluster(bindir: Path) -> Iterator[PrivateCluster]:
    cluster = PrivateCluster(bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()

"""Fixtures for delivery tests: the worker in this process, and `relay worker` subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from relay.worker import Worker
from tests.conftest import WEBHOOK_TEST_CONFIG
from tests.receiver import wait_for

RELAY = str(Path(sys.executable).with_name("relay"))


def run_until(app: Flask, done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Run worker passes in this process until ``done()`` (checked in an app context)."""
    worker = Worker(app, "test-worker")
    deadline = time.monotonic() + timeout
    with app.app_context():
        while True:
            worker.run(once=True)
            if done():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {done}")
            time.sleep(0.05)


class WorkerProcess:
    """A `relay worker` subprocess whose log goes to a file."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_started(self, timeout: float = 30.0) -> None:
        wait_for(lambda: "started" in self.output() or self.proc.poll() is not None, timeout)
        assert self.proc.poll() is None, self.output()

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout)


@pytest.fixture
def spawn(database_url: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `relay worker` processes on the test database; none outlives the test."""
    started: list[WorkerProcess] = []

    def start(worker_id: str, **config: Any) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        env["RELAY_DATABASE_URL"] = database_url
        for name, value in {**WEBHOOK_TEST_CONFIG, **config}.items():
            env[f"RELAY_{name}"] = json.dumps(value)
        log = tmp_path / f"{worker_id}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [RELAY, "worker", "--id", worker_id],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        process = WorkerProcess(proc, log)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.proc.send_signal(signal.SIGKILL)
        process.proc.wait(10)

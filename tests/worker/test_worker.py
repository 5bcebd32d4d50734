"""The worker loop in this process: stopping, idling, and riding out database errors."""

import signal
import threading

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from relay import worker as worker_module
from relay.worker import Worker


def test_a_stop_request_ends_an_idle_loop(app_ctx: Flask) -> None:
    worker = Worker(app_ctx)
    assert ":" in worker.id
    timer = threading.Timer(0.2, worker.stop, args=(signal.SIGTERM, None))
    timer.start()
    try:
        worker.run()
    finally:
        timer.cancel()
    assert worker.stopping


def test_a_database_error_is_logged_and_the_loop_carries_on(
    app_ctx: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = Worker(app_ctx, "w1")
    worker.poll_seconds = 0.01
    calls = []

    def flaky(session: object) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        worker.stop(signal.SIGINT)
        return 0

    monkeypatch.setattr(worker, "run_pass", flaky)
    monkeypatch.setattr(worker_module, "ERROR_BACKOFF_POLLS", 1)
    worker.run()
    assert len(calls) == 2


def test_signal_handlers_are_the_stop_request(app_ctx: Flask) -> None:
    worker = Worker(app_ctx, "w1")
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.install_signal_handlers()
        assert signal.getsignal(signal.SIGTERM) == worker.stop
        assert signal.getsignal(signal.SIGINT) == worker.stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

"""The throwaway relay of the demo and the e2e suite never leaves a process behind."""

import os
import signal
import time
from pathlib import Path

import pytest

from relay.client.tools.localserver import LocalRelay, group_alive


@pytest.fixture
def relay(tmp_path: Path) -> LocalRelay:
    made = LocalRelay(f"sqlite:///{tmp_path / 'relay.sqlite3'}", log_path=tmp_path / "relay.log")
    made.migrate()
    return made


def test_a_failing_command_says_why(tmp_path: Path) -> None:
    broken = LocalRelay("sqlite:////nonexistent/dir/relay.sqlite3", log_path=tmp_path / "log")
    with pytest.raises(RuntimeError, match="relay db upgrade failed"):
        broken.migrate()


def test_a_relay_that_does_not_come_up_is_stopped(relay: LocalRelay) -> None:
    with pytest.raises(RuntimeError, match="did not answer within"):
        relay.start(timeout=0)
    assert not relay.running
    assert relay.pid is None


def test_workers_orphaned_by_a_dead_master_are_stopped_too(relay: LocalRelay) -> None:
    relay.start()
    pid = relay.pid
    assert pid is not None
    assert relay.running
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while relay.running and time.monotonic() < deadline:
        time.sleep(0.05)
    relay.stop()
    assert not group_alive(pid)
    assert "Booting worker" in relay.log_tail()
    assert not group_alive(None)

"""A backup taken while a real gunicorn takes pushes and completions restores with nothing lost."""

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from relay.client import AccountingClient, AdminClient, TerminalClient
from tests.conftest import ON_POSTGRES, PG_URL
from tests.e2e.conftest import FAST
from tests.helpers import doc
from tests.serving import VENV_BIN, LiveServer, live_server, relay_env, run_relay


@pytest.fixture
def restore_url(tmp_path: Path) -> Iterator[str]:
    """An empty database to restore into: a new SQLite file, or a new PostgreSQL database."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    url = make_url(PG_URL)
    target = url.set(database=f"{url.database}_bk_load")
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{target.database}"')
    try:
        yield target.render_as_string(False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


class Load:
    """One accounting pusher and one completing thread per terminal, recording what was acked."""

    def __init__(self, url: str, accounting_key: str, terminals: list[TerminalClient]) -> None:
        self.url = url
        self.accounting_key = accounting_key
        self.terminals = terminals
        self.pins: list[str] = []
        self.pushed: list[str] = []
        self.results: list[str] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._guard, args=(self._push,))]
        self.threads += [
            threading.Thread(target=self._guard, args=(lambda t=t: self._complete(t),))
            for t in self.terminals
        ]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not self.errors, self.errors

    def _guard(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as err:  # reported by finish()
            self.errors.append(err)

    def _push(self) -> None:
        with AccountingClient(self.url, self.accounting_key, retry=FAST) as accounting:
            n = 0
            while not self.stop.is_set() and n < 2000:
                external_id = f"LOAD-{n:05d}"
                pin = self.pins[n % len(self.pins)]
                accounting.push("purchase-receipt", [doc(external_id)], target={"pin": pin})
                self.pushed.append(external_id)  # acknowledged: the push answered 201
                n += 1

    def _complete(self, terminal: TerminalClient) -> None:
        while not self.stop.is_set():
            waiting = [d for d in terminal.inbox() if not d.get("claimed_by_me")]
            if not waiting:
                time.sleep(0.02)
                continue
            instance = waiting[0]["id"]
            terminal.claim(instance)
            answer = terminal.complete(instance, [{"line_id": "1", "qty": 7}])
            self.results.append(str(answer["result_id"]))


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the load did not get going"
        time.sleep(0.05)


def test_a_backup_under_load_restores_with_nothing_lost(
    server: LiveServer, server_env: dict[str, str], restore_url: str, tmp_path: Path
) -> None:
    keys = json.loads(run_relay(["tenant", "create", "backup-load", "--json"], server_env).stdout)
    with AdminClient(server.url, keys["admin_key"], retry=FAST) as admin:
        codes = [admin.create_enrollment_code()["code"] for _ in range(2)]
    enrolled = [
        TerminalClient.enroll(server.url, c, name=f"T{i}", retry=FAST) for i, c in enumerate(codes)
    ]
    load = Load(server.url, keys["accounting_key"], [t for t, _ in enrolled])
    load.pins = [e.pin for _, e in enrolled]
    load.start()
    try:
        wait_for(lambda: len(load.results) >= 10)
        # Everything acknowledged before the backup starts must be in it.
        pushed_before = list(load.pushed)
        results_before = list(load.results)
        dump = tmp_path / "under-load.backup"
        subprocess.run(
            [str(VENV_BIN / "relay"), "backup", str(dump)],
            env=server_env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        # The load went on during the backup, and goes on a little after it.
        count_after_backup = len(load.results)
        wait_for(lambda: len(load.results) > count_after_backup + 3)
    finally:
        load.finish()
        for terminal, _ in enrolled:
            terminal.close()
    assert len(load.pushed) > len(pushed_before)

    restored_env = relay_env(restore_url, tmp_path / "restored-instance")
    (tmp_path / "restored-instance").mkdir()
    run_relay(["restore", str(dump)], restored_env)
    with (
        live_server(restored_env, tmp_path / "restored.log", workers=1) as restored,
        AccountingClient(restored.url, keys["accounting_key"], retry=FAST) as there,
        AccountingClient(server.url, keys["accounting_key"], retry=FAST) as here,
    ):
        stored = {d["external_id"] for d in there.documents(business_process="purchase-receipt")}
        assert set(pushed_before) <= stored
        for result_id in results_before:
            assert there.result(result_id) == here.result(result_id)
        # The restored relay works: it takes a push.
        assert there.push("purchase-receipt", [doc("AFTER-RESTORE")], target={"pin": load.pins[0]})

"""Running it for real: metrics over two gunicorn workers, JSON logs, waitress."""

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from relay.client import AccountingClient, AdminClient, TerminalClient
from tests.api.test_observe import sample
from tests.e2e.conftest import FAST
from tests.helpers import doc
from tests.serving import VENV_BIN, LiveServer, children_of, free_port, run_relay


def cycle(url: str, env: dict[str, str], tenant: str) -> list[str]:
    """Tenant, user, terminal, login, push, claim, complete, pull, ack; return the secrets used."""
    keys = json.loads(run_relay(["tenant", "create", tenant, "--json"], env).stdout)
    password = f"pw-{uuid.uuid4().hex}"
    wrong = f"wrong-{uuid.uuid4().hex}"
    with (
        AdminClient(url, keys["admin_key"], retry=FAST) as admin,
        AccountingClient(url, keys["accounting_key"], retry=FAST) as accounting,
    ):
        admin.create_user("ivanov", password, name="Иванов")
        code = admin.create_enrollment_code()["code"]
        terminal, enrolled = TerminalClient.enroll(url, code, name="Склад-1", retry=FAST)
        with terminal:
            with pytest.raises(Exception, match=r"password|login|credentials"):
                terminal.login("ivanov", wrong)
            operator, session = terminal.login("ivanov", password)
            with operator:
                accounting.push("purchase-receipt", [doc("ЗП-1")], target={"pin": enrolled.pin})
                instance = terminal.inbox()[0]["id"]
                claim_token = terminal.claim(instance)
                terminal.complete(instance, [{"line_id": "1", "qty": 10}])
            results = list(accounting.results())
            assert [r["external_id"] for r in results] == ["ЗП-1"]
            accounting.ack([results[0]["id"]])
    return [
        keys["admin_key"],
        keys["accounting_key"],
        code,
        enrolled.token,
        password,
        wrong,
        session["session_token"],
        claim_token,
    ]


def json_lines(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)  # fails the test on any line that is not JSON


def test_metrics_add_up_over_two_gunicorn_workers(server: LiveServer) -> None:
    sent = 60
    barrier = threading.Barrier(6)

    def hit(n: int) -> None:
        barrier.wait()
        for _ in range(n):
            assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200

    threads = [threading.Thread(target=hit, args=(sent // 6,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # Both workers answered (each access line names its process) ...
    pids = {
        line["process"]
        for line in json_lines(server.log())
        if line.get("logger") == "gunicorn.access" and line.get("path") == "/readyz"
    }
    assert len(pids) == 2, pids
    # ... and every scrape, whichever worker answers it, counts them all.
    assert_counted(server, sent)

    # A worker that exits (here: told to) keeps its counts in the sum, and its replacement
    # counts on into the same folder.
    assert server.proc is not None
    old = set(children_of(server.proc.pid))
    os.kill(next(iter(old)), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while len(set(children_of(server.proc.pid)) - old) < 1 or len(children_of(server.proc.pid)) < 2:
        assert time.monotonic() < deadline, "gunicorn did not replace the worker"
        time.sleep(0.1)
    for _ in range(10):
        assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
    assert_counted(server, sent + 10)


def assert_counted(server: LiveServer, sent: int) -> None:
    for _ in range(6):
        page = requests.get(f"{server.url}/metrics", timeout=10)
        assert page.status_code == 200
        labels = {"endpoint": "health.Readyz", "method": "GET", "status": "200"}
        assert sample(page.text, "relay_http_requests_total", **labels) == sent
        count = sample(
            page.text, "relay_http_request_duration_seconds_count", endpoint="health.Readyz"
        )
        assert count == sent


def test_every_log_line_is_json_with_a_request_id_and_no_secret(
    server: LiveServer, server_env: dict[str, str]
) -> None:
    secrets = cycle(server.url, server_env, f"logs-{uuid.uuid4().hex[:6]}")
    given = requests.get(f"{server.url}/healthz", headers={"X-Request-ID": "trace-me-1"}, timeout=5)
    assert given.headers["X-Request-ID"] == "trace-me-1"
    worker = subprocess.run(
        [str(VENV_BIN / "relay"), "worker", "--once"],
        env=server_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    time.sleep(0.5)  # the access line is written after the answer is sent
    log = server.log() + worker.stderr
    lines = list(json_lines(log))
    assert all("request_id" in line for line in lines)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert len(access) >= 10
    assert all(len(line["request_id"] or "") >= 8 for line in access)
    assert any(line["request_id"] == "trace-me-1" for line in access)
    assert any(line["logger"] == "relay.worker" for line in lines)
    for secret in secrets:
        assert secret not in log


@pytest.fixture
def waitress_server(server_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log_path = tmp_path / "waitress.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                str(VENV_BIN / "relay"),
                "serve",
                "--server",
                "waitress",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            yield url, log_path
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def test_waitress_serves_the_cycle_with_json_access_lines(
    waitress_server: tuple[str, Path], server_env: dict[str, str]
) -> None:
    url, log_path = waitress_server
    answer = requests.get(f"{url}/healthz", timeout=5)
    assert answer.headers["Server"] == "waitress"
    secrets = cycle(url, server_env, f"waitress-{uuid.uuid4().hex[:6]}")
    time.sleep(0.3)
    log = log_path.read_text()
    lines = list(json_lines(log))
    access = [line for line in lines if line["logger"] == "relay.access"]
    assert any(line["path"] == "/api/v1/documents" and line["status"] == 201 for line in access)
    assert all(line["request_id"] for line in access)
    for secret in secrets:
        assert secret not in log

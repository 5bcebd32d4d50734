"""The built wheel, installed in a fresh virtualenv outside the checkout, serves the cycle."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from relay.client import AccountingClient, AdminClient, TerminalClient
from tests.e2e.conftest import FAST
from tests.helpers import doc
from tests.serving import REPO_ROOT, free_port

# Copied to build from: what a source distribution holds (no virtualenv, caches or git).
IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "*.egg-info", "build", "dist", "__pycache__", ".*_cache", "instance", "bench"
)


def clean_env(**extra: str) -> dict[str, str]:
    """No RELAY_* variables, no PYTHONPATH: only what a new user's shell would have."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RELAY_", "PYTHON", "VIRTUAL_ENV", "PROMETHEUS_"))
    }
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the source, install it in a new venv; return its bin/."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=IGNORED)
    env = clean_env()
    wheels = root / "wheels"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(source)],
        root,
        env,
    )
    (wheel,) = wheels.glob("relay-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (REPO_ROOT / "relay" / "business_processes").glob("*.yaml")}
    assert {f"relay/business_processes/{name}" for name in shipped} <= names
    assert {"relay/migrations/env.py", "relay/migrations/alembic.ini"} <= names
    assert "relay/migrations/versions/0001_initial_schema.py" in names
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], root, env)
    run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "-c",
            str(REPO_ROOT / "constraints.txt"),
            str(wheel),
        ],
        root,
        env,
    )
    return venv / "bin"


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`relay db upgrade` then `relay serve` from the installed wheel, in an empty folder."""
    env = clean_env()
    run([str(installed / "relay"), "db", "upgrade"], tmp_path, env)
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(installed / "relay"), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            try:
                if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield url, tmp_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


@pytest.mark.timeout(900)
def test_the_wheel_serves_the_cycle_outside_the_checkout(
    installed: Path, served: tuple[str, Path]
) -> None:
    url, folder = served
    env = clean_env()
    where = run(
        [str(installed / "python"), "-c", "import relay, sys; print(relay.__file__)"], folder, env
    )
    assert str(installed.parent) in where
    assert str(REPO_ROOT) not in where
    assert run([str(installed / "relay"), "--version"], folder, env).startswith("relay 0.")
    checked = run([str(installed / "relay"), "bp", "check"], folder, env)
    assert "purchase-receipt" in checked
    # The SQLite file is in ./instance of the folder the commands ran in, not in the venv.
    assert (folder / "instance" / "relay.sqlite3").is_file()
    assert not list(installed.parent.rglob("relay.sqlite3"))

    keys = json.loads(
        run([str(installed / "relay"), "tenant", "create", "shop", "--json"], folder, env)
    )
    with (
        AdminClient(url, keys["admin_key"], retry=FAST) as admin,
        AccountingClient(url, keys["accounting_key"], retry=FAST) as accounting,
    ):
        code = admin.create_enrollment_code()["code"]
        terminal, enrolled = TerminalClient.enroll(url, code, name="Склад-1", retry=FAST)
        with terminal:
            accounting.push("purchase-receipt", [doc("ЗП-1")], target={"pin": enrolled.pin})
            instance = terminal.inbox()[0]["id"]
            terminal.claim(instance)
            terminal.complete(instance, [{"line_id": "1", "qty": 10}])
        (result,) = accounting.results()
        assert result["external_id"] == "ЗП-1"
        assert accounting.ack([result["id"]])
        assert list(accounting.results()) == []

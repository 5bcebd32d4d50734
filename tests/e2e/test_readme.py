"""The README's walk-through, run exactly as written against a live gunicorn."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.serving import REPO_ROOT, LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

README = REPO_ROOT / "README.md"
BLOCK = re.compile(
    r"<!-- walkthrough:start -->\s*```sh\n(?P<script>.*?)\n```\s*<!-- walkthrough:end -->",
    re.DOTALL,
)


def walkthrough() -> str:
    found = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert len(found) == 1, "README.md needs exactly one ```sh block between the walkthrough marks"
    return str(found[0])


def test_the_walkthrough_block_is_found() -> None:
    script = walkthrough()
    assert "relay tenant create" in script
    assert "/api/v1/results/ack" in script


def test_readme_walkthrough_runs_as_written(
    server: LiveServer, server_env: dict[str, str], tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = {p.name: p.read_bytes() for p in REPO_ROOT.glob("*.json")}
    env = {**server_env, "RELAY": server.url, "TMPDIR": str(scratch), "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough()],
        cwd=REPO_ROOT,  # the script's first line puts "$PWD/.venv/bin" on PATH
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}\nserver:\n{server.log()}"
    assert done.returncode == 0, output
    lines = done.stdout.rstrip("\n").splitlines()
    assert re.search(r"^The terminal's PIN is [1-9]\d{3,}$", done.stdout, re.MULTILINE), output
    assert lines[-1] == '{"results": [], "next": null}', output
    assert re.fullmatch(
        r'\{"processed": \["[0-9a-f-]{36}"\], "already_processed": \[\]\}', lines[-2]
    )
    assert '"actual_qty": 9' in done.stdout, output
    assert server.alive(), server.log()
    # The answers it saves went to a scratch folder (mktemp), not into the repository.
    assert list(scratch.iterdir()), "the walk-through saves its answers in a mktemp folder"
    assert {p.name: p.read_bytes() for p in REPO_ROOT.glob("*.json")} == before

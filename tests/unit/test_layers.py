"""The layer contracts in setup.cfg hold, and a deliberate violation breaks them."""

import shutil
import subprocess
from pathlib import Path

from tests.serving import REPO_ROOT, VENV_BIN


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "lint-imports"), "--config", str(root / "setup.cfg"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layer_contracts_hold() -> None:
    done = lint_imports(REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_domain_importing_the_api_breaks_a_contract(tmp_path: Path) -> None:
    shutil.copytree(REPO_ROOT / "relay", tmp_path / "relay")
    shutil.copy(REPO_ROOT / "setup.cfg", tmp_path / "setup.cfg")
    lines = tmp_path / "relay" / "documents" / "lines.py"
    lines.write_text(lines.read_text() + "\nfrom relay.api import base  # noqa: E402\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert "relay.documents.lines -> relay.api.base" in done.stdout

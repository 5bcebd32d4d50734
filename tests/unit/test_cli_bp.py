"""`relay bp check|export|import`: rule files on the command line."""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from flask import Flask

from relay.cli import cli
from relay.processes import files
from tests.helpers import Client, TenantKeys

SHIPPED = files.SHIPPED_DIR
RELAY = Path(sys.executable).parent / "relay"
# Nothing listens there: a command that touched the database would fail.
NO_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:9/nowhere"


def invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args))


def run_relay(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAY_DATABASE_URL": NO_DATABASE}
    env.pop("RELAY_BUSINESS_PROCESSES_DIR", None)
    return subprocess.run(
        [str(RELAY), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def bad_directory(tmp_path: Path) -> Path:
    directory = tmp_path / "bad"
    shutil.copytree(SHIPPED, directory)
    path = directory / "stock-count.yaml"
    definition = yaml.safe_load(path.read_text(encoding="utf-8"))
    definition["quantity_control"] = "approximately"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    return directory


def test_check_the_shipped_processes(app: Flask) -> None:
    result = invoke(app, "bp", "check")
    assert result.exit_code == 0, result.output
    assert f"6 business processes in {SHIPPED} are valid" in result.output
    assert "transfer-shipment" in result.output
    result = invoke(app, "bp", "check", str(SHIPPED))
    assert result.exit_code == 0, result.output


def test_check_a_bad_directory_names_the_file_and_the_field(app: Flask, tmp_path: Path) -> None:
    directory = bad_directory(tmp_path)
    result = invoke(app, "bp", "check", str(directory))
    assert result.exit_code == 1
    assert f"error: {directory / 'stock-count.yaml'}: field 'quantity_control'" in result.stderr
    assert result.stdout == ""


def test_check_a_loop(app: Flask, tmp_path: Path) -> None:
    directory = tmp_path / "loop"
    shutil.copytree(SHIPPED, directory)
    path = directory / "transfer-receipt.yaml"
    definition = yaml.safe_load(path.read_text(encoding="utf-8"))
    definition["next_business_process"] = "transfer-shipment"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    result = invoke(app, "bp", "check", str(directory))
    assert result.exit_code == 1
    assert "field 'next_business_process'" in result.stderr
    assert "loops" in result.stderr


def test_check_a_missing_directory(app: Flask, tmp_path: Path) -> None:
    result = invoke(app, "bp", "check", str(tmp_path / "missing"))
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_check_needs_no_database(tmp_path: Path) -> None:
    good = run_relay("bp", "check", str(SHIPPED))
    assert good.returncode == 0, good.stderr
    assert "6 business processes" in good.stdout
    default = run_relay("bp", "check")
    assert default.returncode == 0, default.stderr
    directory = bad_directory(tmp_path)
    bad = run_relay("bp", "check", str(directory))
    assert bad.returncode == 1
    assert f"{directory / 'stock-count.yaml'}: field 'quantity_control'" in bad.stderr
    assert "Traceback" not in bad.stderr


def definitions_of(api: Client, tenant: TenantKeys) -> dict[str, dict[str, Any]]:
    listed = api.get("/api/v1/admin/business-processes", tenant.admin_key).json
    return {p["key"]: p for p in listed["business_processes"]}


def test_export_then_import_into_another_tenant(
    app: Flask, api: Client, tenant: TenantKeys, other_tenant: TenantKeys, tmp_path: Path
) -> None:
    api.patch(
        "/api/v1/admin/business-processes/stock-count",
        tenant.admin_key,
        {"keep_merged_document": False, "claim_limit_minutes": 240},
    )
    created = api.put(
        "/api/v1/admin/business-processes/returns",
        tenant.admin_key,
        {
            "key": "returns",
            "name": "Возврат от клиента",
            "source_document_type": "Возврат товаров от клиента",
            "terminal_document_type": "Приёмка возврата",
            "result_document_type": "Возврат товаров от клиента",
            "assign_to": "users",
            "next_business_process": "transfer-shipment",
        },
    )
    assert created.status_code == 200, created.json

    directory = tmp_path / "export"
    exported = invoke(app, "bp", "export", str(directory), "--tenant", tenant.name)
    assert exported.exit_code == 0, exported.output
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        f"{key}.yaml" for key in [*files.load_directory(SHIPPED), "returns"]
    )
    assert "(version 2)" in exported.output
    text = (directory / "stock-count.yaml").read_text(encoding="utf-8")
    assert text.startswith(f"# stock-count, version 2, exported from tenant {tenant.name}\n")
    assert "Инвентаризация товаров" in text

    checked = invoke(app, "bp", "check", str(directory))
    assert checked.exit_code == 0, checked.output

    imported = invoke(app, "bp", "import", str(directory), "--tenant", other_tenant.name)
    assert imported.exit_code == 0, imported.output
    lines = sorted(imported.output.strip().splitlines())
    assert lines == sorted(
        [
            "order-picking: unchanged",
            "price-check: unchanged",
            "purchase-receipt: unchanged",
            "returns: created",
            "stock-count: updated",
            "transfer-receipt: unchanged",
            "transfer-shipment: unchanged",
        ]
    )
    ours, theirs = definitions_of(api, tenant), definitions_of(api, other_tenant)
    same = ("version", "updated_at")
    assert {k: {f: x for f, x in v.items() if f not in same} for k, v in theirs.items()} == {
        k: {f: x for f, x in v.items() if f not in same} for k, v in ours.items()
    }
    assert theirs["stock-count"]["version"] == 2
    assert theirs["returns"]["version"] == 1
    assert theirs["order-picking"]["version"] == 1

    # Importing the same files again changes nothing.
    again = invoke(app, "bp", "import", str(directory), "--tenant", other_tenant.name)
    assert again.exit_code == 0
    assert set(again.output.split()) >= {"unchanged"}
    assert "updated" not in again.output
    assert "created" not in again.output
    assert definitions_of(api, other_tenant)["stock-count"]["version"] == 2


def test_import_of_a_bad_directory_stores_nothing(
    app: Flask, api: Client, tenant: TenantKeys, tmp_path: Path
) -> None:
    directory = bad_directory(tmp_path)
    # A valid change beside the bad file must not be stored either.
    path = directory / "price-check.yaml"
    definition = yaml.safe_load(path.read_text(encoding="utf-8"))
    definition["enabled"] = False
    path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    result = invoke(app, "bp", "import", str(directory), "--tenant", tenant.name)
    assert result.exit_code == 1
    assert f"{directory / 'stock-count.yaml'}: field 'quantity_control'" in result.stderr
    versions = {k: v["version"] for k, v in definitions_of(api, tenant).items()}
    assert set(versions.values()) == {1}
    assert definitions_of(api, tenant)["price-check"]["enabled"] is True


def test_import_of_a_looping_directory_stores_nothing(
    app: Flask, api: Client, tenant: TenantKeys, tmp_path: Path
) -> None:
    directory = tmp_path / "loop"
    shutil.copytree(SHIPPED, directory)
    path = directory / "transfer-receipt.yaml"
    definition = yaml.safe_load(path.read_text(encoding="utf-8"))
    definition["next_business_process"] = "transfer-shipment"
    definition["name"] = "Приёмка (изменено)"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    result = invoke(app, "bp", "import", str(directory), "--tenant", tenant.name)
    assert result.exit_code == 1
    assert "field 'next_business_process'" in result.stderr
    assert "loops" in result.stderr
    assert {v["version"] for v in definitions_of(api, tenant).values()} == {1}


def test_export_and_import_need_a_known_tenant(app: Flask, tmp_path: Path) -> None:
    for args in (
        ("bp", "export", str(tmp_path / "out"), "--tenant", "nobody"),
        ("bp", "import", str(SHIPPED), "--tenant", "nobody"),
    ):
        result = invoke(app, *args)
        assert result.exit_code == 1
        assert result.stderr.startswith("error: ")
        assert "nobody" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["export", "import"])
def test_export_and_import_require_the_tenant_option(app: Flask, command: str) -> None:
    result = invoke(app, "bp", command, str(SHIPPED))
    assert result.exit_code == 2
    assert "--tenant" in result.output

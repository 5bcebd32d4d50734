"""The `relay` command, run with Flask's CLI runner against the test app."""

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from flask import Flask

from relay.cli import cli, parse_ttl
from relay.directory import auth, devices, tenants
from relay.errors import Unauthorized
from relay.extensions import db
from relay.processes import files, store
from relay.timeutil import utcnow
from tests.helpers import Client, TenantKeys


def run(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args))


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_tenant_create_json_prints_the_name_and_two_working_keys(app: Flask) -> None:
    body = ok_json(run(app, "tenant", "create", "ООО Ромашка", "--json"))
    assert set(body) == {"tenant", "admin_key", "accounting_key"}
    assert body["tenant"] == "ООО Ромашка"
    with app.app_context():
        admin = auth.authenticate(f"Bearer {body['admin_key']}")
        accounting = auth.authenticate(f"Bearer {body['accounting_key']}")
        assert (admin.kind, admin.tenant_name) == ("admin", "ООО Ромашка")
        assert (accounting.kind, accounting.tenant_name) == ("accounting", "ООО Ромашка")
        assert admin.has_role("admin")
        assert not accounting.has_role("admin")


def test_tenant_create_copies_the_shipped_processes(app: Flask) -> None:
    ok_json(run(app, "tenant", "create", "acme", "--json"))
    with app.app_context():
        tenant_id = tenants.by_name("acme").id
        keys = [row.key for row in store.list_current(tenant_id)]
    assert keys == sorted(files.load_directory(files.SHIPPED_DIR))


def test_tenant_create_prints_readable_text_without_json(app: Flask) -> None:
    result = run(app, "tenant", "create", "acme")
    assert result.exit_code == 0, result.output
    assert "acme" in result.stdout
    assert "relay_adm_" in result.stdout
    assert "relay_acc_" in result.stdout


def test_creating_a_tenant_twice_fails_clearly(app: Flask) -> None:
    first = ok_json(run(app, "tenant", "create", "acme", "--json"))
    again = run(app, "tenant", "create", "acme", "--json")
    assert again.exit_code != 0
    assert "already exists" in again.stderr
    assert "acme" in again.stderr
    assert again.stdout == ""
    with app.app_context():  # the first tenant's keys still work
        assert auth.authenticate(f"Bearer {first['admin_key']}").tenant_name == "acme"


def test_an_empty_tenant_name_is_refused(app: Flask) -> None:
    result = run(app, "tenant", "create", "   ", "--json")
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "name" in result.stderr


def test_enrollment_create_json(app: Flask) -> None:
    ok_json(run(app, "tenant", "create", "acme", "--json"))
    before = utcnow()
    body = ok_json(
        run(
            app, "enrollment", "create", "--tenant", "acme", "--uses", "3", "--ttl", "30m", "--json"
        )
    )
    assert body["uses_left"] == 3
    assert body["code"].startswith("ENR-")
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=29) < expires - before <= timedelta(minutes=30, seconds=5)
    assert json.loads(body["qr_payload"])["code"] == body["code"]
    with app.app_context():
        for serial in ("A", "B", "C"):
            devices.enroll(body["code"], name="ТСД", model="EDA50", serial=serial)
        with pytest.raises(Unauthorized):
            devices.enroll(body["code"], name="ТСД", model="EDA50", serial="D")


def test_enrollment_create_defaults_to_one_use_for_24_hours(app: Flask) -> None:
    ok_json(run(app, "tenant", "create", "acme", "--json"))
    before = utcnow()
    body = ok_json(run(app, "enrollment", "create", "--tenant", "acme", "--json"))
    assert body["uses_left"] == 1
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(hours=23, minutes=59) < expires - before <= timedelta(hours=24, seconds=5)


def test_enrollment_create_default_lifetime_follows_the_setting(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok_json(run(app, "tenant", "create", "acme", "--json"))
    monkeypatch.setitem(app.config, "ENROLLMENT_CODE_TTL_SECONDS", 3600)
    before = utcnow()
    body = ok_json(run(app, "enrollment", "create", "--tenant", "acme", "--json"))
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert expires - before <= timedelta(hours=1, seconds=5)


def test_enrollment_create_for_an_unknown_tenant_fails(app: Flask) -> None:
    result = run(app, "enrollment", "create", "--tenant", "nobody", "--json")
    assert result.exit_code != 0
    assert "nobody" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("ttl", ["soon", "10w", "-5m"])
def test_enrollment_create_refuses_a_bad_ttl(app: Flask, ttl: str) -> None:
    ok_json(run(app, "tenant", "create", "acme", "--json"))
    result = run(app, "enrollment", "create", "--tenant", "acme", "--ttl", ttl, "--json")
    assert result.exit_code == 2
    assert "24h" in result.stderr


def test_enrollment_create_refuses_uses_out_of_range(app: Flask) -> None:
    ok_json(run(app, "tenant", "create", "acme", "--json"))
    result = run(app, "enrollment", "create", "--tenant", "acme", "--uses", "0", "--json")
    assert result.exit_code != 0
    assert "1 to 1000" in result.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("45s", 45), ("30m", 1800), ("24h", 86400), ("7d", 604800), (" 2H ", 7200)],
)
def test_parse_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


def test_webhook_reseal_moves_secrets_to_the_current_key(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relay.models import WebhookEndpoint
    from relay.online import webhook
    from relay.online.sealing import Keys, SealError

    with app.app_context():
        tenant_id = tenants.create("ООО Ромашка").tenant.id
        _endpoint, secret = webhook.put_endpoint(
            tenant_id,
            url="http://127.0.0.1:9/hs/relay",
            enabled=True,
            allow_private=True,
            keys=Keys.of("the-old-key"),
        )
        db.session.commit()
        db.session.remove()
    monkeypatch.setitem(app.config, "SECRET_KEY", "the-new-key")
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", [])
    refused = run(app, "webhook", "reseal")
    assert refused.exit_code == 1
    assert "RELAY_SECRET_KEY_FALLBACKS" in refused.output
    monkeypatch.setitem(app.config, "SECRET_KEY_FALLBACKS", ["the-old-key"])
    done = run(app, "webhook", "reseal")
    assert done.exit_code == 0, done.output
    assert "1 tenant" in done.output
    with app.app_context():
        row = db.session.get(WebhookEndpoint, tenant_id)
        assert row is not None
        sealed = row.secret
        db.session.remove()
    assert Keys.of("the-new-key").open(sealed) == secret
    with pytest.raises(SealError):
        Keys.of("the-old-key").open(sealed)


# -- relay bp check|export|import: rule files on the command line ---------------------------------

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

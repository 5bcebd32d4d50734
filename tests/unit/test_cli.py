"""The `relay` command, run with Flask's CLI runner against the test app."""

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import Result
from flask import Flask

from relay.cli import cli, parse_ttl
from relay.directory import auth, devices, tenants
from relay.errors import Unauthorized
from relay.extensions import db
from relay.processes import files, store
from relay.timeutil import utcnow


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

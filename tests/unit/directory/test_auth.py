"""Credentials: token kinds and their roles, revoked and expired tokens, last-seen stamps."""

from datetime import timedelta

import pytest
from flask import Flask

from relay.db import transaction
from relay.directory import auth, devices, users
from relay.directory.auth import Identity, Role
from relay.errors import Forbidden, Unauthorized
from relay.extensions import db
from relay.models import Device
from relay.timeutil import utcnow
from tests.factories import add_user, enroll, identity, log_in
from tests.helpers import TenantKeys

ROLES: list[Role] = ["admin", "accounting", "terminal"]


def refused(authorization: str | None) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        auth.authenticate(authorization)
    assert info.value.status == 401
    assert info.value.headers == {"WWW-Authenticate": "Bearer"}
    return info.value


def roles_of(who: Identity) -> list[Role]:
    return [role for role in ROLES if who.has_role(role)]


def test_issued_tokens_carry_the_prefix_of_their_kind(app_ctx: Flask, tenant: TenantKeys) -> None:
    for kind, prefix in auth.PREFIXES.items():
        with transaction():
            token = auth.issue(tenant.id, kind)
        assert token.startswith(prefix + "_")
        assert identity(token).kind == kind


def test_the_tenant_keys_resolve_to_their_tenant(app_ctx: Flask, tenant: TenantKeys) -> None:
    admin, accounting = identity(tenant.admin_key), identity(tenant.accounting_key)
    assert (admin.tenant_id, admin.tenant_name, admin.kind) == (tenant.id, "acme", "admin")
    assert (accounting.tenant_id, accounting.kind) == (tenant.id, "accounting")
    assert admin.device_id is None
    assert admin.user_id is None
    assert admin.credential_id != accounting.credential_id


def test_each_kind_plays_its_roles(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        terminal = enroll(tenant.id)
        add_user(tenant.id, "ivanov")
    with transaction():
        session = log_in(terminal.token, "ivanov")
    assert roles_of(identity(tenant.admin_key)) == ["admin", "accounting"]
    assert roles_of(identity(tenant.accounting_key)) == ["accounting"]
    assert roles_of(identity(terminal.token)) == ["terminal"]
    assert roles_of(identity(session)) == ["terminal"]


def test_a_terminal_identity_names_its_device_and_operator(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    with transaction():
        terminal = enroll(tenant.id, "Склад-7")
        user = add_user(tenant.id, "ivanov", name="Иванов")
    with transaction():
        session = log_in(terminal.token, "ivanov")
    device = identity(terminal.token)
    assert (device.device_id, device.device_pin) == (terminal.device.id, terminal.device.pin)
    assert (device.device_name, device.device_mode) == ("Склад-7", "offline")
    assert device.user_id is None
    assert device.actor == "device"
    operator = identity(session)
    assert (operator.device_id, operator.user_id) == (terminal.device.id, user.id)
    assert (operator.user_login, operator.user_name) == ("ivanov", "Иванов")
    assert operator.actor == "user"


def test_require_refuses_a_role_the_credential_does_not_play(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    accounting = identity(tenant.accounting_key)
    auth.require(accounting, "accounting")
    with pytest.raises(Forbidden) as info:
        auth.require(accounting, "admin")
    assert info.value.status == 403
    assert info.value.details == {"needs": "admin", "credential": "accounting"}
    assert "the tenant's admin key" in info.value.message
    assert "an accounting key" in info.value.message


def test_a_terminal_token_cannot_act_for_accounting(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        terminal = enroll(tenant.id)
    with pytest.raises(Forbidden) as info:
        auth.require(identity(terminal.token), "accounting")
    assert info.value.details == {"needs": "accounting", "credential": "device"}
    assert "a device token" in info.value.message


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "relay_adm_x", "Token relay_adm_x"],
)
def test_missing_or_malformed_credentials_are_401(
    app_ctx: Flask, authorization: str | None
) -> None:
    assert "Bearer" in refused(authorization).message


def test_the_scheme_is_case_insensitive(app_ctx: Flask, tenant: TenantKeys) -> None:
    assert auth.authenticate(f"bearer {tenant.admin_key}").kind == "admin"


@pytest.mark.parametrize("token", ["relay_xyz_abc", "not-a-relay-token", "relay_adm_" + "A" * 43])
def test_unknown_tokens_are_401(app_ctx: Flask, tenant: TenantKeys, token: str) -> None:
    assert refused(f"Bearer {token}").message == auth.INVALID_CREDENTIALS


def test_a_token_under_another_kinds_prefix_is_refused(app_ctx: Flask, tenant: TenantKeys) -> None:
    secret = tenant.admin_key.removeprefix("relay_adm_")
    refused(f"Bearer relay_acc_{secret}")


def test_a_revoked_credential_is_refused(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        auth.revoke_where(tenant.id, kind="accounting")
    assert refused(f"Bearer {tenant.accounting_key}").message == auth.INVALID_CREDENTIALS
    assert identity(tenant.admin_key).kind == "admin"


def test_revoking_one_tenants_keys_leaves_another_tenants(
    app_ctx: Flask, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    with transaction():
        auth.revoke_where(tenant.id, kind="admin")
    refused(f"Bearer {tenant.admin_key}")
    assert identity(other_tenant.admin_key).tenant_id == other_tenant.id


def test_an_expired_credential_is_refused(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        expired = auth.issue(tenant.id, "accounting", expires_at=utcnow() - timedelta(seconds=1))
        live = auth.issue(tenant.id, "accounting", expires_at=utcnow() + timedelta(hours=1))
    refused(f"Bearer {expired}")
    assert identity(live).kind == "accounting"


def test_the_token_of_a_revoked_device_is_refused(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        terminal = enroll(tenant.id)
    with transaction():
        devices.revoke(terminal.device)
    refused(f"Bearer {terminal.token}")


def test_the_session_of_a_deleted_user_is_refused(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        terminal = enroll(tenant.id)
        add_user(tenant.id, "ivanov")
    with transaction():
        session = log_in(terminal.token, "ivanov")
    assert identity(session).user_login == "ivanov"
    with transaction():
        users.delete_user(users.get_user(tenant.id, "ivanov"))
    refused(f"Bearer {session}")
    assert identity(terminal.token).kind == "device"


def test_a_device_is_stale_only_past_the_resolution(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        terminal = enroll(tenant.id)
    resolution = timedelta(minutes=1)
    fresh = identity(terminal.token)  # enrolling stamps last_seen_at
    assert not auth.device_seen_stale(fresh, resolution)
    with transaction():
        db.session.get(Device, (tenant.id, terminal.device.id)).last_seen_at = utcnow() - (
            2 * resolution
        )
    assert auth.device_seen_stale(identity(terminal.token), resolution)
    assert not auth.device_seen_stale(identity(tenant.admin_key), resolution)


def test_mark_device_seen_writes_only_a_stale_stamp(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        terminal = enroll(tenant.id)
    key = (tenant.id, terminal.device.id)
    resolution = timedelta(minutes=1)
    recent = utcnow() - timedelta(seconds=10)
    with transaction():
        db.session.get(Device, key).last_seen_at = recent
    with transaction():
        auth.mark_device_seen(identity(terminal.token), resolution)
    db.session.expire_all()
    assert db.session.get(Device, key).last_seen_at == recent
    with transaction():
        db.session.get(Device, key).last_seen_at = utcnow() - 2 * resolution
    before = utcnow()
    with transaction():
        auth.mark_device_seen(identity(terminal.token), resolution)
    db.session.expire_all()
    assert db.session.get(Device, key).last_seen_at >= before

"""Addressee keys and the inbox counters: a touch bumps exactly the addressees named."""

import uuid

import pytest
from flask import Flask
from sqlalchemy import select

from relay.db import transaction
from relay.directory import addressees
from relay.directory.addressees import ALL, device_key, group_key, user_key
from relay.extensions import db
from relay.models import Device, Group, Tenant, User
from tests.factories import add_group, add_user, enroll, identity, log_in
from tests.helpers import TenantKeys


def counters(tenant_id: int) -> dict[str, int]:
    """Every inbox counter of the tenant, by addressee key."""
    db.session.expire_all()
    tenant = db.session.get(Tenant, tenant_id)
    assert tenant is not None
    found = {ALL: tenant.all_inbox_seq}
    for model, key in ((Device, device_key), (User, user_key), (Group, group_key)):
        for row in db.session.scalars(select(model).where(model.tenant_id == tenant_id)):
            found[key(row.id)] = row.inbox_seq
    return found


def test_keys_name_the_kind_and_split_back() -> None:
    ident = uuid.uuid4()
    for key, kind in ((device_key(ident), "device"), (user_key(ident), "user")):
        assert addressees.split_key(key) == (kind, ident)
    assert addressees.split_key(group_key(ident)) == ("group", ident)
    assert addressees.split_key(ALL) == (ALL, None)


def test_a_malformed_key_does_not_split() -> None:
    with pytest.raises(ValueError, match="badly formed"):
        addressees.split_key("device:not-a-uuid")


def test_a_device_answers_for_its_own_key_an_operator_for_two(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    with transaction():
        terminal = enroll(tenant.id)
        user = add_user(tenant.id, "anna")
    with transaction():
        session = log_in(terminal.token, "anna")
    assert addressees.keys_of(identity(terminal.token)) == [device_key(terminal.device.id)]
    assert addressees.keys_of(identity(session)) == [
        device_key(terminal.device.id),
        user_key(user.id),
    ]
    assert addressees.keys_of(identity(tenant.admin_key)) == []


def test_touch_bumps_exactly_the_addressees_named(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        terminal = enroll(tenant.id)
        anna, boris = add_user(tenant.id, "anna"), add_user(tenant.id, "boris")
        pickers = add_group(tenant.id, "pickers")
    before = counters(tenant.id)
    named = [device_key(terminal.device.id), user_key(anna.id), group_key(pickers.id)]
    with transaction():
        addressees.touch(tenant.id, named)
    after = counters(tenant.id)
    assert {k for k in after if after[k] != before[k]} == set(named)
    assert all(after[k] == before[k] + 1 for k in named)
    assert after[user_key(boris.id)] == before[user_key(boris.id)]
    assert after[ALL] == before[ALL]


def test_touching_all_bumps_the_tenants_counter_once(
    app_ctx: Flask, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    before, theirs = counters(tenant.id), counters(other_tenant.id)
    with transaction():
        addressees.touch(tenant.id, [ALL, ALL])
    assert counters(tenant.id) == {**before, ALL: before[ALL] + 1}
    assert counters(other_tenant.id) == theirs


def test_a_key_of_another_tenant_is_not_touched(
    app_ctx: Flask, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    with transaction():
        theirs = add_user(other_tenant.id, "anna")
    before = counters(other_tenant.id)
    with transaction():
        addressees.touch(tenant.id, [user_key(theirs.id)])
    assert counters(other_tenant.id) == before

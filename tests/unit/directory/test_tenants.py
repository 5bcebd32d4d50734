"""Tenants: a valid unique name, two working keys, a copy of the processes, key rotation."""

import pytest
from flask import Flask

from relay.db import transaction
from relay.directory import tenants
from relay.directory.auth import Kind
from relay.errors import Conflict, Invalid, NotFound, Unauthorized
from relay.processes import files, schema, store
from tests.factories import SHIPPED_KEYS, identity, process_definition


def create(name: str, definitions: list[dict[str, object]] | None = None) -> tenants.NewTenant:
    with transaction():
        return tenants.create(name, definitions)


def test_a_new_tenant_gets_an_admin_key_and_an_accounting_key(app_ctx: Flask) -> None:
    created = create("acme")
    admin, accounting = identity(created.admin_key), identity(created.accounting_key)
    assert (admin.kind, admin.tenant_id, admin.tenant_name) == ("admin", created.tenant.id, "acme")
    assert (accounting.kind, accounting.tenant_id) == ("accounting", created.tenant.id)
    assert created.admin_key.startswith("relay_adm_")
    assert created.accounting_key.startswith("relay_acc_")


def test_a_new_tenant_gets_the_shipped_processes_at_version_1(app_ctx: Flask) -> None:
    created = create("acme")
    rows = store.list_current(created.tenant.id)
    assert [(r.key, r.version) for r in rows] == [(key, 1) for key in SHIPPED_KEYS]
    assert rows[0].definition == files.load_file(files.SHIPPED_DIR / f"{SHIPPED_KEYS[0]}.yaml")


def test_given_definitions_replace_the_shipped_set(app_ctx: Flask) -> None:
    created = create("acme", [schema.validate_definition(process_definition("only-one"))])
    assert [r.key for r in store.list_current(created.tenant.id)] == ["only-one"]


def test_the_name_is_trimmed(app_ctx: Flask) -> None:
    created = create("  acme \t")
    assert created.tenant.name == "acme"
    assert tenants.by_name("acme").id == created.tenant.id


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_name_of_1_to_100_characters(app_ctx: Flask, name: str) -> None:
    with pytest.raises(Invalid) as info:
        create(name)
    assert info.value.status == 422
    with pytest.raises(NotFound):
        tenants.by_name(name.strip())


def test_a_name_of_exactly_100_characters_is_accepted(app_ctx: Flask) -> None:
    assert create("x" * 100).tenant.name == "x" * 100


def test_a_second_tenant_of_the_same_name_is_refused_and_nothing_changes(app_ctx: Flask) -> None:
    first = create("acme")
    with pytest.raises(Conflict) as info:
        create(" acme")
    assert info.value.code == "tenant_exists"
    assert tenants.by_name("acme").id == first.tenant.id
    assert identity(first.admin_key).tenant_id == first.tenant.id


def test_by_name_of_an_unknown_tenant_is_404(app_ctx: Flask) -> None:
    create("acme")
    with pytest.raises(NotFound) as info:
        tenants.by_name("globex")
    assert info.value.code == "tenant_not_found"


@pytest.mark.parametrize("kind", ["admin", "accounting"])
def test_rotating_a_key_kills_the_old_one_only(app_ctx: Flask, kind: Kind) -> None:
    created = create("acme")
    old = created.admin_key if kind == "admin" else created.accounting_key
    other = created.accounting_key if kind == "admin" else created.admin_key
    with transaction():
        new = tenants.rotate_key(created.tenant.id, kind)
    assert new != old
    assert identity(new).kind == kind
    with pytest.raises(Unauthorized):
        identity(old)
    assert identity(other).tenant_id == created.tenant.id


def test_rotating_one_tenants_key_leaves_the_others(app_ctx: Flask) -> None:
    acme, globex = create("acme"), create("globex")
    with transaction():
        tenants.rotate_key(acme.tenant.id, "admin")
    assert identity(globex.admin_key).tenant_name == "globex"

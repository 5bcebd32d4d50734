"""Creating a tenant: its row, its keys, and its copy of the shipped business processes."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from relay.directory import auth
from relay.errors import N_, Conflict, Invalid, NotFound
from relay.extensions import db
from relay.models import Tenant
from relay.processes import files, store


@dataclass(frozen=True)
class NewTenant:
    tenant: Tenant
    admin_key: str
    accounting_key: str


def create(name: str, definitions: list[dict[str, Any]] | None = None) -> NewTenant:
    """Create a tenant with the shipped processes (or ``definitions``) and return its keys."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise Invalid(N_("A tenant name is 1 to 100 characters."))
    if db.session.scalars(select(Tenant).where(Tenant.name == name)).first() is not None:
        raise Conflict(
            N_("A tenant named %(name)r already exists.", name=name), code="tenant_exists"
        )
    if definitions is None:
        definitions = list(files.load_directory(files.shipped_directory()).values())
    tenant = Tenant(name=name)
    db.session.add(tenant)
    db.session.flush()
    store.install(tenant.id, definitions)
    admin_key = auth.issue(tenant.id, "admin")
    accounting_key = auth.issue(tenant.id, "accounting")
    return NewTenant(tenant=tenant, admin_key=admin_key, accounting_key=accounting_key)


def by_name(name: str) -> Tenant:
    """Return the tenant called ``name`` or raise 404."""
    tenant = db.session.scalars(select(Tenant).where(Tenant.name == name)).first()
    if tenant is None:
        raise NotFound(N_("There is no tenant named %(name)r.", name=name), code="tenant_not_found")
    return tenant


def rotate_key(tenant_id: int, kind: auth.Kind) -> str:
    """Revoke the tenant's current admin or accounting key and issue a new one."""
    auth.revoke_where(tenant_id, kind=kind)
    return auth.issue(tenant_id, kind)

"""Addressees (a device, a user, a group, "all") and the inbox counters they carry.

Every addressee carries a counter, ``inbox_seq``, bumped in the same transaction as any change
to the instances addressed to it or held by it; ``relay.documents.inbox`` builds a terminal's
ETag from them."""

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import bindparam, update

from relay.db import core
from relay.directory.auth import Identity
from relay.models import (
    Device,
    Group,
    Tenant,
)
from relay.models import User as UserModel

ALL = "all"


def device_key(device_id: uuid.UUID) -> str:
    return f"device:{device_id}"


def user_key(user_id: uuid.UUID) -> str:
    return f"user:{user_id}"


def group_key(group_id: uuid.UUID) -> str:
    return f"group:{group_id}"


def split_key(key: str) -> tuple[str, uuid.UUID | None]:
    """Return (type, id) of an addressee key; ``all`` has no id."""
    if key == ALL:
        return ALL, None
    kind, _, raw = key.partition(":")
    return kind, uuid.UUID(raw)


def keys_of(identity: Identity) -> list[str]:
    """The caller's own keys: its device and, in a session, its operator."""
    keys = []
    if identity.device_id is not None:
        keys.append(device_key(identity.device_id))
    if identity.user_id is not None:
        keys.append(user_key(identity.user_id))
    return keys


_BUMP_ALL = (
    update(Tenant)
    .where(Tenant.id == bindparam("b_tenant"))
    .values(all_inbox_seq=Tenant.all_inbox_seq + 1)
)
# Built once, in the order they run: devices, users, groups.
_BUMP = {
    kind: update(model)
    .where(
        model.tenant_id == bindparam("b_tenant"), model.id.in_(bindparam("b_ids", expanding=True))
    )
    .values(inbox_seq=model.inbox_seq + 1)
    for model, kind in ((Device, "device"), (UserModel, "user"), (Group, "group"))
}


def touch(tenant_id: int, keys: Iterable[str]) -> None:
    """Bump the inbox counters of these addressees (call inside the changing transaction)."""
    by_kind: dict[str, set[uuid.UUID]] = defaultdict(set)
    touch_all = False
    for key in keys:
        kind, ident = split_key(key)
        if ident is None:
            touch_all = True
        else:
            by_kind[kind].add(ident)
    # A fixed order of tables and ids keeps concurrent transactions from deadlocking.
    if touch_all:
        core(_BUMP_ALL, {"b_tenant": tenant_id})
    for kind, statement in _BUMP.items():
        ids = sorted(by_kind.get(kind, ()))
        if ids:
            core(statement, {"b_tenant": tenant_id, "b_ids": ids})

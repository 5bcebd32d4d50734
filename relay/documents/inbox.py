"""What a terminal sees: the inbox query, its ETag, and the stamps that make the ETag cheap.

Every addressee (a device, a user, a group, and "all" per tenant) carries a counter,
``inbox_seq``, bumped in the same transaction as any change to the instances addressed to it or
held by it. A terminal's ETag is made of the counters of the addressees it answers for, which
arrive with authentication in one query: polling an unchanged inbox reads no documents.
The counters are read before the documents, so an ETag is never newer than the list it names.
"""

import functools
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Select, and_, bindparam, select, union_all
from sqlalchemy.orm import defer

from relay import paging
from relay.directory.addressees import ALL, device_key, group_key, user_key
from relay.directory.auth import Identity
from relay.extensions import db
from relay.models import (
    Document,
    Group,
    GroupMember,
    Instance,
    InstanceAddressee,
    Part,
)
from relay.models.document import HELD, OPEN
from relay.paging import Page


@dataclass(frozen=True)
class Audience:
    """The addressee keys a caller answers for, and the counters its ETag is made of."""

    keys: tuple[str, ...]
    stamp: str


def audience(identity: Identity) -> Audience:
    """Return the caller's addressee keys and inbox stamp (one query for sessions, none else)."""
    assert identity.device_id is not None
    keys = [device_key(identity.device_id)]
    parts = [f"d{identity.device_inbox_seq}"]
    if identity.user_id is not None:
        rows = db.session.execute(
            select(Group.id, Group.inbox_seq)
            .join(
                GroupMember,
                and_(GroupMember.tenant_id == Group.tenant_id, GroupMember.group_id == Group.id),
            )
            .where(
                GroupMember.tenant_id == identity.tenant_id,
                GroupMember.user_id == identity.user_id,
                Group.deleted_at.is_(None),
            )
        ).all()
        keys.append(user_key(identity.user_id))
        keys.extend(group_key(row.id) for row in rows)
        keys.append(ALL)
        # Counters only grow, so their sum changes whenever one does; a change of membership
        # bumps the user's own counter.
        parts += [
            f"u{identity.user_inbox_seq}",
            f"g{sum(row.inbox_seq for row in rows)}",
            f"a{identity.all_inbox_seq}",
        ]
    return Audience(keys=tuple(keys), stamp=".".join(parts))


def etag(audience: Audience, *params: object) -> str:
    """Return the ETag of one page of an inbox (unquoted, as werkzeug compares them)."""
    # The addressee keys make the tag whose inbox it is: two operators on one terminal may
    # have counters of equal values.
    raw = "|".join([*audience.keys, audience.stamp, *map(str, params)])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _held(with_user: bool) -> list[Any]:
    """Instances the caller holds (or held when they were cancelled), and collective ones it
    joined: listed whatever became of their addressees."""
    conditions = [Instance.holder_device_id == bindparam("device_id")]
    if with_user:
        conditions.append(Instance.holder_user_id == bindparam("user_id"))
    held = [
        select(Instance.id.label("id")).where(
            Instance.tenant_id == bindparam("tenant_id"), cond, Instance.state.in_(HELD)
        )
        for cond in conditions
    ]
    joined = select(Part.instance_id.label("id")).where(
        Part.tenant_id == bindparam("tenant_id"),
        Part.device_id == bindparam("device_id"),
        Part.state == OPEN,
    )
    return [*held, joined]


@functools.lru_cache(maxsize=64)
def _page_statement(keys: int, with_user: bool, with_after: bool) -> Select[Instance, Document]:
    """The inbox page for ``keys`` addressee keys (bound as key_0 …), built once per shape.

    Built per request, this statement (a union of a range per key) cost more to build and to
    key for the statement cache than to run.
    """
    limit: BindParameter[int] = bindparam("limit_1")  # the page size plus one: more follow?
    after: BindParameter[uuid.UUID] = bindparam("after")
    parts = []
    for n in range(keys):
        stmt = select(InstanceAddressee.instance_id.label("id")).where(
            InstanceAddressee.tenant_id == bindparam("tenant_id"),
            InstanceAddressee.key == bindparam(f"key_{n}"),
            # Plain "listed" (``listed = 1`` on SQLite), as the partial index says it.
            InstanceAddressee.listed,
        )
        if with_after:
            stmt = stmt.where(InstanceAddressee.instance_id > after)
        parts.append(stmt.order_by(InstanceAddressee.instance_id).limit(limit).subquery())
    for stmt in _held(with_user):
        column = stmt.selected_columns.id
        if with_after:
            stmt = stmt.where(column > after)
        parts.append(stmt.order_by(column).limit(limit).subquery())
    ids = union_all(*(select(part.c.id) for part in parts))
    return (
        select(Instance, Document)
        .join(
            Document,
            and_(Document.tenant_id == Instance.tenant_id, Document.id == Instance.document_id),
        )
        .where(Instance.tenant_id == bindparam("tenant_id"), Instance.id.in_(ids))
        .order_by(Instance.id)
        .limit(limit)
        # A list item shows no header or lines: parsing their JSON was most of a page's cost.
        .options(defer(Document.header), defer(Document.lines))
    )


def page_query(
    identity: Identity, audience: Audience, after: uuid.UUID | None, limit: int
) -> tuple[Select[Instance, Document], dict[str, Any]]:
    """Select one page of the caller's inbox: instances and their documents, oldest first.

    Each addressee key is read from its own index range (ordered, limited) and the ranges are
    merged, so the cost follows the page size, not the length of the queue. Returns the
    statement and its parameters.
    """
    stmt = _page_statement(len(audience.keys), identity.user_id is not None, after is not None)
    params: dict[str, Any] = {
        "tenant_id": identity.tenant_id,
        "device_id": identity.device_id,
        "limit_1": limit + 1,
        **{f"key_{n}": key for n, key in enumerate(audience.keys)},
    }
    if identity.user_id is not None:
        params["user_id"] = identity.user_id
    if after is not None:
        params["after"] = after
    return stmt, params


def page(
    identity: Identity, audience: Audience, after: uuid.UUID | None, limit: int
) -> Page[tuple[Instance, Document]]:
    """Return one page of the inbox and the cursor of the next page (None on the last)."""
    stmt, params = page_query(identity, audience, after, limit)
    rows = [(row[0], row[1]) for row in db.session.execute(stmt, params)]
    return paging.page(rows, limit, lambda row: str(row[0].id))


def can_see(identity: Identity, instance: Instance, addressee_keys: Iterable[str]) -> bool:
    """Whether a terminal may read an instance: it is addressed to the caller or held by it."""
    if instance.holder_device_id is not None and instance.holder_device_id == identity.device_id:
        return True
    if instance.holder_user_id is not None and instance.holder_user_id == identity.user_id:
        return True
    return bool(set(addressee_keys) & set(audience(identity).keys))

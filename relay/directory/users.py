"""Operators and groups (Appendix A), and operator sessions on terminals."""

import functools
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from relay.directory import addressees, auth, throttle
from relay.directory.auth import Identity
from relay.errors import N_, Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from relay.extensions import db
from relay.models import Device, Group, GroupMember, User
from relay.paging import Page, by_id, page
from relay.timeutil import utcnow


@functools.cache
def stand_in_hash(method: str) -> str:
    """Return a hash made the way real ones are, checked against when the login is unknown.

    Made with the configured method and its parameters, so an unknown login costs what a
    known one costs and the time of an answer does not tell which logins exist.
    """
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


# -- users -----------------------------------------------------------------------------------


def get_user(tenant_id: int, login: str) -> User:
    """Return the live user with ``login`` or raise 404."""
    user = db.session.scalars(
        select(User).where(
            User.tenant_id == tenant_id, User.login == login, User.deleted_at.is_(None)
        )
    ).first()
    if user is None:
        raise NotFound(
            N_("There is no user %(login)r.", login=login),
            code="user_not_found",
            details={"login": login},
        )
    return user


def create_user(tenant_id: int, *, login: str, name: str, password: str, hash_method: str) -> User:
    """Create an operator; the password is kept only as a slow hash."""
    exists = db.session.scalars(
        select(User.id).where(
            User.tenant_id == tenant_id, User.login == login, User.deleted_at.is_(None)
        )
    ).first()
    if exists is not None:
        raise Conflict(
            N_("A user with login %(login)r already exists.", login=login),
            code="user_exists",
            details={"login": login},
        )
    user = User(
        tenant_id=tenant_id,
        login=login,
        name=name,
        password_hash=generate_password_hash(password, method=hash_method),
    )
    db.session.add(user)
    db.session.flush()
    return user


def update_user(user: User, *, name: str | None, password: str | None, hash_method: str) -> User:
    """Rename a user or set a new password (which also lifts a lockout and ends sessions)."""
    if name is not None:
        user.name = name
    if password is not None:
        user.password_hash = generate_password_hash(password, method=hash_method)
        throttle.forget_login(user.tenant_id, user.login)
        auth.revoke_where(user.tenant_id, user_id=user.id)
    return user


def delete_user(user: User) -> None:
    """Delete a user: sessions end, memberships go; the row stays for document history."""
    user.deleted_at = utcnow()
    auth.revoke_where(user.tenant_id, user_id=user.id)
    db.session.execute(
        delete(GroupMember).where(
            GroupMember.tenant_id == user.tenant_id, GroupMember.user_id == user.id
        )
    )


def list_users(tenant_id: int, *, after: uuid.UUID | None, limit: int) -> Page[User]:
    """Return a page of live users, oldest first."""
    stmt = select(User).where(User.tenant_id == tenant_id, User.deleted_at.is_(None))
    if after:
        stmt = stmt.where(User.id > after)
    return page(list(db.session.scalars(stmt.order_by(User.id).limit(limit + 1))), limit, by_id)


def users_by_login(tenant_id: int, logins: Sequence[str]) -> dict[str, User]:
    """Return the live users among ``logins``, by login."""
    if not logins:
        return {}
    rows = db.session.scalars(
        select(User).where(
            User.tenant_id == tenant_id, User.login.in_(set(logins)), User.deleted_at.is_(None)
        )
    )
    return {user.login: user for user in rows}


# -- groups ----------------------------------------------------------------------------------


def get_group(tenant_id: int, name: str) -> Group:
    """Return the live group called ``name`` or raise 404."""
    group = db.session.scalars(
        select(Group).where(
            Group.tenant_id == tenant_id, Group.name == name, Group.deleted_at.is_(None)
        )
    ).first()
    if group is None:
        raise NotFound(
            N_("There is no group %(name)r.", name=name),
            code="group_not_found",
            details={"name": name},
        )
    return group


def members(group: Group) -> list[User]:
    """Return the group's live members, by login."""
    return list(
        db.session.scalars(
            select(User)
            .join(
                GroupMember,
                and_(GroupMember.tenant_id == User.tenant_id, GroupMember.user_id == User.id),
            )
            .where(
                GroupMember.tenant_id == group.tenant_id,
                GroupMember.group_id == group.id,
                User.deleted_at.is_(None),
            )
            .order_by(User.login)
        )
    )


def members_by_group(tenant_id: int, group_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[User]]:
    """Return the live members of each group, by login (one query for a page of groups)."""
    out: dict[uuid.UUID, list[User]] = {group_id: [] for group_id in group_ids}
    if not group_ids:
        return out
    rows = db.session.execute(
        select(GroupMember.group_id, User)
        .join(User, and_(User.tenant_id == GroupMember.tenant_id, User.id == GroupMember.user_id))
        .where(
            GroupMember.tenant_id == tenant_id,
            GroupMember.group_id.in_(group_ids),
            User.deleted_at.is_(None),
        )
        .order_by(User.login)
    )
    for group_id, user in rows:
        out[group_id].append(user)
    return out


def list_groups(tenant_id: int, *, after: uuid.UUID | None, limit: int) -> Page[Group]:
    """Return a page of live groups, oldest first."""
    stmt = select(Group).where(Group.tenant_id == tenant_id, Group.deleted_at.is_(None))
    if after:
        stmt = stmt.where(Group.id > after)
    return page(list(db.session.scalars(stmt.order_by(Group.id).limit(limit + 1))), limit, by_id)


def group_names(user: User) -> list[str]:
    """Return the names of the live groups a user belongs to."""
    return list(
        db.session.scalars(
            select(Group.name)
            .join(
                GroupMember,
                and_(GroupMember.tenant_id == Group.tenant_id, GroupMember.group_id == Group.id),
            )
            .where(
                GroupMember.tenant_id == user.tenant_id,
                GroupMember.user_id == user.id,
                Group.deleted_at.is_(None),
            )
            .order_by(Group.name)
        )
    )


def create_group(tenant_id: int, *, name: str, member_logins: Sequence[str]) -> Group:
    """Create a group with the given members."""
    exists = db.session.scalars(
        select(Group.id).where(
            Group.tenant_id == tenant_id, Group.name == name, Group.deleted_at.is_(None)
        )
    ).first()
    if exists is not None:
        raise Conflict(
            N_("A group named %(name)r already exists.", name=name),
            code="group_exists",
            details={"name": name},
        )
    group = Group(tenant_id=tenant_id, name=name)
    db.session.add(group)
    db.session.flush()
    set_members(group, member_logins)
    return group


def set_members(group: Group, member_logins: Sequence[str]) -> None:
    """Replace the group's members; every user whose membership changes sees a new inbox."""
    found = users_by_login(group.tenant_id, member_logins)
    unknown = sorted(set(member_logins) - set(found))
    if unknown:
        raise Invalid(
            N_("These users do not exist: %(logins)s.", logins=", ".join(unknown)),
            code="unknown_user",
            details={
                "fields": {"members": [f"Unknown user {login!r}." for login in unknown]},
                "logins": unknown,
            },
        )
    wanted = {user.id for user in found.values()}
    current = set(
        db.session.scalars(
            select(GroupMember.user_id).where(
                GroupMember.tenant_id == group.tenant_id, GroupMember.group_id == group.id
            )
        )
    )
    removed, added = current - wanted, wanted - current
    if removed:
        db.session.execute(
            delete(GroupMember).where(
                GroupMember.tenant_id == group.tenant_id,
                GroupMember.group_id == group.id,
                GroupMember.user_id.in_(removed),
            )
        )
    for user_id in sorted(added):
        db.session.add(GroupMember(tenant_id=group.tenant_id, group_id=group.id, user_id=user_id))
    addressees.touch(group.tenant_id, [addressees.user_key(uid) for uid in removed | added])


def rename_group(group: Group, name: str) -> None:
    """Rename a group, refusing a name another live group has."""
    if name == group.name:
        return
    exists = db.session.scalars(
        select(Group.id).where(
            Group.tenant_id == group.tenant_id, Group.name == name, Group.deleted_at.is_(None)
        )
    ).first()
    if exists is not None:
        raise Conflict(
            N_("A group named %(name)r already exists.", name=name),
            code="group_exists",
            details={"name": name},
        )
    group.name = name


def delete_group(group: Group) -> None:
    """Delete a group; its members' inboxes lose what was addressed to it."""
    set_members(group, [])
    group.deleted_at = utcnow()


# -- sessions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """An operator session: its token (shown once), its operator, and when it ends."""

    token: str
    user: User
    expires_at: datetime


def log_in(
    device: Identity,
    *,
    login: str,
    password: str,
    ttl: timedelta,
    lockout: throttle.Limit,
    hash_method: str,
) -> Session:
    """Open an operator session on a terminal.

    Wrong passwords lock a login on the device they were typed on, not everywhere: a terminal
    cannot lock an operator out of the others. An unknown login is counted, locked and hashed
    exactly like a known one, so neither the answer nor its time tells whether it exists.
    Each attempt is counted before the password is checked and forgotten when it is right,
    so concurrent guesses cannot slip past the limit.
    """
    assert device.device_id is not None
    counter = throttle.Counter(
        "login", login, tenant_id=device.tenant_id, holder=str(device.device_id)
    )
    locked = throttle.blocked_for(counter, lockout) or throttle.count(counter, lockout)
    if locked:
        raise TooManyRequests(
            N_(
                "Too many wrong passwords for %(login)r on this terminal: try again in "
                "%(seconds)s s, or ask an admin to set a new password.",
                login=login,
                seconds=locked,
            ),
            code="login_locked",
            retry_after=locked,
        )
    user = db.session.scalars(
        select(User).where(
            User.tenant_id == device.tenant_id, User.login == login, User.deleted_at.is_(None)
        )
    ).first()
    if user is None:
        check_password_hash(stand_in_hash(hash_method), password)
        raise Unauthorized(N_("The login or the password is wrong."), code="invalid_login")
    if not check_password_hash(user.password_hash, password):
        raise Unauthorized(N_("The login or the password is wrong."), code="invalid_login")
    throttle.forget(counter)
    expires_at = utcnow() + ttl
    token = auth.issue(
        device.tenant_id,
        "session",
        device_id=device.device_id,
        user_id=user.id,
        expires_at=expires_at,
    )
    return Session(token=token, user=user, expires_at=expires_at)


def log_out(identity: Identity) -> None:
    """End the calling session."""
    auth.revoke_where(identity.tenant_id, kind="session", id=identity.credential_id)


def who(tenant_id: int, device_id: uuid.UUID | None, user_id: uuid.UUID | None) -> dict[str, Any]:
    """Name a device and user the way operators know them: PIN, device name, login."""
    out: dict[str, Any] = {}
    if device_id is not None:
        device = db.session.get(Device, (tenant_id, device_id))
        if device is not None:
            out.update(device_id=str(device.id), pin=device.pin, device_name=device.name)
    if user_id is not None:
        user = db.session.get(User, (tenant_id, user_id))
        if user is not None:
            out.update(login=user.login, user_name=user.name)
    return out

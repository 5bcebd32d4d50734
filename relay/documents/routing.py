"""Routing a push (SPEC §6): which instances a document gets, and who each is addressed to.

Pure rules over a ``Directory`` (who exists in the tenant), so they are tested without a
database; ``SqlDirectory`` answers the same questions from the tenant's tables.
"""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import and_, select

from relay.directory import addressees, devices
from relay.errors import N_, Invalid, NotFound
from relay.extensions import db
from relay.models import Device, Group, GroupMember, User
from relay.processes.schema import Process


@dataclass(frozen=True)
class Target:
    """Where a push asks to go: one device, users and groups, everyone, or nowhere in particular."""

    pin: str | None = None
    device_id: uuid.UUID | None = None
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    all: bool = False

    @property
    def kind(self) -> str:
        if self.pin is not None or self.device_id is not None:
            return "device"
        if self.users or self.groups:
            return "users"
        if self.all:
            return "all"
        return "none"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Target":
        """Build a target from its JSON form (a push body, or one stored normalized)."""
        if not data:
            return cls()
        device_id = data.get("device_id")
        return cls(
            pin=data.get("pin"),
            device_id=uuid.UUID(str(device_id)) if device_id else None,
            users=tuple(data.get("users") or ()),
            groups=tuple(data.get("groups") or ()),
            all=bool(data.get("all")),
        )

    def normalized(self) -> dict[str, object] | None:
        """A canonical form for storage and change detection."""
        if self.kind == "none":
            return None
        out: dict[str, object] = {}
        if self.pin is not None:
            out["pin"] = self.pin
        if self.device_id is not None:
            out["device_id"] = str(self.device_id)
        if self.users:
            out["users"] = sorted(set(self.users))
        if self.groups:
            out["groups"] = sorted(set(self.groups))
        if self.all:
            out["all"] = True
        return out


@dataclass(frozen=True)
class Addressee:
    """One addressee of an instance, with what a person needs to recognise it."""

    type: str  # device | user | group | all
    id: uuid.UUID | None = None
    pin: str | None = None
    name: str | None = None
    login: str | None = None

    @property
    def key(self) -> str:
        if self.type == "all":
            return addressees.ALL
        assert self.id is not None
        return f"{self.type}:{self.id}"

    def describe(self) -> dict[str, object]:
        """The addressee as shown in answers (Appendix A)."""
        out: dict[str, object] = {"type": self.type}
        if self.type == "device":
            out.update(device_id=str(self.id), pin=self.pin, name=self.name)
        elif self.type == "user":
            out.update(user_id=str(self.id), login=self.login, name=self.name)
        elif self.type == "group":
            out.update(group_id=str(self.id), name=self.name)
        return out


@dataclass(frozen=True)
class GroupEntry:
    addressee: Addressee
    members: tuple[Addressee, ...] = field(default=())


class Directory(Protocol):
    """Who exists in a tenant, as routing needs to know it."""

    def device_by_pin(self, pin: str) -> Addressee: ...
    def device_by_id(self, device_id: uuid.UUID) -> Addressee: ...
    def sole_active_device(self) -> Addressee | None: ...
    def users(self, logins: Sequence[str]) -> dict[str, Addressee]: ...
    def groups(self, names: Sequence[str]) -> dict[str, GroupEntry]: ...
    def all_users(self) -> list[Addressee]: ...


Plan = list[tuple[Addressee, ...]]
"""The instances to create, each given as its addressees."""


def route(process: Process, target: Target, directory: Directory) -> Plan:
    """Apply the routing rules in order and return the instances a document gets."""
    kind = target.kind
    if process.assign_to == "device":
        if kind in ("users", "all"):
            raise _not_allowed(
                N_(
                    "Business process %(key)r sends documents to a device; give a PIN or a "
                    "device id, not users or groups.",
                    key=process.key,
                )
            )
        if kind == "none":
            sole = directory.sole_active_device()
            if sole is None:
                raise Invalid(
                    N_(
                        "Business process %(key)r sends documents to a device, and the tenant "
                        "does not have exactly one active device: give a PIN or a device id.",
                        key=process.key,
                    ),
                    code="target_required",
                )
            return [(sole,)]
    elif process.has_fixed_assignees:
        if kind == "none":
            target = Target(users=tuple(process.fixed_users), groups=tuple(process.fixed_groups))
        elif kind == "all":
            raise _not_allowed(
                N_(
                    "Business process %(key)r is assigned to fixed users and groups; send to "
                    "some of them or to a device, not to everyone.",
                    key=process.key,
                )
            )
        elif kind == "users":
            # A member of a fixed group counts as one of the assignees.
            members = {
                member.login
                for entry in directory.groups(process.fixed_groups).values()
                for member in entry.members
            }
            stray_users = sorted(set(target.users) - set(process.fixed_users) - members)
            stray_groups = sorted(set(target.groups) - set(process.fixed_groups))
            if stray_users or stray_groups:
                raise _not_allowed(
                    N_(
                        "Business process %(key)r may be sent only to its assignees (users: "
                        "%(users)s; groups: %(groups)s) or to a device.",
                        key=process.key,
                        users=", ".join(process.fixed_users) or N_("none"),
                        groups=", ".join(process.fixed_groups) or N_("none"),
                    ),
                    users=stray_users,
                    groups=stray_groups,
                )
    elif kind == "none":
        raise Invalid(
            N_(
                "Business process %(key)r has no fixed assignees: name a device (PIN), users, "
                "groups, or everyone.",
                key=process.key,
            ),
            code="target_required",
        )
    return _resolve(process, target, directory)


def _resolve(process: Process, target: Target, directory: Directory) -> Plan:
    if target.pin is not None:
        return [(directory.device_by_pin(target.pin),)]
    if target.device_id is not None:
        return [(directory.device_by_id(target.device_id),)]
    if target.all:
        everyone = directory.all_users()
        if not everyone:
            raise Invalid(
                N_("There are no active users to send to: create users, or send to a device."),
                code="no_users",
            )
        if process.per_user_copy:
            return [(user,) for user in everyone]
        return [(Addressee(type="all"),)]
    users = directory.users(target.users)
    groups = directory.groups(target.groups)
    unknown_users = sorted(set(target.users) - set(users))
    unknown_groups = sorted(set(target.groups) - set(groups))
    if unknown_users or unknown_groups:
        if unknown_users and unknown_groups:
            message = N_(
                "Unknown users %(users)s and groups %(groups)s. Documents were not uploaded.",
                users=", ".join(map(repr, unknown_users)),
                groups=", ".join(map(repr, unknown_groups)),
            )
        elif unknown_users:
            message = N_(
                "Unknown user(s) %(users)s. Documents were not uploaded.",
                users=", ".join(map(repr, unknown_users)),
            )
        else:
            message = N_(
                "Unknown group(s) %(groups)s. Documents were not uploaded.",
                groups=", ".join(map(repr, unknown_groups)),
            )
        raise Invalid(
            message,
            code="unknown_assignee",
            details={"users": unknown_users, "groups": unknown_groups},
        )
    empty = sorted(name for name, entry in groups.items() if not entry.members)
    if empty:
        raise Invalid(
            N_(
                "Group %(groups)s has no members, so nobody would see the document. Documents "
                "were not uploaded.",
                groups=", ".join(map(repr, empty)),
            ),
            code="empty_group",
            details={"groups": empty},
        )
    if process.per_user_copy:
        people: dict[uuid.UUID | None, Addressee] = {u.id: u for u in users.values()}
        for entry in groups.values():
            people.update((m.id, m) for m in entry.members)
        return [(user,) for user in sorted(people.values(), key=lambda a: a.login or "")]
    shared = [users[login] for login in sorted(users)]
    shared += [groups[name].addressee for name in sorted(groups)]
    return [tuple(shared)]


def _not_allowed(message: str, **details: list[str]) -> Invalid:
    return Invalid(message, code="target_not_allowed", details=dict(details))


class SqlDirectory:
    """A tenant's devices, users and groups, read from the database."""

    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id

    def device_by_pin(self, pin: str) -> Addressee:
        return _device(devices.by_pin(self.tenant_id, pin))

    def device_by_id(self, device_id: uuid.UUID) -> Addressee:
        device = db.session.get(Device, (self.tenant_id, device_id))
        if device is None or device.status != "active":
            raise NotFound(
                N_("Device not found by id %(id)s. Documents were not uploaded.", id=device_id),
                code="device_not_found",
                details={"device_id": str(device_id)},
            )
        return _device(device)

    def sole_active_device(self) -> Addressee | None:
        rows = list(
            db.session.scalars(
                select(Device)
                .where(Device.tenant_id == self.tenant_id, Device.status == "active")
                .limit(2)
            )
        )
        return _device(rows[0]) if len(rows) == 1 else None

    def users(self, logins: Sequence[str]) -> dict[str, Addressee]:
        if not logins:
            return {}
        rows = db.session.scalars(
            select(User).where(
                User.tenant_id == self.tenant_id,
                User.login.in_(set(logins)),
                User.deleted_at.is_(None),
            )
        )
        return {user.login: _user(user) for user in rows}

    def groups(self, names: Sequence[str]) -> dict[str, GroupEntry]:
        if not names:
            return {}
        found = list(
            db.session.scalars(
                select(Group).where(
                    Group.tenant_id == self.tenant_id,
                    Group.name.in_(set(names)),
                    Group.deleted_at.is_(None),
                )
            )
        )
        members: dict[uuid.UUID, list[Addressee]] = {group.id: [] for group in found}
        if found:
            rows = db.session.execute(
                select(GroupMember.group_id, User)
                .join(
                    User,
                    and_(User.tenant_id == GroupMember.tenant_id, User.id == GroupMember.user_id),
                )
                .where(
                    GroupMember.tenant_id == self.tenant_id,
                    GroupMember.group_id.in_(members),
                    User.deleted_at.is_(None),
                )
            )
            for group_id, user in rows:
                members[group_id].append(_user(user))
        return {
            group.name: GroupEntry(
                addressee=Addressee(type="group", id=group.id, name=group.name),
                members=tuple(members[group.id]),
            )
            for group in found
        }

    def all_users(self) -> list[Addressee]:
        rows = db.session.scalars(
            select(User)
            .where(User.tenant_id == self.tenant_id, User.deleted_at.is_(None))
            .order_by(User.login)
        )
        return [_user(user) for user in rows]


def describe_keys(tenant_id: int, keys: Iterable[str]) -> dict[str, Addressee]:
    """Return the addressee behind each key (devices, users and groups read in one query each)."""
    wanted: dict[str, list[uuid.UUID]] = {"device": [], "user": [], "group": []}
    out: dict[str, Addressee] = {}
    for key in set(keys):
        kind, ident = addressees.split_key(key)
        if ident is None:
            out[key] = Addressee(type="all")
        else:
            wanted[kind].append(ident)
    if wanted["device"]:
        for device in db.session.scalars(
            select(Device).where(Device.tenant_id == tenant_id, Device.id.in_(wanted["device"]))
        ):
            out[addressees.device_key(device.id)] = _device(device)
    if wanted["user"]:
        for user in db.session.scalars(
            select(User).where(User.tenant_id == tenant_id, User.id.in_(wanted["user"]))
        ):
            out[addressees.user_key(user.id)] = _user(user)
    if wanted["group"]:
        for group in db.session.scalars(
            select(Group).where(Group.tenant_id == tenant_id, Group.id.in_(wanted["group"]))
        ):
            out[addressees.group_key(group.id)] = Addressee(
                type="group", id=group.id, name=group.name
            )
    return out


def _device(device: Device) -> Addressee:
    return Addressee(type="device", id=device.id, pin=device.pin, name=device.name)


def _user(user: User) -> Addressee:
    return Addressee(type="user", id=user.id, login=user.login, name=user.name)

"""SPEC §6: routing a push, rule by rule, against an in-memory directory and the real one."""

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from flask import Flask

from relay.directory import users
from relay.documents.routing import Addressee, GroupEntry, Plan, SqlDirectory, Target, route
from relay.errors import Invalid, NotFound, RelayError
from relay.processes.schema import Process
from tests.factories import add_device, add_user, make_process
from tests.helpers import TenantKeys

PIN_MESSAGE = "Device not found by PIN 1234. Documents were not uploaded."


# -- an in-memory Directory ------------------------------------------------------------------


def _device(pin: str, name: str = "") -> Addressee:
    return Addressee(type="device", id=uuid.uuid4(), pin=pin, name=name or f"ТСД {pin}")


def _user(login: str) -> Addressee:
    return Addressee(type="user", id=uuid.uuid4(), login=login, name=login.title())


class FakeDirectory:
    """The ``Directory`` protocol over plain dicts: active devices, live users, groups."""

    def __init__(
        self,
        devices: Sequence[Addressee] = (),
        people: Sequence[str] = (),
        groups: dict[str, Sequence[str]] | None = None,
    ) -> None:
        self.devices = {d.pin: d for d in devices}
        self.people = {login: _user(login) for login in people}
        self.group_members = {name: list(members) for name, members in (groups or {}).items()}
        self.group_ids = {name: uuid.uuid4() for name in self.group_members}
        self.calls: list[str] = []

    def device_by_pin(self, pin: str) -> Addressee:
        self.calls.append(f"pin:{pin}")
        if pin not in self.devices:
            raise NotFound(
                f"Device not found by PIN {pin}. Documents were not uploaded.",
                code="device_not_found",
                details={"pin": pin},
            )
        return self.devices[pin]

    def device_by_id(self, device_id: uuid.UUID) -> Addressee:
        self.calls.append(f"id:{device_id}")
        for device in self.devices.values():
            if device.id == device_id:
                return device
        raise NotFound("no such device", code="device_not_found")

    def sole_active_device(self) -> Addressee | None:
        return next(iter(self.devices.values())) if len(self.devices) == 1 else None

    def users(self, logins: Sequence[str]) -> dict[str, Addressee]:
        return {login: self.people[login] for login in logins if login in self.people}

    def groups(self, names: Sequence[str]) -> dict[str, GroupEntry]:
        return {
            name: GroupEntry(
                addressee=self.group(name),
                members=tuple(self.people[m] for m in self.group_members[name]),
            )
            for name in names
            if name in self.group_members
        }

    def all_users(self) -> list[Addressee]:
        return [self.people[login] for login in sorted(self.people)]

    def group(self, name: str) -> Addressee:
        return Addressee(type="group", id=self.group_ids[name], name=name)


def logins(plan: Plan) -> list[list[str | None]]:
    return [[a.login for a in instance] for instance in plan]


def raises(exc_type: type[RelayError], code: str, call: Any) -> RelayError:
    with pytest.raises(exc_type) as info:
        call()
    assert info.value.code == code, info.value.message
    return info.value


DEVICE = make_process(assign_to="device")
FREE = make_process()
FIXED = make_process(assignees={"users": ["anna", "boris"], "groups": ["pickers"]})
COPY = make_process(per_user_copy=True)
FIXED_COPY = make_process(
    per_user_copy=True, assignees={"users": ["anna"], "groups": ["pickers", "loaders"]}
)


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory(
        devices=[_device("5546"), _device("7001")],
        people=["anna", "boris", "gleb", "dina", "vera"],
        groups={"pickers": ["gleb", "anna"], "loaders": ["gleb", "dina"], "empty": []},
    )


# -- rule 1: assign_to device ----------------------------------------------------------------


def test_device_process_goes_to_the_pin_given(directory: FakeDirectory) -> None:
    plan = route(DEVICE, Target(pin="7001"), directory)
    assert plan == [(directory.devices["7001"],)]


def test_device_process_goes_to_the_device_id_given(directory: FakeDirectory) -> None:
    device = directory.devices["5546"]
    assert route(DEVICE, Target(device_id=device.id), directory) == [(device,)]


def test_device_process_without_target_picks_the_sole_device() -> None:
    only = _device("4321")
    assert route(DEVICE, Target(), FakeDirectory(devices=[only])) == [(only,)]


@pytest.mark.parametrize("count", [0, 2, 3])
def test_device_process_without_target_needs_exactly_one_device(count: int) -> None:
    directory = FakeDirectory(devices=[_device(str(5000 + i)) for i in range(count)])
    err = raises(Invalid, "target_required", lambda: route(DEVICE, Target(), directory))
    assert err.status == 422
    assert "device" in err.message


@pytest.mark.parametrize(
    "target",
    [
        Target(users=("anna",)),
        Target(groups=("pickers",)),
        Target(users=("anna",), groups=("pickers",)),
        Target(all=True),
    ],
    ids=["users", "groups", "users+groups", "all"],
)
def test_device_process_refuses_users_groups_and_all(
    directory: FakeDirectory, target: Target
) -> None:
    err = raises(Invalid, "target_not_allowed", lambda: route(DEVICE, target, directory))
    assert err.status == 422


def test_device_process_refuses_users_even_with_one_device() -> None:
    directory = FakeDirectory(devices=[_device("4321")], people=["anna"])
    raises(Invalid, "target_not_allowed", lambda: route(DEVICE, Target(users=("anna",)), directory))


# -- rule 2: assign_to users with fixed assignees --------------------------------------------


def test_fixed_assignees_are_used_when_the_target_is_omitted(directory: FakeDirectory) -> None:
    plan = route(FIXED, Target(), directory)
    people = directory.people
    assert plan == [(people["anna"], people["boris"], directory.group("pickers"))]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (Target(users=("anna",)), ["user:anna"]),
        (Target(users=("boris", "anna")), ["user:anna", "user:boris"]),
        (Target(groups=("pickers",)), ["group:pickers"]),
        (Target(users=("boris",), groups=("pickers",)), ["user:boris", "group:pickers"]),
    ],
)
def test_fixed_assignees_accept_a_subset(
    directory: FakeDirectory, target: Target, expected: list[str]
) -> None:
    (instance,) = route(FIXED, target, directory)
    assert [f"{a.type}:{a.login or a.name}" for a in instance] == expected


def test_fixed_assignees_accept_any_device(directory: FakeDirectory) -> None:
    assert route(FIXED, Target(pin="5546"), directory) == [(directory.devices["5546"],)]


def test_fixed_assignees_refuse_another_user(directory: FakeDirectory) -> None:
    err = raises(
        Invalid,
        "target_not_allowed",
        lambda: route(FIXED, Target(users=("anna", "vera")), directory),
    )
    assert err.status == 422
    assert err.details == {"users": ["vera"], "groups": []}


def test_fixed_assignees_refuse_another_group(directory: FakeDirectory) -> None:
    err = raises(
        Invalid, "target_not_allowed", lambda: route(FIXED, Target(groups=("loaders",)), directory)
    )
    assert err.details == {"users": [], "groups": ["loaders"]}


def test_fixed_assignees_refuse_a_stranger_who_does_not_even_exist(
    directory: FakeDirectory,
) -> None:
    """The process's own rule answers first: naming a non-assignee is not allowed at all."""
    err = raises(
        Invalid, "target_not_allowed", lambda: route(FIXED, Target(users=("ghost",)), directory)
    )
    assert err.details["users"] == ["ghost"]


def test_fixed_assignees_refuse_all(directory: FakeDirectory) -> None:
    raises(Invalid, "target_not_allowed", lambda: route(FIXED, Target(all=True), directory))


# -- rule 3: assign_to users without fixed assignees -----------------------------------------


def test_free_process_needs_a_target(directory: FakeDirectory) -> None:
    err = raises(Invalid, "target_required", lambda: route(FREE, Target(), directory))
    assert err.status == 422


def test_free_process_goes_to_a_device(directory: FakeDirectory) -> None:
    assert route(FREE, Target(pin="5546"), directory) == [(directory.devices["5546"],)]


def test_free_process_goes_to_users_as_one_shared_instance(directory: FakeDirectory) -> None:
    plan = route(FREE, Target(users=("vera", "anna")), directory)
    assert logins(plan) == [["anna", "vera"]]


def test_free_process_goes_to_groups(directory: FakeDirectory) -> None:
    plan = route(FREE, Target(groups=("pickers", "loaders")), directory)
    assert plan == [(directory.group("loaders"), directory.group("pickers"))]


def test_free_process_goes_to_users_and_groups_at_once(directory: FakeDirectory) -> None:
    plan = route(FREE, Target(users=("vera",), groups=("pickers",)), directory)
    assert plan == [(directory.people["vera"], directory.group("pickers"))]


def test_free_process_goes_to_everyone_as_one_instance(directory: FakeDirectory) -> None:
    assert route(FREE, Target(all=True), directory) == [(Addressee(type="all"),)]


# -- rule 4: per_user_copy -------------------------------------------------------------------


def test_per_user_copy_gives_each_user_an_instance(directory: FakeDirectory) -> None:
    plan = route(COPY, Target(users=("vera", "anna")), directory)
    assert logins(plan) == [["anna"], ["vera"]]


def test_per_user_copy_expands_groups_to_their_members(directory: FakeDirectory) -> None:
    plan = route(COPY, Target(groups=("pickers",)), directory)
    assert logins(plan) == [["anna"], ["gleb"]]
    assert all(a.type == "user" for (a,) in plan)


def test_per_user_copy_collapses_people_named_twice(directory: FakeDirectory) -> None:
    """anna directly and in pickers, gleb in both groups: one copy each."""
    plan = route(COPY, Target(users=("anna", "anna"), groups=("pickers", "loaders")), directory)
    assert logins(plan) == [["anna"], ["dina"], ["gleb"]]


def test_per_user_copy_reads_the_current_group_members(directory: FakeDirectory) -> None:
    assert logins(route(COPY, Target(groups=("pickers",)), directory)) == [["anna"], ["gleb"]]
    directory.group_members["pickers"] = ["vera"]
    assert logins(route(COPY, Target(groups=("pickers",)), directory)) == [["vera"]]


def test_per_user_copy_to_all_gives_every_active_user_an_instance(
    directory: FakeDirectory,
) -> None:
    plan = route(COPY, Target(all=True), directory)
    assert logins(plan) == [["anna"], ["boris"], ["dina"], ["gleb"], ["vera"]]


def test_per_user_copy_to_a_device_is_one_shared_instance(directory: FakeDirectory) -> None:
    assert route(COPY, Target(pin="5546"), directory) == [(directory.devices["5546"],)]


def test_per_user_copy_with_fixed_assignees_expands_them(directory: FakeDirectory) -> None:
    plan = route(FIXED_COPY, Target(), directory)
    assert logins(plan) == [["anna"], ["dina"], ["gleb"]]


# -- rule 5: unknown addressees --------------------------------------------------------------


@pytest.mark.parametrize("process", [DEVICE, FREE, FIXED], ids=["device", "free", "fixed"])
def test_unknown_pin_is_device_not_found(directory: FakeDirectory, process: Process) -> None:
    err = raises(
        NotFound, "device_not_found", lambda: route(process, Target(pin="1234"), directory)
    )
    assert err.status == 404
    assert err.message == PIN_MESSAGE


def test_unknown_user_is_unknown_assignee(directory: FakeDirectory) -> None:
    err = raises(
        Invalid,
        "unknown_assignee",
        lambda: route(FREE, Target(users=("anna", "ghost")), directory),
    )
    assert err.status == 422
    assert err.details == {"users": ["ghost"], "groups": []}
    assert "ghost" in err.message


def test_unknown_users_and_groups_are_all_listed(directory: FakeDirectory) -> None:
    err = raises(
        Invalid,
        "unknown_assignee",
        lambda: route(COPY, Target(users=("zoe", "ghost"), groups=("night", "pickers")), directory),
    )
    assert err.details == {"users": ["ghost", "zoe"], "groups": ["night"]}
    for name in ("ghost", "zoe", "night"):
        assert name in err.message


def test_empty_group_is_refused(directory: FakeDirectory) -> None:
    err = raises(
        Invalid,
        "empty_group",
        lambda: route(FREE, Target(groups=("pickers", "empty")), directory),
    )
    assert err.status == 422
    assert err.details == {"groups": ["empty"]}
    assert "empty" in err.message


def test_empty_group_is_refused_for_per_user_copy_too(directory: FakeDirectory) -> None:
    raises(
        Invalid,
        "empty_group",
        lambda: route(COPY, Target(users=("anna",), groups=("empty",)), directory),
    )


@pytest.mark.parametrize("process", [FREE, COPY], ids=["shared", "per_user_copy"])
def test_all_with_no_users_is_refused(process: Process) -> None:
    directory = FakeDirectory(devices=[_device("5546")])
    err = raises(Invalid, "no_users", lambda: route(process, Target(all=True), directory))
    assert err.status == 422


# -- the real directory (the tenant's tables) ------------------------------------------------


def test_sql_unknown_pin_message(app_ctx: Flask, tenant: TenantKeys) -> None:
    add_device(tenant.id, "5546")
    directory = SqlDirectory(tenant.id)
    err = raises(NotFound, "device_not_found", lambda: route(DEVICE, Target(pin="1234"), directory))
    assert err.status == 404
    assert err.message == PIN_MESSAGE
    assert err.details == {"pin": "1234"}


def test_sql_revoked_pin_is_device_not_found(app_ctx: Flask, tenant: TenantKeys) -> None:
    add_device(tenant.id, "1234", status="revoked")
    err = raises(
        NotFound,
        "device_not_found",
        lambda: route(FREE, Target(pin="1234"), SqlDirectory(tenant.id)),
    )
    assert err.message == PIN_MESSAGE


def test_sql_pin_of_another_tenant_is_not_found(
    app_ctx: Flask, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    add_device(other_tenant.id, "1234")
    raises(
        NotFound,
        "device_not_found",
        lambda: route(DEVICE, Target(pin="1234"), SqlDirectory(tenant.id)),
    )


def test_sql_device_by_pin_and_by_id(app_ctx: Flask, tenant: TenantKeys) -> None:
    device = add_device(tenant.id, "5546", name="Склад-1")
    directory = SqlDirectory(tenant.id)
    expected = [(Addressee(type="device", id=device.id, pin="5546", name="Склад-1"),)]
    assert route(DEVICE, Target(pin="5546"), directory) == expected
    assert route(DEVICE, Target(device_id=device.id), directory) == expected


@pytest.mark.parametrize("status", ["missing", "revoked"])
def test_sql_unknown_or_revoked_device_id(app_ctx: Flask, tenant: TenantKeys, status: str) -> None:
    device_id = add_device(tenant.id, "5546", status=status).id if status == "revoked" else None
    device_id = device_id or uuid.uuid4()
    err = raises(
        NotFound,
        "device_not_found",
        lambda: route(DEVICE, Target(device_id=device_id), SqlDirectory(tenant.id)),
    )
    assert err.status == 404


def test_sql_sole_active_device_ignores_revoked_ones(app_ctx: Flask, tenant: TenantKeys) -> None:
    add_device(tenant.id, "1111", status="revoked")
    active = add_device(tenant.id, "2222")
    ((chosen,),) = route(DEVICE, Target(), SqlDirectory(tenant.id))
    assert chosen.id == active.id
    add_device(tenant.id, "3333")
    raises(Invalid, "target_required", lambda: route(DEVICE, Target(), SqlDirectory(tenant.id)))


def test_sql_groups_expand_to_current_live_members(app_ctx: Flask, tenant: TenantKeys) -> None:
    for login in ("anna", "boris", "gleb"):
        add_user(tenant.id, login)
    group = users.create_group(tenant.id, name="pickers", member_logins=["anna", "boris"])
    directory = SqlDirectory(tenant.id)
    assert logins(route(COPY, Target(groups=("pickers",)), directory)) == [["anna"], ["boris"]]
    users.set_members(group, ["boris", "gleb"])
    users.delete_user(users.get_user(tenant.id, "gleb"))
    assert logins(route(COPY, Target(groups=("pickers",)), directory)) == [["boris"]]


def test_sql_all_means_live_users_only(app_ctx: Flask, tenant: TenantKeys) -> None:
    directory = SqlDirectory(tenant.id)
    raises(Invalid, "no_users", lambda: route(COPY, Target(all=True), directory))
    for login in ("boris", "anna"):
        add_user(tenant.id, login)
    users.delete_user(users.get_user(tenant.id, "boris"))
    assert logins(route(COPY, Target(all=True), directory)) == [["anna"]]


def test_sql_deleted_user_and_group_are_unknown(app_ctx: Flask, tenant: TenantKeys) -> None:
    add_user(tenant.id, "anna")
    add_user(tenant.id, "boris")
    users.delete_user(users.get_user(tenant.id, "boris"))
    users.delete_group(users.create_group(tenant.id, name="night", member_logins=["anna"]))
    err = raises(
        Invalid,
        "unknown_assignee",
        lambda: route(
            FREE, Target(users=("anna", "boris"), groups=("night",)), SqlDirectory(tenant.id)
        ),
    )
    assert err.details == {"users": ["boris"], "groups": ["night"]}


def test_sql_group_whose_members_left_is_empty(app_ctx: Flask, tenant: TenantKeys) -> None:
    add_user(tenant.id, "anna")
    users.create_group(tenant.id, name="night", member_logins=["anna"])
    users.delete_user(users.get_user(tenant.id, "anna"))
    err = raises(
        Invalid,
        "empty_group",
        lambda: route(FREE, Target(groups=("night",)), SqlDirectory(tenant.id)),
    )
    assert err.details == {"groups": ["night"]}

"""Operators and groups: unique logins, sessions, lockout, password change, memberships; the
stand-in hash for unknown logins costs what a real one costs."""

import statistics
import time
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from relay import settings
from relay.db import transaction
from relay.directory import throttle, users
from relay.errors import Conflict, Invalid, NotFound, TooManyRequests, Unauthorized
from relay.extensions import db
from relay.models import FailureCounter, User
from relay.timeutil import utcnow
from tests.factories import FAST_HASH, add_group, add_user, enroll, identity
from tests.helpers import TenantKeys

FAILURES = 3
LOCKOUT = timedelta(minutes=5)


def log_in(device_token: str, login: str, password: str) -> users.Session:
    """Log in as the app does: one transaction (a wrong password commits its count anyway)."""
    with transaction():
        return users.log_in(
            identity(device_token),
            login=login,
            password=password,
            ttl=timedelta(hours=1),
            lockout=throttle.Limit(FAILURES, LOCKOUT),
            hash_method=FAST_HASH,
        )


def wrong_password(device_token: str, login: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        log_in(device_token, login, "wrong-password")
    assert info.value.code == "invalid_login"
    return info.value


def reload(tenant_id: int, login: str) -> User:
    db.session.expire_all()
    return users.get_user(tenant_id, login)


def inbox_seqs(tenant_id: int) -> dict[str, int]:
    db.session.expire_all()
    rows = db.session.scalars(select(User).where(User.tenant_id == tenant_id))
    return {user.login: user.inbox_seq for user in rows}


@pytest.fixture
def terminal(app_ctx: Flask, tenant: TenantKeys) -> str:
    """The device token of an enrolled terminal, with the operator ivanov (password secret-1)."""
    with transaction():
        enrolled = enroll(tenant.id)
        add_user(tenant.id, "ivanov")
    return enrolled.token


# -- users -------------------------------------------------------------------------------------


def test_the_password_is_kept_only_as_a_hash(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        user = add_user(tenant.id, "ivanov", password="s3cret-pass")
    stored = reload(tenant.id, "ivanov").password_hash
    assert "s3cret-pass" not in stored
    assert stored.startswith("pbkdf2:sha256:1000$")
    assert check_password_hash(stored, "s3cret-pass")
    assert throttle.locked_until(tenant.id, user.login, FAILURES) is None


def test_a_login_is_unique_among_live_users(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        add_user(tenant.id, "ivanov")
    with pytest.raises(Conflict) as info, transaction():
        add_user(tenant.id, "ivanov")
    assert (info.value.code, info.value.details) == ("user_exists", {"login": "ivanov"})
    with transaction():
        users.delete_user(users.get_user(tenant.id, "ivanov"))
    with transaction():
        again = add_user(tenant.id, "ivanov")
    assert reload(tenant.id, "ivanov").id == again.id


def test_the_same_login_in_another_tenant_is_another_user(
    app_ctx: Flask, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    with transaction():
        mine, theirs = add_user(tenant.id, "ivanov"), add_user(other_tenant.id, "ivanov")
    assert mine.id != theirs.id
    with transaction():
        users.delete_user(users.get_user(tenant.id, "ivanov"))
    assert reload(other_tenant.id, "ivanov").id == theirs.id


def test_an_unknown_or_deleted_user_is_not_found(app_ctx: Flask, tenant: TenantKeys) -> None:
    with pytest.raises(NotFound) as info:
        users.get_user(tenant.id, "nobody")
    assert info.value.code == "user_not_found"
    with transaction():
        add_user(tenant.id, "gone")
    with transaction():
        users.delete_user(users.get_user(tenant.id, "gone"))
    with pytest.raises(NotFound):
        users.get_user(tenant.id, "gone")


# -- sessions and lockout ------------------------------------------------------------------------


def test_logging_in_opens_a_session_of_the_user_on_the_device(
    terminal: str, tenant: TenantKeys
) -> None:
    session = log_in(terminal, "ivanov", "secret-1")
    operator = identity(session.token)
    assert (operator.kind, operator.user_login) == ("session", "ivanov")
    assert operator.device_id == identity(terminal).device_id


def test_a_wrong_password_and_an_unknown_login_get_the_same_answer(terminal: str) -> None:
    wrong = wrong_password(terminal, "ivanov")
    with pytest.raises(Unauthorized) as unknown:
        log_in(terminal, "nobody", "wrong-password")
    assert (unknown.value.code, unknown.value.message) == (wrong.code, wrong.message)


def test_wrong_passwords_in_a_row_lock_the_user(terminal: str, tenant: TenantKeys) -> None:
    for _ in range(FAILURES - 1):
        wrong_password(terminal, "ivanov")
    assert throttle.locked_until(tenant.id, "ivanov", FAILURES) is None
    wrong_password(terminal, "ivanov")
    until = throttle.locked_until(tenant.id, "ivanov", FAILURES)
    assert until is not None
    assert until > utcnow() + LOCKOUT - timedelta(seconds=30)
    with pytest.raises(TooManyRequests) as info:
        log_in(terminal, "ivanov", "secret-1")  # even the right password
    assert info.value.code == "login_locked"
    retry_after = int(info.value.headers["Retry-After"])
    assert 0 < retry_after <= LOCKOUT.total_seconds() + 1


def test_a_success_resets_the_count_of_wrong_passwords(terminal: str, tenant: TenantKeys) -> None:
    for _ in range(FAILURES - 1):
        wrong_password(terminal, "ivanov")
    log_in(terminal, "ivanov", "secret-1")
    for _ in range(FAILURES - 1):
        wrong_password(terminal, "ivanov")
    assert throttle.locked_until(tenant.id, "ivanov", FAILURES) is None
    assert identity(log_in(terminal, "ivanov", "secret-1").token).user_login == "ivanov"


def test_a_lockout_ends_by_itself(terminal: str, tenant: TenantKeys) -> None:
    for _ in range(FAILURES):
        wrong_password(terminal, "ivanov")
    with transaction():
        db.session.execute(
            update(FailureCounter).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert identity(log_in(terminal, "ivanov", "secret-1").token).user_login == "ivanov"


def test_a_new_password_lifts_the_lockout_and_ends_sessions(
    terminal: str, tenant: TenantKeys
) -> None:
    session = log_in(terminal, "ivanov", "secret-1")
    for _ in range(FAILURES):
        wrong_password(terminal, "ivanov")
    with transaction():
        users.update_user(
            users.get_user(tenant.id, "ivanov"),
            name=None,
            password="new-pass",
            hash_method=FAST_HASH,
        )
    assert throttle.locked_until(tenant.id, "ivanov", FAILURES) is None
    with pytest.raises(Unauthorized):
        identity(session.token)
    with pytest.raises(Unauthorized):
        log_in(terminal, "ivanov", "secret-1")  # the old password
    assert identity(log_in(terminal, "ivanov", "new-pass").token).user_login == "ivanov"


def test_a_rename_keeps_the_password_and_the_sessions(terminal: str, tenant: TenantKeys) -> None:
    session = log_in(terminal, "ivanov", "secret-1")
    with transaction():
        users.update_user(
            users.get_user(tenant.id, "ivanov"),
            name="Иванов И.",
            password=None,
            hash_method=FAST_HASH,
        )
    assert identity(session.token).user_name == "Иванов И."
    log_in(terminal, "ivanov", "secret-1")


def test_logging_out_ends_only_that_session(terminal: str) -> None:
    first = log_in(terminal, "ivanov", "secret-1")
    second = log_in(terminal, "ivanov", "secret-1")
    with transaction():
        users.log_out(identity(first.token))
    with pytest.raises(Unauthorized):
        identity(first.token)
    assert identity(second.token).user_login == "ivanov"
    assert identity(terminal).kind == "device"


def test_deleting_a_user_ends_sessions_and_memberships(terminal: str, tenant: TenantKeys) -> None:
    session = log_in(terminal, "ivanov", "secret-1")
    with transaction():
        add_group(tenant.id, "pickers", ["ivanov"])
    with transaction():
        users.delete_user(users.get_user(tenant.id, "ivanov"))
    with pytest.raises(Unauthorized):
        identity(session.token)
    with pytest.raises(Unauthorized):
        log_in(terminal, "ivanov", "secret-1")
    assert users.members(users.get_group(tenant.id, "pickers")) == []


# -- groups --------------------------------------------------------------------------------------


def test_a_group_lists_its_live_members_by_login(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        for login in ("vera", "anna", "gleb"):
            add_user(tenant.id, login)
        group = add_group(tenant.id, "pickers", ["vera", "anna", "gleb"])
    assert [u.login for u in users.members(group)] == ["anna", "gleb", "vera"]
    assert users.group_names(users.get_user(tenant.id, "anna")) == ["pickers"]


def test_unknown_members_are_all_named_and_nothing_is_created(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    with transaction():
        add_user(tenant.id, "anna")
    with pytest.raises(Invalid) as info, transaction():
        add_group(tenant.id, "pickers", ["anna", "zoe", "boris"])
    assert info.value.code == "unknown_user"
    assert info.value.details["logins"] == ["boris", "zoe"]
    with pytest.raises(NotFound):
        users.get_group(tenant.id, "pickers")


def test_group_names_are_unique_among_live_groups(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        add_group(tenant.id, "pickers")
        loaders = add_group(tenant.id, "loaders")
    with pytest.raises(Conflict) as info, transaction():
        add_group(tenant.id, "pickers")
    assert info.value.code == "group_exists"
    with pytest.raises(Conflict), transaction():
        users.rename_group(users.get_group(tenant.id, "loaders"), "pickers")
    with transaction():
        users.rename_group(users.get_group(tenant.id, "loaders"), "loaders")  # a no-op
        users.delete_group(users.get_group(tenant.id, "pickers"))
    with transaction():
        users.rename_group(users.get_group(tenant.id, "loaders"), "pickers")
    assert users.get_group(tenant.id, "pickers").id == loaders.id


def test_a_change_of_membership_bumps_the_inbox_of_exactly_those_users(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    with transaction():
        for login in ("anna", "boris", "gleb"):
            add_user(tenant.id, login)
        add_group(tenant.id, "pickers", ["anna", "boris"])
    before = inbox_seqs(tenant.id)
    with transaction():
        users.set_members(users.get_group(tenant.id, "pickers"), ["boris", "gleb"])
    after = inbox_seqs(tenant.id)
    assert after["anna"] > before["anna"]  # left
    assert after["gleb"] > before["gleb"]  # joined
    assert after["boris"] == before["boris"]  # stayed
    with transaction():
        users.set_members(users.get_group(tenant.id, "pickers"), ["gleb", "boris"])
    assert inbox_seqs(tenant.id) == after


def test_deleting_a_group_empties_it(app_ctx: Flask, tenant: TenantKeys) -> None:
    with transaction():
        add_user(tenant.id, "anna")
        add_group(tenant.id, "pickers", ["anna"])
    with transaction():
        users.delete_group(users.get_group(tenant.id, "pickers"))
    assert users.group_names(users.get_user(tenant.id, "anna")) == []
    with pytest.raises(NotFound) as info:
        users.get_group(tenant.id, "pickers")
    assert info.value.code == "group_not_found"


def _median_check_seconds(hashed: str, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        check_password_hash(hashed, "a-wrong-password")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_an_unknown_login_costs_what_a_known_one_costs() -> None:
    """The shipped method (scrypt): a wrong password for a real and for a missing login."""
    method = settings.PASSWORD_HASH_METHOD
    real = generate_password_hash("the-operator's-password", method=method)
    stand_in = users.stand_in_hash(method)
    assert stand_in.split("$", 1)[0] == real.split("$", 1)[0]  # same method and parameters
    known, unknown = _median_check_seconds(real), _median_check_seconds(stand_in)
    assert 0.5 <= unknown / known <= 2, (known, unknown)
    assert known > 0.005  # scrypt really is slow: the test measures something


def test_the_stand_in_follows_the_configured_method() -> None:
    assert users.stand_in_hash("pbkdf2:sha256:1000").startswith("pbkdf2:sha256:1000$")
    assert users.stand_in_hash("scrypt") == users.stand_in_hash("scrypt")

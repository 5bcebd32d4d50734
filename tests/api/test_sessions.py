"""Operator sessions on terminals (SPEC §3, §9, §12, Appendix A)."""

from datetime import timedelta

from flask import Flask
from sqlalchemy import update
from werkzeug.test import TestResponse

from relay.extensions import db
from relay.ids import hash_token
from relay.models import Credential
from relay.timeutil import utcnow
from tests.helpers import Client, TenantKeys, Terminal, assert_error

SESSIONS = "/api/v1/terminal/sessions"
INBOX = "/api/v1/terminal/documents"


def log_in(api: Client, terminal: Terminal, login: str, password: str) -> TestResponse:
    return api.post(SESSIONS, terminal.token, {"login": login, "password": password})


def test_login_with_the_device_token_opens_a_session(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234", name="Иванов И.")
    response = log_in(api, terminal, "ivanov", "pass-1234")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["session_token"].startswith("relay_ses_")
    assert body["user"] == {"login": "ivanov", "name": "Иванов И."}
    assert api.get(INBOX, body["session_token"]).status_code == 200


def test_wrong_password_and_unknown_login_get_the_same_401(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    wrong = assert_error(log_in(api, terminal, "ivanov", "nope-nope"), 401, "invalid_login")
    unknown = assert_error(log_in(api, terminal, "nobody", "nope-nope"), 401, "invalid_login")
    assert wrong == unknown


def test_login_needs_a_device_token(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "ivanov", password="pass-1234")
    body = {"login": "ivanov", "password": "pass-1234"}
    assert_error(api.post(SESSIONS, None, body), 401, "unauthorized")
    assert_error(api.post(SESSIONS, "relay_dev_not-a-real-token", body), 401, "unauthorized")
    assert_error(api.post(SESSIONS, tenant.accounting_key, body), 403, "forbidden")
    assert_error(api.post(SESSIONS, tenant.admin_key, body), 403, "forbidden")


def test_five_wrong_passwords_lock_the_user(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    api.user(tenant, "petrov", password="pass-5678")
    for _ in range(5):
        assert_error(log_in(api, terminal, "ivanov", "wrong-pass"), 401, "invalid_login")
    locked = log_in(api, terminal, "ivanov", "pass-1234")
    assert_error(locked, 429, "login_locked")
    assert int(locked.headers["Retry-After"]) > 60
    assert_error(log_in(api, terminal, "ivanov", "wrong-pass"), 429, "login_locked")
    # Only that user is locked.
    assert log_in(api, terminal, "petrov", "pass-5678").status_code == 201
    user = api.get("/api/v1/admin/users/ivanov", tenant.admin_key).json
    assert user["locked_until"] is not None


def test_a_right_password_resets_the_count_of_wrong_ones(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    for _ in range(4):
        assert_error(log_in(api, terminal, "ivanov", "wrong-pass"), 401, "invalid_login")
    assert log_in(api, terminal, "ivanov", "pass-1234").status_code == 201
    for _ in range(4):
        assert_error(log_in(api, terminal, "ivanov", "wrong-pass"), 401, "invalid_login")
    assert log_in(api, terminal, "ivanov", "pass-1234").status_code == 201


def test_a_new_password_lifts_the_lock_and_ends_sessions(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    session = api.login(terminal, "ivanov", "pass-1234")
    assert api.get(INBOX, session.bearer).status_code == 200
    for _ in range(5):
        log_in(api, terminal, "ivanov", "wrong-pass")
    assert_error(log_in(api, terminal, "ivanov", "pass-1234"), 429, "login_locked")

    patched = api.patch("/api/v1/admin/users/ivanov", tenant.admin_key, {"password": "new-pass-1"})
    assert patched.status_code == 200, patched.json
    assert patched.json["locked_until"] is None
    assert_error(api.get(INBOX, session.bearer), 401, "unauthorized")
    assert_error(log_in(api, terminal, "ivanov", "pass-1234"), 401, "invalid_login")
    fresh = log_in(api, terminal, "ivanov", "new-pass-1")
    assert fresh.status_code == 201, fresh.json
    assert api.get(INBOX, fresh.json["session_token"]).status_code == 200
    # The device token itself was not touched.
    assert api.get(INBOX, terminal.token).status_code == 200


def test_a_session_cannot_open_another_session(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    api.user(tenant, "petrov", password="pass-5678")
    session = api.login(terminal, "ivanov", "pass-1234")
    response = api.post(SESSIONS, session.bearer, {"login": "petrov", "password": "pass-5678"})
    assert_error(response, 403, "forbidden")


def test_logout_ends_the_session_only(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    session = api.login(terminal, "ivanov", "pass-1234")
    other = api.login(terminal, "ivanov", "pass-1234")
    response = api.delete(f"{SESSIONS}/current", session.bearer)
    assert response.status_code == 204, response.data
    assert_error(api.get(INBOX, session.bearer), 401, "unauthorized")
    assert_error(api.delete(f"{SESSIONS}/current", session.bearer), 401, "unauthorized")
    # Another session of the same user and the device token keep working.
    assert api.get(INBOX, other.bearer).status_code == 200
    assert api.get(INBOX, terminal.token).status_code == 200


def test_logout_needs_a_session_token(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    assert_error(api.delete(f"{SESSIONS}/current", terminal.token), 403, "forbidden")
    assert api.get(INBOX, terminal.token).status_code == 200


def test_revoking_a_device_kills_its_token_and_its_sessions(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    other = api.enroll(tenant, name="Склад-2")
    api.user(tenant, "ivanov", password="pass-1234")
    session = api.login(terminal, "ivanov", "pass-1234")
    other_session = api.login(other, "ivanov", "pass-1234")
    revoked = api.post(f"/api/v1/admin/devices/{terminal.device_id}/revoke", tenant.admin_key)
    assert revoked.status_code == 200, revoked.json
    assert_error(api.get(INBOX, terminal.token), 401, "unauthorized")
    assert_error(api.get(INBOX, session.bearer), 401, "unauthorized")
    assert_error(log_in(api, terminal, "ivanov", "pass-1234"), 401, "unauthorized")
    # The user's session on another device is not affected.
    assert api.get(INBOX, other_session.bearer).status_code == 200
    assert api.get(INBOX, other.token).status_code == 200


def test_deleting_a_user_ends_their_sessions(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    api.user(tenant, "petrov", password="pass-5678")
    session = api.login(terminal, "ivanov", "pass-1234")
    kept = api.login(terminal, "petrov", "pass-5678")
    assert api.delete("/api/v1/admin/users/ivanov", tenant.admin_key).status_code == 204
    assert_error(api.get(INBOX, session.bearer), 401, "unauthorized")
    assert_error(log_in(api, terminal, "ivanov", "pass-1234"), 401, "invalid_login")
    assert api.get(INBOX, kept.bearer).status_code == 200
    assert api.get(INBOX, terminal.token).status_code == 200


def test_a_session_of_another_tenant_sees_nothing_here(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    api.user(other_tenant, "ivanov", password="pass-1234")
    # The login exists only in the other tenant: this device's tenant does not know it.
    assert_error(log_in(api, terminal, "ivanov", "pass-1234"), 401, "invalid_login")


def test_an_expired_session_is_refused(api: Client, tenant: TenantKeys, app_ctx: Flask) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    session = api.login(terminal, "ivanov", "pass-1234")
    assert session.session_token is not None
    db.session.execute(
        update(Credential)
        .where(Credential.token_hash == hash_token(session.session_token))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert_error(api.get(INBOX, session.bearer), 401, "unauthorized")
    assert api.get(INBOX, terminal.token).status_code == 200


def test_repeated_failed_logins_from_one_address_are_rate_limited(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    addr = {"environ_base": {"REMOTE_ADDR": "10.9.9.9"}}
    statuses = []
    for n in range(60):
        # A different unknown login each time: no user lockout, only the address limit.
        response = api.post(
            SESSIONS, terminal.token, {"login": f"ghost-{n}", "password": "x-x-x-x"}, **addr
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {401}
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    # Another address still logs in.
    other = api.post(
        SESSIONS,
        terminal.token,
        {"login": "ivanov", "password": "pass-1234"},
        environ_base={"REMOTE_ADDR": "10.8.8.8"},
    )
    assert other.status_code == 201, other.json


def test_many_successful_logins_are_not_throttled(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    for n in range(40):
        response = log_in(api, terminal, "ivanov", "pass-1234")
        assert response.status_code == 201, (n, response.json)


def test_an_unknown_login_is_locked_and_answered_like_a_known_one(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivanov", password="pass-1234")
    answers = {}
    for login in ("ivanov", "nobody"):
        for _ in range(5):
            assert_error(log_in(api, terminal, login, "wrong-pass"), 401, "invalid_login")
        locked = log_in(api, terminal, login, "wrong-pass")
        error = assert_error(locked, 429, "login_locked")
        answers[login] = (
            error["message"].replace(repr(login), "<login>"),
            error["details"],
            locked.headers["Retry-After"],
        )
    assert answers["ivanov"] == answers["nobody"]


def test_a_lockout_holds_on_one_terminal_only(api: Client, tenant: TenantKeys) -> None:
    """Whoever holds one device token cannot lock an operator out of the other terminals."""
    first, second = api.enroll(tenant, serial="A"), api.enroll(tenant, serial="B")
    api.user(tenant, "ivanov", password="pass-1234")
    for _ in range(5):
        assert_error(log_in(api, first, "ivanov", "wrong-pass"), 401, "invalid_login")
    assert_error(log_in(api, first, "ivanov", "pass-1234"), 429, "login_locked")
    assert log_in(api, second, "ivanov", "pass-1234").status_code == 201
    # The other terminal's failures are its own count.
    for _ in range(4):
        assert_error(log_in(api, second, "ivanov", "wrong-pass"), 401, "invalid_login")
    assert log_in(api, second, "ivanov", "pass-1234").status_code == 201

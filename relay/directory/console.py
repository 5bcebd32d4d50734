"""Admin-console accounts, their sign-in sessions, and the audit list of console changes.

A session's id travels in the console's signed cookie; the row is what makes signing out and
the idle time-out real (a copied cookie dies with its row). The admin key may sign in only
while the tenant has no console account, and then only to create one.
"""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from relay.directory import auth
from relay.errors import N_, Conflict, Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized
from relay.extensions import db
from relay.ids import hash_token, parse_uuid
from relay.models import AuditEntry, ConsoleAccount, ConsoleSession, Credential, Tenant
from relay.paging import Page, page
from relay.timeutil import utcnow

LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
PASSWORD_MIN_LENGTH = 8
ADMIN_KEY_ACTOR = "admin key"
# Checked against when the login is unknown, so both cases take the time of one hash.
_DUMMY_HASH = generate_password_hash("relay-console-timing", method="pbkdf2:sha256:1000")


@dataclass(frozen=True)
class Signed:
    """Who a console request is: the tenant, the session, and the account (none: admin key)."""

    tenant_id: int
    tenant_name: str
    session_id: uuid.UUID
    account_id: uuid.UUID | None
    login: str | None

    @property
    def actor(self) -> str:
        """The name the audit list records."""
        return self.login or ADMIN_KEY_ACTOR

    @property
    def identity(self) -> auth.Identity:
        """The identity the domain records in document timelines (as the admin)."""
        return auth.Identity(
            tenant_id=self.tenant_id,
            tenant_name=self.tenant_name,
            kind="admin",
            credential_id=self.session_id,
        )


def check_login(login: str) -> str:
    """Return a valid account login or raise ``Invalid`` naming the field."""
    login = login.strip()
    if not LOGIN_PATTERN.match(login):
        raise Invalid(
            N_("A login is 1 to 64 letters, digits, '.', '_', '@' or '-'."),
            code="invalid_login_name",
            details={"fields": {"login": ["Letters, digits, . _ @ - (1 to 64)."]}},
        )
    return login


def check_password(password: str) -> str:
    """Return the password or raise ``Invalid`` when it is too short."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise Invalid(
            N_("A password has at least %(count)s characters.", count=PASSWORD_MIN_LENGTH),
            code="password_too_short",
            details={"fields": {"password": [f"At least {PASSWORD_MIN_LENGTH} characters."]}},
        )
    return password


def count_accounts(tenant_id: int) -> int:
    """How many console accounts the tenant has."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(ConsoleAccount)
            .where(ConsoleAccount.tenant_id == tenant_id)
        )
        or 0
    )


def create_account(
    tenant_id: int, *, login: str, name: str, password: str, hash_method: str
) -> ConsoleAccount:
    """Create a console account; the password is kept only as a slow hash."""
    login = check_login(login)
    check_password(password)
    taken = db.session.scalars(
        select(ConsoleAccount.id).where(
            ConsoleAccount.tenant_id == tenant_id, ConsoleAccount.login == login
        )
    ).first()
    if taken is not None:
        raise Conflict(
            N_("A console account %(login)r already exists.", login=login),
            code="account_exists",
            details={"fields": {"login": ["Already taken."]}},
        )
    account = ConsoleAccount(
        tenant_id=tenant_id,
        login=login,
        name=name.strip()[:200],
        password_hash=generate_password_hash(password, method=hash_method),
    )
    db.session.add(account)
    db.session.flush()
    return account


def get_account(tenant_id: int, account_id: uuid.UUID | None) -> ConsoleAccount:
    """Return an account of the tenant or raise 404."""
    account = db.session.get(ConsoleAccount, (tenant_id, account_id)) if account_id else None
    if account is None:
        raise NotFound(
            N_("There is no console account %(id)s.", id=account_id), code="account_not_found"
        )
    return account


def list_accounts(tenant_id: int) -> list[ConsoleAccount]:
    """Return the tenant's console accounts by login."""
    return list(
        db.session.scalars(
            select(ConsoleAccount)
            .where(ConsoleAccount.tenant_id == tenant_id)
            .order_by(ConsoleAccount.login)
        )
    )


def set_password(account: ConsoleAccount, password: str, *, hash_method: str) -> None:
    """Set a new password: it lifts a lockout and ends the account's sessions."""
    check_password(password)
    account.password_hash = generate_password_hash(password, method=hash_method)
    account.failed_logins = 0
    account.locked_until = None
    end_sessions(account.tenant_id, account_id=account.id)


def set_disabled(account: ConsoleAccount, disabled: bool) -> None:
    """Disable an account (its sessions end) or enable it again."""
    account.disabled_at = utcnow() if disabled else None
    if disabled:
        end_sessions(account.tenant_id, account_id=account.id)


def _tenant(name: str) -> Tenant:
    tenant = db.session.scalars(select(Tenant).where(Tenant.name == name)).first()
    if tenant is None:
        raise Unauthorized(N_("The tenant, login or password is wrong."), code="invalid_login")
    return tenant


def sign_in(
    tenant_name: str,
    login: str,
    password: str,
    *,
    lockout_failures: int,
    lockout: timedelta,
) -> ConsoleSession:
    """Check a login and password and open a session.

    Wrong passwords are counted on the account and commit even though the sign-in fails:
    after ``lockout_failures`` in a row the account is locked for ``lockout``.
    """
    tenant = _tenant(tenant_name)
    account = db.session.scalars(
        select(ConsoleAccount)
        .where(ConsoleAccount.tenant_id == tenant.id, ConsoleAccount.login == login.strip())
        .with_for_update()
    ).first()
    now = utcnow()
    if account is not None and account.locked_until is not None and account.locked_until > now:
        raise TooManyRequests(
            N_(
                "Too many wrong passwords for this account: try again later or ask another "
                "admin to set a new password."
            ),
            code="login_locked",
            retry_after=int((account.locked_until - now).total_seconds()) + 1,
        )
    if account is None:
        check_password_hash(_DUMMY_HASH, password)
        raise Unauthorized(N_("The tenant, login or password is wrong."), code="invalid_login")
    if not check_password_hash(account.password_hash, password):
        account.failed_logins += 1
        if account.failed_logins >= lockout_failures:
            account.failed_logins = 0
            account.locked_until = now + lockout
        db.session.commit()
        raise Unauthorized(N_("The tenant, login or password is wrong."), code="invalid_login")
    if account.disabled_at is not None:
        raise Forbidden(N_("This console account is disabled."), code="account_disabled")
    account.failed_logins = 0
    account.locked_until = None
    return _open(tenant.id, account.id)


def sign_in_with_admin_key(admin_key: str) -> ConsoleSession:
    """Open a session with the tenant's admin key: only while the tenant has no account."""
    credential = db.session.scalars(
        select(Credential).where(
            Credential.token_hash == hash_token(admin_key.strip()),
            Credential.kind == "admin",
            Credential.revoked_at.is_(None),
        )
    ).first()
    if credential is None:
        raise Unauthorized(N_("The admin key is wrong."), code="invalid_login")
    if count_accounts(credential.tenant_id):
        raise Forbidden(
            N_(
                "This tenant has console accounts: sign in with one. The admin key signs in only "
                "to create the first account."
            ),
            code="admin_key_sign_in_closed",
        )
    return _open(credential.tenant_id, None)


def _open(tenant_id: int, account_id: uuid.UUID | None) -> ConsoleSession:
    session = ConsoleSession(tenant_id=tenant_id, account_id=account_id)
    db.session.add(session)
    db.session.flush()
    return session


def resume(
    tenant_id: int, session_id: uuid.UUID, *, idle: timedelta
) -> tuple[Signed, datetime] | None:
    """Return who holds a live session and when it was last seen (None: ended, idle, gone)."""
    row = db.session.execute(
        select(ConsoleSession, ConsoleAccount, Tenant.name)
        .join(Tenant, Tenant.id == ConsoleSession.tenant_id)
        .outerjoin(
            ConsoleAccount,
            (ConsoleAccount.tenant_id == ConsoleSession.tenant_id)
            & (ConsoleAccount.id == ConsoleSession.account_id),
        )
        .where(ConsoleSession.tenant_id == tenant_id, ConsoleSession.id == session_id)
    ).first()
    if row is None:
        return None
    session, account, tenant_name = row
    now = utcnow()
    if session.ended_at is not None or now - session.last_seen_at > idle:
        return None
    if session.account_id is not None and (account is None or account.disabled_at is not None):
        return None
    signed = Signed(
        tenant_id=tenant_id,
        tenant_name=str(tenant_name),
        session_id=session.id,
        account_id=session.account_id,
        login=account.login if account is not None else None,
    )
    return signed, session.last_seen_at


def touch(tenant_id: int, session_id: uuid.UUID) -> None:
    """Note that a session was used now (the idle time-out counts from here)."""
    db.session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.tenant_id == tenant_id, ConsoleSession.id == session_id)
        .values(last_seen_at=utcnow())
    )


def sign_out(tenant_id: int, session_id: uuid.UUID) -> None:
    """End one session: its cookie no longer opens the console."""
    db.session.execute(
        update(ConsoleSession)
        .where(
            ConsoleSession.tenant_id == tenant_id,
            ConsoleSession.id == session_id,
            ConsoleSession.ended_at.is_(None),
        )
        .values(ended_at=utcnow())
    )


def end_sessions(tenant_id: int, *, account_id: uuid.UUID | None) -> None:
    """End every live session of an account (``None``: the admin key's sessions)."""
    match = (
        ConsoleSession.account_id.is_(None)
        if account_id is None
        else ConsoleSession.account_id == account_id
    )
    db.session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.tenant_id == tenant_id, match, ConsoleSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


# -- audit -----------------------------------------------------------------------------------


def record(
    signed: Signed, action: str, target: str = "", details: Mapping[str, Any] | None = None
) -> None:
    """Write one console change to the audit list, in the transaction that made it."""
    db.session.add(
        AuditEntry(
            tenant_id=signed.tenant_id,
            actor=signed.actor,
            action=action,
            target=target[:300],
            details=dict(details or {}),
        )
    )


def audit_page(
    tenant_id: int, *, before: tuple[datetime, uuid.UUID] | None, limit: int
) -> Page[AuditEntry]:
    """Return a page of the audit list, newest first."""
    stmt = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if before is not None:
        at, entry_id = before
        stmt = stmt.where(
            (AuditEntry.at < at) | ((AuditEntry.at == at) & (AuditEntry.id < entry_id))
        )
    rows = list(
        db.session.scalars(
            stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit + 1)
        )
    )
    return page(rows, limit, audit_cursor)


def audit_cursor(entry: AuditEntry) -> str:
    """The cursor of the audit list: the entry's time and id."""
    return f"{entry.at.isoformat()}_{entry.id.hex}"


def decode_audit_cursor(text: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Decode an audit-list cursor; anything malformed means the first page."""
    if not text or "_" not in text:
        return None
    at_text, _, id_text = text.rpartition("_")
    entry_id = parse_uuid(id_text)
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        return None
    if entry_id is None or at.tzinfo is None:
        return None
    return at, entry_id

"""Credentials: issuing prefixed tokens, and turning a bearer token into an identity."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, bindparam, select, update

from relay.errors import N_, Forbidden, Unauthorized
from relay.extensions import db
from relay.ids import hash_token, new_token
from relay.models import Credential, Device, Tenant, User
from relay.timeutil import utcnow

Kind = Literal["admin", "accounting", "device", "session"]
Role = Literal["admin", "accounting", "terminal"]

# The prefix names the kind, so a leaked token is recognisable (and matchable by secret
# scanners) and a token of the wrong kind is refused before any lookup.
PREFIXES: dict[Kind, str] = {
    "admin": "relay_adm",
    "accounting": "relay_acc",
    "device": "relay_dev",
    "session": "relay_ses",
}
_KIND_BY_PREFIX = {prefix: kind for kind, prefix in PREFIXES.items()}
_ROLE_KINDS: dict[Role, frozenset[str]] = {
    "admin": frozenset({"admin"}),
    "accounting": frozenset({"admin", "accounting"}),
    "terminal": frozenset({"device", "session"}),
}
_ROLE_NEEDS: dict[Role, str] = {
    "admin": N_("the tenant's admin key"),
    "accounting": N_("the accounting key (or the admin key)"),
    "terminal": N_("a device token or an operator session token"),
}
_CREDENTIALS: dict[str, str] = {
    "admin": N_("an admin key"),
    "accounting": N_("an accounting key"),
    "device": N_("a device token"),
    "session": N_("a session token"),
}


@dataclass(frozen=True)
class Identity:
    """Who is calling: a tenant, a credential kind, and for terminals the device and user."""

    tenant_id: int
    tenant_name: str
    kind: str
    credential_id: uuid.UUID
    all_inbox_seq: int = 0
    device_id: uuid.UUID | None = None
    device_pin: str | None = None
    device_name: str | None = None
    device_mode: str | None = None
    device_inbox_seq: int = 0
    device_last_seen_at: datetime | None = None
    user_id: uuid.UUID | None = None
    user_login: str | None = None
    user_name: str | None = None
    user_inbox_seq: int = 0

    @property
    def actor(self) -> str:
        """The role recorded in document timelines."""
        if self.kind == "session":
            return "user"
        return self.kind

    def has_role(self, role: Role) -> bool:
        return self.kind in _ROLE_KINDS[role]


def issue(
    tenant_id: int,
    kind: Kind,
    *,
    device_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    expires_at: datetime | None = None,
) -> str:
    """Create a credential and return its token: the only time the token exists in clear."""
    token = new_token(PREFIXES[kind])
    db.session.add(
        Credential(
            tenant_id=tenant_id,
            kind=kind,
            token_hash=hash_token(token),
            device_id=device_id,
            user_id=user_id,
            expires_at=expires_at,
        )
    )
    return token


def revoke_where(tenant_id: int, **match: uuid.UUID | str) -> None:
    """Revoke every live credential of a tenant matching ``kind``/``device_id``/``user_id``."""
    conditions = [Credential.tenant_id == tenant_id, Credential.revoked_at.is_(None)]
    conditions += [getattr(Credential, name) == value for name, value in match.items()]
    db.session.execute(update(Credential).where(*conditions).values(revoked_at=utcnow()))


def _identity_query() -> Any:
    """The one query that turns a token hash into an identity, built once.

    It is a Core statement over the tables (not ORM entities) with the token hash as a bound
    parameter, executed on the session's connection: every request runs it, and skipping the
    ORM's statement building and row processing halves the cost of an unchanged inbox poll.
    """
    credential, tenant = Credential.__table__.c, Tenant.__table__.c
    device, user = Device.__table__.c, User.__table__.c
    return (
        select(
            credential.tenant_id,
            credential.id,
            credential.kind,
            credential.expires_at,
            credential.device_id,
            credential.user_id,
            tenant.name.label("tenant_name"),
            tenant.all_inbox_seq,
            device.pin,
            device.name.label("device_name"),
            device.mode,
            device.status,
            device.inbox_seq.label("device_inbox_seq"),
            device.last_seen_at,
            user.login,
            user.name.label("user_name"),
            user.deleted_at,
            user.inbox_seq.label("user_inbox_seq"),
        )
        .select_from(
            Credential.__table__.join(Tenant.__table__, tenant.id == credential.tenant_id)
            .outerjoin(
                Device.__table__,
                and_(device.tenant_id == credential.tenant_id, device.id == credential.device_id),
            )
            .outerjoin(
                User.__table__,
                and_(user.tenant_id == credential.tenant_id, user.id == credential.user_id),
            )
        )
        .where(credential.token_hash == bindparam("token_hash"), credential.revoked_at.is_(None))
    )


_IDENTITY_QUERY = _identity_query()
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}

INVALID_CREDENTIALS = N_(
    "The token is not valid: it is mistyped, revoked or expired. Ask an admin for a new one."
)


def authenticate(authorization: str | None, *, reads_only: bool = False) -> Identity:
    """Resolve an ``Authorization`` header value to an identity, or raise 401.

    With ``reads_only`` (a GET), on PostgreSQL the request's connection runs in autocommit:
    its reads need no BEGIN and no ROLLBACK, two of the four round trips of an unchanged inbox
    poll. Under READ COMMITTED every statement sees its own snapshot anyway.
    """
    if not authorization:
        raise Unauthorized(
            N_("No credentials: send the key or token as 'Authorization: Bearer <token>'."),
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            N_("Credentials must be sent as 'Authorization: Bearer <token>'."),
            headers={"WWW-Authenticate": "Bearer"},
        )
    kind = _KIND_BY_PREFIX.get(token[: token.find("_", len("relay_"))])
    if kind is None:
        raise Unauthorized(INVALID_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
    options = (
        _AUTOCOMMIT
        if reads_only
        and not db.session().in_transaction()
        and db.engine.dialect.name == "postgresql"
        else None
    )
    db.session.flush()  # as the ORM would before a query: a credential issued just now counts
    row = (
        db.session.connection(execution_options=options)
        .execute(_IDENTITY_QUERY, {"token_hash": hash_token(token)})
        .first()
    )
    now = utcnow()
    if (
        row is None
        or row.kind != kind
        or (row.expires_at is not None and row.expires_at <= now)
        or (row.device_id is not None and row.status != "active")
        or (row.user_id is not None and row.deleted_at is not None)
    ):
        raise Unauthorized(INVALID_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
    return Identity(
        tenant_id=row.tenant_id,
        tenant_name=row.tenant_name,
        kind=row.kind,
        credential_id=row.id,
        all_inbox_seq=row.all_inbox_seq,
        device_id=row.device_id,
        device_pin=row.pin,
        device_name=row.device_name,
        device_mode=row.mode,
        device_inbox_seq=row.device_inbox_seq or 0,
        device_last_seen_at=row.last_seen_at,
        user_id=row.user_id,
        user_login=row.login,
        user_name=row.user_name,
        user_inbox_seq=row.user_inbox_seq or 0,
    )


def require(identity: Identity, role: Role) -> None:
    """Raise 403 unless the identity plays ``role``."""
    if not identity.has_role(role):
        raise Forbidden(
            N_(
                "This request needs %(needs)s; the credential sent is %(sent)s.",
                needs=_ROLE_NEEDS[role],
                sent=_CREDENTIALS.get(identity.kind, identity.kind),
            ),
            details={"needs": role, "credential": identity.kind},
        )


def device_seen_stale(identity: Identity, resolution: timedelta) -> bool:
    """Whether the device's last-seen time is older than ``resolution`` (so worth a write)."""
    if identity.device_id is None:
        return False
    last = identity.device_last_seen_at
    return last is None or utcnow() - last >= resolution


def mark_device_seen(identity: Identity, resolution: timedelta) -> None:
    """Record that the device called; conditional, so concurrent requests write it once."""
    now = utcnow()
    db.session.execute(
        update(Device)
        .where(
            Device.tenant_id == identity.tenant_id,
            Device.id == identity.device_id,
            (Device.last_seen_at.is_(None)) | (Device.last_seen_at <= now - resolution),
        )
        .values(last_seen_at=now)
    )

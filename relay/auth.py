"""Credentials: issuing prefixed tokens, and turning a bearer token into an identity."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, select, update

from relay.errors import Forbidden, Unauthorized
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
    "admin": "the tenant's admin key",
    "accounting": "the accounting key (or the admin key)",
    "terminal": "a device token or an operator session token",
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


_IDENTITY_QUERY = (
    select(
        Credential.tenant_id,
        Credential.id,
        Credential.kind,
        Credential.expires_at,
        Credential.device_id,
        Credential.user_id,
        Tenant.name.label("tenant_name"),
        Tenant.all_inbox_seq,
        Device.pin,
        Device.name.label("device_name"),
        Device.mode,
        Device.status,
        Device.inbox_seq.label("device_inbox_seq"),
        Device.last_seen_at,
        User.login,
        User.name.label("user_name"),
        User.deleted_at,
        User.inbox_seq.label("user_inbox_seq"),
    )
    .join(Tenant, Tenant.id == Credential.tenant_id)
    .outerjoin(
        Device, and_(Device.tenant_id == Credential.tenant_id, Device.id == Credential.device_id)
    )
    .outerjoin(User, and_(User.tenant_id == Credential.tenant_id, User.id == Credential.user_id))
)

INVALID_CREDENTIALS = (
    "The token is not valid: it is mistyped, revoked or expired. Ask an admin for a new one."
)


def authenticate(authorization: str | None) -> Identity:
    """Resolve an ``Authorization`` header value to an identity, or raise 401."""
    if not authorization:
        raise Unauthorized(
            "No credentials: send the key or token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "Credentials must be sent as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    kind = _KIND_BY_PREFIX.get(token[: token.find("_", len("relay_"))])
    if kind is None:
        raise Unauthorized(INVALID_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
    row = db.session.execute(
        _IDENTITY_QUERY.where(
            Credential.token_hash == hash_token(token), Credential.revoked_at.is_(None)
        )
    ).first()
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
            f"This request needs {_ROLE_NEEDS[role]}; the credential sent is "
            f"{'an' if identity.kind[0] in 'aeiou' else 'a'} {identity.kind} "
            f"{'token' if identity.kind in ('device', 'session') else 'key'}.",
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

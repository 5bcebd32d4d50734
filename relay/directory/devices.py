"""Terminals: enrollment codes, enrollment, PINs, and what admins do to devices."""

import io
import ipaddress
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import segno
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from relay.directory import addressees, auth
from relay.errors import N_, Conflict, Invalid, NotFound, Unauthorized
from relay.extensions import db
from relay.ids import hash_token
from relay.models import (
    Device,
    Document,
    EnrollmentCode,
    Instance,
    InstanceAddressee,
    InstanceState,
    Part,
)
from relay.models.document import OPEN
from relay.paging import Page, by_id, page
from relay.timeutil import utcnow

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MISTYPED = str.maketrans("OIL", "011")
_CODE_GROUPS = 7  # 7 groups of 4 base-32 characters: 140 random bits
PIN_MIN_LENGTH = 4
# Past this share of a length's PINs in use, a new PIN gets one digit more, so that picking a
# free PIN at random stays quick and a mistyped PIN rarely hits another device.
PIN_FILL_LIMIT = 0.5


def new_enrollment_code() -> str:
    """Return a fresh code, e.g. ``ENR-7K2M-...``: readable aloud, typeable, ≥128 bits."""
    chars = "".join(secrets.choice(_CROCKFORD) for _ in range(_CODE_GROUPS * 4))
    return "ENR-" + "-".join(chars[i : i + 4] for i in range(0, len(chars), 4))


def normalize_code(code: str) -> str:
    """Fold what people mistype (case, dashes, spaces, O for 0, I or L for 1)."""
    text = code.strip().upper().replace("-", "").replace(" ", "")
    text = text.removeprefix("ENR")
    return text.translate(_MISTYPED)


def create_enrollment_code(
    tenant_id: int, *, uses: int, ttl_seconds: int
) -> tuple[str, EnrollmentCode]:
    """Create an enrollment code; the clear code is returned once and stored only hashed."""
    if not 1 <= uses <= 1000:
        raise Invalid(
            N_("An enrollment code can be used 1 to 1000 times."),
            details={"fields": {"uses": ["Must be between 1 and 1000."]}},
        )
    if not 60 <= ttl_seconds <= 30 * 24 * 3600:
        raise Invalid(
            N_("An enrollment code lives between one minute and 30 days."),
            details={"fields": {"ttl_seconds": ["Must be between 60 and 2592000."]}},
        )
    code = new_enrollment_code()
    row = EnrollmentCode(
        tenant_id=tenant_id,
        code_hash=hash_token(normalize_code(code)),
        uses_left=uses,
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    db.session.add(row)
    db.session.flush()
    return code, row


def active_enrollment_codes(tenant_id: int, *, limit: int) -> list[EnrollmentCode]:
    """Return the tenant's codes that can still enroll a terminal, newest first."""
    return list(
        db.session.scalars(
            select(EnrollmentCode)
            .where(
                EnrollmentCode.tenant_id == tenant_id,
                EnrollmentCode.uses_left > 0,
                EnrollmentCode.expires_at > utcnow(),
            )
            .order_by(EnrollmentCode.id.desc())
            .limit(limit)
        )
    )


def revoke_enrollment_code(tenant_id: int, code_id: uuid.UUID | None) -> EnrollmentCode | None:
    """Use up a code so no terminal can enroll with it; None when the tenant has no such code."""
    row = db.session.get(EnrollmentCode, (tenant_id, code_id)) if code_id else None
    if row is not None:
        row.uses_left = 0
    return row


@dataclass(frozen=True)
class Enrolled:
    device: Device
    token: str


_BAD_CODE = N_(
    "This enrollment code is not valid: it is mistyped, used up or expired. "
    "Ask an admin for a new code."
)


def enroll(code: str, *, name: str, model: str, serial: str) -> Enrolled:
    """Spend one use of ``code`` and enroll a terminal: a device, a PIN and a device token.

    A terminal enrolling again with the serial of an active device of the same tenant (the app
    reinstalled, the device reset) takes that device back, PIN included; its old token dies.
    """
    now = utcnow()
    # The conditional decrement is the lock: of two terminals racing for the last use,
    # exactly one gets a row back.
    spent = db.session.execute(
        update(EnrollmentCode)
        .where(
            EnrollmentCode.code_hash == hash_token(normalize_code(code)),
            EnrollmentCode.uses_left > 0,
            EnrollmentCode.expires_at > now,
        )
        .values(uses_left=EnrollmentCode.uses_left - 1)
        .returning(EnrollmentCode.tenant_id)
    ).first()
    if spent is None:
        raise Unauthorized(_BAD_CODE, code="invalid_enrollment_code")
    tenant_id = spent.tenant_id
    device = None
    if serial:
        device = db.session.scalars(
            select(Device).where(
                Device.tenant_id == tenant_id, Device.serial == serial, Device.status == "active"
            )
        ).first()
    if device is not None:
        auth.revoke_where(tenant_id, device_id=device.id)
        device.name, device.model, device.last_seen_at = name, model, now
    else:
        device = Device(
            tenant_id=tenant_id, name=name, model=model, serial=serial, last_seen_at=now
        )
        _assign_pin(device)
    token = auth.issue(tenant_id, "device", device_id=device.id)
    return Enrolled(device=device, token=token)


def _assign_pin(device: Device, *, avoid: str | None = None) -> None:
    """Give a device a free PIN and write it; a concurrent enrollment taking it makes a retry."""
    for _attempt in range(10):
        device.pin = pick_pin(device.tenant_id, avoid=avoid)
        try:
            with db.session.begin_nested():
                db.session.add(device)
            return
        except IntegrityError:
            continue
    raise RuntimeError("no free PIN after 10 attempts")  # pragma: no cover - needs 10 races


def pick_pin(tenant_id: int, *, avoid: str | None = None) -> str:
    """Pick a random PIN not used by an active device of the tenant (nor ``avoid``).

    A PIN gets one digit more once half of the PINs of its length are in use, so a mistyped
    PIN rarely reaches another device. PINs of revoked devices are not reused while a PIN that
    was never used remains, so a document typed to an old PIN by habit does not land on the
    device that inherited it.
    """
    rows = db.session.execute(
        select(Device.pin, Device.last_pin).where(
            Device.tenant_id == tenant_id,
            or_(Device.pin.is_not(None), Device.last_pin.is_not(None)),
        )
    ).all()
    active = {row.pin for row in rows if row.pin}
    retired = {row.last_pin for row in rows if row.last_pin}
    if avoid:
        active.add(avoid)
    length = PIN_MIN_LENGTH
    while sum(1 for pin in active if len(pin) == length) >= PIN_FILL_LIMIT * 9 * 10 ** (length - 1):
        length += 1
    low, high = 10 ** (length - 1), 10**length - 1
    pin = _random_free(low, high, active | retired) or _random_free(low, high, active)
    assert pin is not None  # fewer than half of this length's PINs are active
    return pin


def _random_free(low: int, high: int, taken: set[str]) -> str | None:
    """A random PIN in [low, high] outside ``taken``, or None when there is none."""
    space = high - low + 1
    free = space - sum(1 for pin in taken if len(pin) == len(str(low)))
    if free <= 0:
        return None
    if free * 4 >= space:
        # Mostly free: random draws find one in a few tries.
        while True:
            pin = str(low + secrets.randbelow(space))
            if pin not in taken:
                return pin
    candidates = [str(n) for n in range(low, high + 1) if str(n) not in taken]
    return candidates[secrets.randbelow(len(candidates))]


def get(tenant_id: int, device_id: uuid.UUID | None) -> Device:
    """Return a device of the tenant or raise 404."""
    device = db.session.get(Device, (tenant_id, device_id)) if device_id else None
    if device is None:
        raise NotFound(N_("There is no device %(id)s.", id=device_id), code="device_not_found")
    return device


_BY_PIN = select(Device).where(
    Device.tenant_id == bindparam("tenant_id"),
    Device.pin == bindparam("pin"),
    Device.status == "active",
)


def by_pin(tenant_id: int, pin: str) -> Device:
    """Return the active device with ``pin`` or raise the message accounting users know."""
    device = db.session.scalars(_BY_PIN, {"tenant_id": tenant_id, "pin": pin}).first()
    if device is None:
        raise NotFound(
            N_("Device not found by PIN %(pin)s. Documents were not uploaded.", pin=pin),
            code="device_not_found",
            details={"pin": pin},
        )
    return device


def list_devices(
    tenant_id: int, *, status: str | None, after: uuid.UUID | None, limit: int
) -> Page[Device]:
    """Return a page of the tenant's devices, oldest first."""
    stmt = select(Device).where(Device.tenant_id == tenant_id)
    if status:
        stmt = stmt.where(Device.status == status)
    if after:
        stmt = stmt.where(Device.id > after)
    return page(list(db.session.scalars(stmt.order_by(Device.id).limit(limit + 1))), limit, by_id)


def update_device(device: Device, *, name: str | None = None, mode: str | None = None) -> Device:
    """Rename a device or switch its result mode (online: webhook; offline: pull)."""
    if device.status != "active":
        raise Conflict(N_("A revoked device cannot be changed."), code="device_revoked")
    if name is not None:
        device.name = name
    if mode is not None:
        device.mode = mode
    return device


def new_pin(device: Device) -> Device:
    """Give an active device a different PIN; the old one is retired."""
    if device.status != "active":
        raise Conflict(N_("A revoked device has no PIN to re-issue."), code="device_revoked")
    old = device.pin
    device.last_pin = old
    _assign_pin(device, avoid=old)
    return device


@dataclass(frozen=True)
class Revoked:
    """A revoked device and the unfinished work it leaves behind; other attributes are the
    device's."""

    device: Device
    unfinished: list[dict[str, str]]

    def __getattr__(self, name: str) -> Any:
        if name == "device":  # not set yet: never read through to itself
            raise AttributeError(name)
        return getattr(self.device, name)


def revoke(device: Device) -> Revoked:
    """Revoke a device: its PIN is freed, its tokens die. Return it with its unfinished work."""
    if device.status == "active":
        device.status = "revoked"
        device.last_pin, device.pin = device.pin, None
        device.revoked_at = utcnow()
        auth.revoke_where(device.tenant_id, device_id=device.id)
    return Revoked(device, unfinished_instances(device))


def unfinished_instances(device: Device) -> list[dict[str, str]]:
    """What a device leaves behind: instances it holds and queued ones sent to it, to reroute."""
    held = select(Instance.id).where(
        Instance.tenant_id == device.tenant_id,
        Instance.holder_device_id == device.id,
        Instance.state == InstanceState.CLAIMED,
    )
    queued = select(InstanceAddressee.instance_id).where(
        InstanceAddressee.tenant_id == device.tenant_id,
        InstanceAddressee.key == addressees.device_key(device.id),
        InstanceAddressee.listed,
    )
    joined = select(Part.instance_id).where(
        Part.tenant_id == device.tenant_id, Part.device_id == device.id, Part.state == OPEN
    )
    ids = (
        set(db.session.scalars(held))
        | set(db.session.scalars(queued))
        | set(db.session.scalars(joined))
    )
    if not ids:
        return []
    rows = db.session.execute(
        select(
            Instance.id,
            Instance.state,
            Document.id,
            Document.external_id,
            Document.business_process,
        )
        .join(
            Document,
            and_(Document.tenant_id == Instance.tenant_id, Document.id == Instance.document_id),
        )
        .where(Instance.tenant_id == device.tenant_id, Instance.id.in_(ids))
        .order_by(Instance.id)
    )
    return [
        {
            "instance_id": str(iid),
            "state": state,
            "document_id": str(did),
            "external_id": ext,
            "business_process": bp,
        }
        for iid, state, did, ext, bp in rows
    ]


def qr_payload(code: str, base_url: str | None) -> str:
    """What an enrollment QR code holds: the relay's address (when known) and the code."""
    body = {"relay": base_url, "code": code} if base_url else {"code": code}
    return json.dumps(body, separators=(",", ":"))


def loopback_warning(base_url: str | None) -> str | None:
    """A sentence when ``base_url`` is a loopback address (a terminal would call itself)."""
    if not base_url:
        return None
    host = urlsplit(base_url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.endswith(".localhost")
    if not loopback:
        return None
    return (
        f"The QR code carries {base_url}, a loopback address: a terminal scanning it would "
        "call itself. Set RELAY_PUBLIC_URL to the address terminals reach the relay at "
        "(e.g. http://192.168.1.10:8000), or open the admin page through that address."
    )


def qr_svg(payload: str, *, scale: int = 4) -> str:
    """Render a QR code as SVG markup (``scale`` pixels per module)."""
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind="svg", scale=scale, xmldecl=False)
    return buffer.getvalue().decode()

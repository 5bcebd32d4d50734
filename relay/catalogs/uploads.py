"""Big catalogs in numbered packets (seed 000), applied at once by a commit.

An upload is opened with its mode and its number of packets. Each packet is validated when it
arrives and kept with a digest of its items: the same packet sent again is answered as before,
different items under the same number are refused. The commit checks that every packet is
there, that no id is in two packets and, for a mirror, how much it would delete; then it applies
all packets as one new version, in one transaction, and drops them. Nothing is visible to
terminals before the commit. A committed upload answers a repeated commit with the same answer
until it expires, like an open one, after ``upload_ttl``.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from relay import jsonutil
from relay.catalogs import changes
from relay.catalogs.config import Settings
from relay.catalogs.items import check_name, validate_items
from relay.errors import N_, Conflict, Invalid, NotFound
from relay.extensions import db
from relay.models import CatalogPacket, CatalogUpload

# How many ids a refused mirror names as its sample.
SAMPLE = 10


def open_upload(
    tenant_id: int, name: str, mode: str, packets: int, settings: Settings, now: datetime
) -> CatalogUpload:
    """Open an upload of ``packets`` packets in ``merge`` or ``mirror`` mode."""
    check_name(name)
    if not 1 <= packets <= settings.upload_max_packets:
        raise Invalid(
            N_(
                "An upload has 1 to %(packets_cap)s packets of at most %(items_cap)s items; "
                "%(packets)s were announced.",
                packets_cap=settings.upload_max_packets,
                items_cap=settings.packet_max_items,
                packets=packets,
            ),
            code="too_many_packets",
            details={"limit": settings.upload_max_packets, "packets": packets},
        )
    upload = CatalogUpload(
        tenant_id=tenant_id,
        catalog=name,
        mode=mode,
        packets=packets,
        state="open",
        created_at=now,
        expires_at=now + settings.upload_ttl,
    )
    db.session.add(upload)
    db.session.flush()
    return upload


def get(
    tenant_id: int, name: str, upload_id: uuid.UUID, *, for_update: bool = False
) -> CatalogUpload:
    """Find an upload of this catalog; another catalog's or another tenant's is not found."""
    query = select(CatalogUpload).where(
        CatalogUpload.tenant_id == tenant_id,
        CatalogUpload.id == upload_id,
        CatalogUpload.catalog == name,
    )
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    upload = db.session.scalars(query).one_or_none()
    if upload is None:
        raise NotFound(
            N_(
                "There is no upload %(id)s of catalog %(name)r (uploads expire a while after "
                "they are opened).",
                id=upload_id,
                name=name[:80],
            ),
            code="upload_not_found",
        )
    return upload


def _usable(upload: CatalogUpload, now: datetime) -> None:
    if upload.state == "committed":
        raise Conflict(
            N_("Upload %(id)s is already committed; open a new one to send more.", id=upload.id),
            code="upload_committed",
        )
    if upload.expires_at <= now:
        raise Conflict(
            N_(
                "Upload %(id)s expired at %(at)s UTC without a commit; open a new one.",
                id=upload.id,
                at=f"{upload.expires_at:%Y-%m-%d %H:%M}",
            ),
            code="upload_expired",
        )


def received(upload: CatalogUpload) -> list[int]:
    """The numbers of the packets received so far, in order."""
    return list(
        db.session.scalars(
            select(CatalogPacket.number)
            .where(
                CatalogPacket.tenant_id == upload.tenant_id,
                CatalogPacket.upload_id == upload.id,
            )
            .order_by(CatalogPacket.number)
        )
    )


def digest(items: dict[str, dict[str, Any]]) -> str:
    """A packet's fingerprint: its validated items, in order."""
    text = jsonutil.dumps([[k, v] for k, v in items.items()], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Received:
    number: int
    items: int


def put_packet(
    tenant_id: int,
    name: str,
    upload_id: uuid.UUID,
    number: int,
    raw_items: list[Any],
    settings: Settings,
    now: datetime,
) -> Received:
    """Keep packet ``number``; the same packet again is harmless, other items are refused."""
    upload = get(tenant_id, name, upload_id)
    _usable(upload, now)
    if not 1 <= number <= upload.packets:
        raise Invalid(
            N_(
                "Upload %(id)s has packets 1 to %(packets)s; there is no packet %(number)s.",
                id=upload.id,
                packets=upload.packets,
                number=number,
            ),
            code="packet_out_of_range",
            details={"packets": upload.packets, "packet": number},
        )
    items = validate_items(name, raw_items, settings)
    fingerprint = digest(items)
    known = db.session.get(CatalogPacket, (tenant_id, upload.id, number))
    if known is not None:
        if known.digest != fingerprint:
            raise Conflict(
                N_(
                    "Packet %(number)s of upload %(id)s was already received with other items; "
                    "a packet cannot change. Open a new upload to send different data.",
                    number=number,
                    id=upload.id,
                ),
                code="packet_conflict",
                details={"packet": number},
            )
        return Received(number, known.count)
    db.session.add(
        CatalogPacket(
            tenant_id=tenant_id,
            upload_id=upload.id,
            number=number,
            digest=fingerprint,
            count=len(items),
            ids=list(items),
            items=[{"id": k, **v} for k, v in items.items()],
        )
    )
    db.session.flush()
    return Received(number, len(items))


def commit(
    tenant_id: int,
    name: str,
    upload_id: uuid.UUID,
    confirm_deletions: bool,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """Apply every packet as one new version; answer a repeated commit as the first one."""
    upload = get(tenant_id, name, upload_id, for_update=True)
    if upload.state == "committed" and upload.outcome is not None:
        return upload.outcome
    _usable(upload, now)
    got = received(upload)
    missing = sorted(set(range(1, upload.packets + 1)) - set(got))
    if missing:
        raise Conflict(
            N_(
                "Upload %(id)s lacks packet(s) %(missing)s of %(packets)s; send them, then commit.",
                id=upload.id,
                missing=", ".join(map(str, missing[:20])) + ("…" if len(missing) > 20 else ""),
                packets=upload.packets,
            ),
            code="packets_missing",
            details={"missing": missing},
        )
    where = (CatalogPacket.tenant_id == tenant_id, CatalogPacket.upload_id == upload.id)
    seen: set[str] = set()
    repeated: list[str] = []
    for ids in db.session.scalars(select(CatalogPacket.ids).where(*where)):
        for ident in ids:
            if ident in seen:
                repeated.append(ident)
            seen.add(ident)
    if repeated:
        raise Invalid(
            N_("Item id %(id)r is in more than one packet; send each item once.", id=repeated[0]),
            code="duplicate_ids",
            details={"ids": sorted(set(repeated))[:100]},
        )
    catalog = changes.lock(tenant_id, name, now)
    writer = changes.Writer(catalog, now)
    doomed: list[str] = []
    if upload.mode == "mirror":
        doomed = sorted(changes.live_ids(catalog) - seen)
        if not confirm_deletions and changes.needs_confirmation(
            len(doomed), catalog.items, settings
        ):
            raise Conflict(
                N_(
                    "This mirror would delete %(deletions)s of the %(items)s items of catalog "
                    '%(catalog)s. Nothing was changed; commit again with "confirm_deletions": '
                    "true to apply it.",
                    deletions=len(doomed),
                    items=catalog.items,
                    catalog=name,
                ),
                code="deletions_need_confirmation",
                details={
                    "deletions": len(doomed),
                    "items": catalog.items,
                    "sample": doomed[:SAMPLE],
                },
            )
    for number in got:
        packet = db.session.scalars(
            select(CatalogPacket.items).where(*where, CatalogPacket.number == number)
        ).one()
        writer.upsert({item.pop("id"): item for item in packet})
    writer.delete(doomed)
    outcome = writer.finish().answer()
    upload.state = "committed"
    upload.outcome = outcome
    db.session.execute(delete(CatalogPacket).where(*where))
    return outcome


def status(upload: CatalogUpload, now: datetime) -> dict[str, Any]:
    """An upload as the API shows it: which packets arrived, which are missing."""
    got = received(upload)
    state = upload.state
    if state == "open" and upload.expires_at <= now:
        state = "expired"
    return {
        "id": str(upload.id),
        "catalog": upload.catalog,
        "mode": upload.mode,
        "packets": upload.packets,
        "state": state,
        "expires_at": upload.expires_at,
        "received": got,
        "missing": []
        if upload.state == "committed"
        else sorted(set(range(1, upload.packets + 1)) - set(got)),
        "outcome": upload.outcome,
    }

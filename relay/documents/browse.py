"""Finding documents for the admin console: search and filters, newest first, keyset pages."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, union_all

from relay.directory import addressees
from relay.documents.push import _in_state
from relay.extensions import db
from relay.models import Document, Instance, InstanceAddressee, Part
from relay.paging import Page, by_id, page


@dataclass(frozen=True)
class Filters:
    """What an admin may narrow the document list by; empty fields do not narrow it."""

    text: str = ""
    business_process: str = ""
    state: str = ""
    device_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _instance_of_document() -> Any:
    return and_(Instance.tenant_id == Document.tenant_id, Instance.document_id == Document.id)


def _touches(key: str, holder: Any, part_column: Any, who: uuid.UUID) -> Any:
    """A document one of whose instances is addressed to, held by, or joined by ``who``."""
    addressed = exists().where(
        _instance_of_document(),
        InstanceAddressee.tenant_id == Instance.tenant_id,
        InstanceAddressee.instance_id == Instance.id,
        InstanceAddressee.key == key,
    )
    held = exists().where(_instance_of_document(), holder == who)
    joined = exists().where(
        _instance_of_document(),
        Part.tenant_id == Instance.tenant_id,
        Part.instance_id == Instance.id,
        part_column == who,
    )
    return or_(addressed, held, joined)


def find(
    tenant_id: int, filters: Filters, *, before: uuid.UUID | None, limit: int
) -> Page[Document]:
    """Return a page of documents, newest first."""
    stmt = select(Document).where(Document.tenant_id == tenant_id)
    text = filters.text.strip()
    if text:
        # Two index probes (ix_documents_tenant_id_external_id, …_number) joined by id: an OR
        # of the two made SQLite walk the tenant's documents in id order instead.
        found = union_all(
            select(Document.id).where(
                Document.tenant_id == tenant_id, Document.external_id == text
            ),
            select(Document.id).where(Document.tenant_id == tenant_id, Document.number == text),
        )
        stmt = stmt.where(Document.id.in_(found))
    if filters.business_process:
        stmt = stmt.where(Document.business_process == filters.business_process)
    if filters.state:
        stmt = stmt.where(*_in_state(filters.state))
    if filters.device_id is not None:
        stmt = stmt.where(
            _touches(
                addressees.device_key(filters.device_id),
                Instance.holder_device_id,
                Part.device_id,
                filters.device_id,
            )
        )
    if filters.user_id is not None:
        stmt = stmt.where(
            _touches(
                addressees.user_key(filters.user_id),
                Instance.holder_user_id,
                Part.user_id,
                filters.user_id,
            )
        )
    if filters.created_from is not None:
        stmt = stmt.where(Document.created_at >= filters.created_from)
    if filters.created_to is not None:
        stmt = stmt.where(Document.created_at < filters.created_to)
    if before is not None:
        stmt = stmt.where(Document.id < before)
    rows = list(db.session.scalars(stmt.order_by(Document.id.desc()).limit(limit + 1)))
    return page(rows, limit, by_id)

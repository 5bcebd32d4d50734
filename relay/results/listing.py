"""Results as the admin console lists them: newest first, waiting or all, keyset pages."""

import uuid
from typing import NamedTuple

from sqlalchemy import and_, select

from relay.extensions import db
from relay.models import Document, Result
from relay.paging import Page, page


class Listed(NamedTuple):
    """A result with its document's external id and number."""

    result: Result
    external_id: str
    number: str


def latest(tenant_id: int, *, waiting: bool, before: uuid.UUID | None, limit: int) -> Page[Listed]:
    """Return a page of results, newest first; ``waiting`` keeps those not yet processed."""
    stmt = (
        select(Result, Document.external_id, Document.number)
        .join(
            Document,
            and_(Document.tenant_id == Result.tenant_id, Document.id == Result.document_id),
        )
        .where(Result.tenant_id == tenant_id)
    )
    if waiting:
        stmt = stmt.where(Result.processed_at.is_(None))
    if before is not None:
        stmt = stmt.where(Result.id < before)
    rows = [
        Listed(*row) for row in db.session.execute(stmt.order_by(Result.id.desc()).limit(limit + 1))
    ]
    return page(rows, limit, lambda row: str(row.result.id))


def of_document(tenant_id: int, document_id: uuid.UUID) -> list[Result]:
    """Return a document's results in completion order."""
    return list(
        db.session.scalars(
            select(Result)
            .where(Result.tenant_id == tenant_id, Result.document_id == document_id)
            .order_by(Result.completed_at)
        )
    )

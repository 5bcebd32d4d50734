"""The results feed and its acknowledgement (SPEC §8), the read side of results.

The feed lists every result not yet processed, in completion order. ``after`` only pages
through one reading of the feed: a client reads from the start each time it polls, and
because a result leaves the feed only when acknowledged, a result whose transaction committed
late (behind one already read) is found on the next poll instead of being skipped."""

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, select, tuple_

from relay.db import core
from relay.directory.auth import Identity
from relay.documents import lifecycle
from relay.errors import N_, NotFound
from relay.extensions import db
from relay.models import Result
from relay.paging import Page, bad_cursor, page

# A cursor is the last result's completion time in microseconds since 1970 and its id:
# every string of this form is a position in the feed, so the OpenAPI document can say
# exactly what the server takes.
CURSOR_PATTERN = r"^[0-9]{1,16}-[0-9a-f]{32}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(result: Result) -> str:
    return f"{(result.completed_at - _EPOCH) // _MICROSECOND}-{result.id.hex}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    if not _CURSOR.match(cursor):
        raise bad_cursor("feed")
    micros, ident = cursor.split("-")
    return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(ident)


def feed(tenant_id: int, *, after: str | None, limit: int) -> Page[Result]:
    """Return a page of unprocessed results and the cursor of the next page (None at the end)."""
    stmt = select(Result).where(Result.tenant_id == tenant_id, Result.processed_at.is_(None))
    if after:
        moment, ident = decode_cursor(after)
        stmt = stmt.where(tuple_(Result.completed_at, Result.id) > tuple_(moment, ident))
    rows = list(db.session.scalars(stmt.order_by(Result.completed_at, Result.id).limit(limit + 1)))
    return page(rows, limit, encode_cursor)


def get(tenant_id: int, result_id: uuid.UUID | None) -> Result:
    """Return a result (processed or not) or raise 404."""
    result = db.session.get(Result, (tenant_id, result_id)) if result_id else None
    if result is None:
        raise NotFound(N_("There is no result %(id)s.", id=result_id), code="result_not_found")
    return result


class Acked(NamedTuple):
    """Results newly marked processed, and those that already were."""

    processed: list[uuid.UUID]
    already_processed: list[uuid.UUID]


_ACK_LOCK = (
    select(Result.id, Result.document_id, Result.instance_id, Result.processed_at)
    .where(
        Result.tenant_id == bindparam("tenant_id"),
        Result.id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(Result.id)
    .with_for_update()
)


def ack(by: Identity, ids: Sequence[uuid.UUID]) -> Acked:
    """Mark results processed; return (newly processed, already processed). All or nothing.

    A page of results is acknowledged in a fixed number of statements, whatever its size: the
    results are locked in id order (as a webhook delivery locks one), then marked, their
    deliveries settled, their instances closed and their events written, each set-wise.
    """
    wanted = list(dict.fromkeys(ids))
    found = {row.id: row for row in core(_ACK_LOCK, {"tenant_id": by.tenant_id, "ids": wanted})}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(
            N_(
                "These results do not exist: %(ids)s. Nothing was acknowledged.",
                ids=", ".join(map(str, missing)),
            ),
            code="result_not_found",
            details={"ids": [str(i) for i in missing]},
        )
    processed = [i for i in wanted if found[i].processed_at is None]
    already = [i for i in wanted if found[i].processed_at is not None]
    lifecycle.mark_many_processed(
        by, [(i, found[i].document_id, found[i].instance_id) for i in processed], "ack"
    )
    return Acked(processed, already)

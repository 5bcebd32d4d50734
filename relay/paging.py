"""Keyset paging, the one convention of every list: read ``limit + 1`` rows, keep ``limit``.

The extra row only says that a next page exists; the cursor of that page is made from the
last row kept, so a list never counts and never skips rows inserted behind the reader.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from relay.errors import N_, Invalid

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next page (None on the last one)."""

    rows: list[T]
    next: str | None


def page(rows: Sequence[T], limit: int, cursor: Callable[[T], str]) -> Page[T]:
    """Cut rows read with ``limit + 1`` to one page; the next cursor is the last row kept's."""
    if len(rows) > limit:
        kept = list(rows[:limit])
        return Page(kept, cursor(kept[-1]))
    return Page(list(rows), None)


class HasId(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


def by_id(row: HasId) -> str:
    """The cursor of a list ordered by id: the row's id."""
    return str(row.id)


def bad_cursor(what: str = "list") -> Invalid:
    """The 422 for a cursor this list never gave out."""
    return Invalid(
        (
            N_("The cursor is not one this feed gave out; start again without 'after'.")
            if what == "feed"
            else N_("The cursor is not one this list gave out; start again without 'after'.")
        ),
        code="invalid_cursor",
        details={"fields": {"after": [N_("Unknown cursor.")]}},
    )


def id_after(value: str | None) -> uuid.UUID | None:
    """Decode a cursor that is the last id of the previous page."""
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as err:
        raise bad_cursor() from err

"""Keyset paging: one extra row says there is a next page; the cursor is the last row kept."""

import uuid
from dataclasses import dataclass

import pytest

from relay import paging
from relay.errors import Invalid


@dataclass(frozen=True)
class Row:
    id: uuid.UUID


def rows(n: int) -> list[Row]:
    return [Row(uuid.UUID(int=i + 1)) for i in range(n)]


def test_a_full_page_and_one_more_row_gives_the_next_cursor() -> None:
    found = paging.page(rows(4), 3, paging.by_id)
    assert found.rows == rows(3)
    assert found.next == str(uuid.UUID(int=3))


@pytest.mark.parametrize("n", [0, 1, 3])
def test_no_extra_row_is_the_last_page(n: int) -> None:
    found = paging.page(rows(n), 3, paging.by_id)
    assert found.rows == rows(n)
    assert found.next is None


def test_the_cursor_is_made_by_the_lists_own_function() -> None:
    found = paging.page(["a", "b", "c"], 2, str.upper)
    assert found == paging.Page(["a", "b"], "B")


def test_an_id_cursor_round_trips() -> None:
    ident = uuid.uuid4()
    assert paging.id_after(str(ident)) == ident
    assert paging.id_after(None) is None


def test_a_cursor_the_list_never_gave_out_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        paging.id_after("garbage")
    assert caught.value.code == "invalid_cursor"
    assert caught.value.details == {"fields": {"after": ["Unknown cursor."]}}
    assert "this list gave out" in caught.value.message
    assert "this feed gave out" in paging.bad_cursor("feed").message

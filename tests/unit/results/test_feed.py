"""The results feed: completion order, keyset pages, an idempotent all-or-nothing ack."""

import uuid

import pytest
from flask import Flask

from relay.db import transaction
from relay.errors import Invalid, NotFound
from relay.extensions import db
from relay.models import Result
from relay.paging import Page
from relay.results import feed
from tests.factories import completed_order, enroll, identity
from tests.helpers import TenantKeys


@pytest.fixture
def results(app_ctx: Flask, tenant: TenantKeys) -> list[Result]:
    """Four results of one terminal, oldest first."""
    with transaction():
        terminal = enroll(tenant.id)
    return [completed_order(tenant.accounting_key, terminal.token, f"Заказ-{n}") for n in range(4)]


def ack(tenant: TenantKeys, ids: list[uuid.UUID]) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    with transaction():
        return feed.ack(identity(tenant.accounting_key), ids)


def read_all(tenant_id: int, limit: int) -> tuple[list[uuid.UUID], int]:
    """Every result of the feed page by page: their ids and the number of pages."""
    ids: list[uuid.UUID] = []
    after, pages = None, 0
    while True:
        page = feed.feed(tenant_id, after=after, limit=limit)
        rows, after = page.rows, page.next
        pages += 1
        assert len(rows) <= limit
        ids += [r.id for r in rows]
        if after is None:
            return ids, pages


def test_the_feed_lists_unprocessed_results_in_completion_order(
    tenant: TenantKeys, results: list[Result]
) -> None:
    page = feed.feed(tenant.id, after=None, limit=10)
    assert [r.id for r in page.rows] == [r.id for r in results]
    assert page.next is None


@pytest.mark.parametrize(("limit", "pages"), [(1, 4), (2, 2), (3, 2), (4, 1)])
def test_pages_cover_the_feed_once(
    tenant: TenantKeys, results: list[Result], limit: int, pages: int
) -> None:
    assert read_all(tenant.id, limit) == ([r.id for r in results], pages)


def test_the_cursor_is_the_last_result_of_the_page(
    tenant: TenantKeys, results: list[Result]
) -> None:
    page = feed.feed(tenant.id, after=None, limit=2)
    assert page.next == feed.encode_cursor(page.rows[-1])
    assert feed.decode_cursor(page.next) == (page.rows[-1].completed_at, page.rows[-1].id)


@pytest.mark.parametrize("cursor", ["garbage", "Zm9v", "W10", "!!", "WyJub3QgYSBkYXRlIiwgIngiXQ"])
def test_a_cursor_the_feed_did_not_give_out_is_refused(
    tenant: TenantKeys, results: list[Result], cursor: str
) -> None:
    with pytest.raises(Invalid) as info:
        feed.feed(tenant.id, after=cursor, limit=10)
    assert info.value.code == "invalid_cursor"
    assert info.value.details == {"fields": {"after": ["Unknown cursor."]}}


def test_acknowledged_results_leave_the_feed(tenant: TenantKeys, results: list[Result]) -> None:
    processed, already = ack(tenant, [results[0].id, results[2].id])
    assert (processed, already) == ([results[0].id, results[2].id], [])
    rows = feed.feed(tenant.id, after=None, limit=10).rows
    assert [r.id for r in rows] == [results[1].id, results[3].id]
    db.session.expire_all()
    assert feed.get(tenant.id, results[0].id).processed_at is not None


def test_an_ack_repeated_is_answered_as_already_processed(
    tenant: TenantKeys, results: list[Result]
) -> None:
    ack(tenant, [results[0].id])
    db.session.expire_all()
    first_time = feed.get(tenant.id, results[0].id).processed_at
    processed, already = ack(tenant, [results[0].id, results[1].id])
    assert (processed, already) == ([results[1].id], [results[0].id])
    db.session.expire_all()
    assert feed.get(tenant.id, results[0].id).processed_at == first_time


def test_an_id_named_twice_is_acknowledged_once(tenant: TenantKeys, results: list[Result]) -> None:
    assert ack(tenant, [results[0].id, results[0].id]) == ([results[0].id], [])


def test_an_unknown_id_fails_the_whole_ack(tenant: TenantKeys, results: list[Result]) -> None:
    ghost = uuid.uuid4()
    with pytest.raises(NotFound) as info:
        ack(tenant, [results[0].id, ghost])
    assert info.value.code == "result_not_found"
    assert info.value.details == {"ids": [str(ghost)]}
    rows = feed.feed(tenant.id, after=None, limit=10).rows
    assert len(rows) == 4  # nothing was acknowledged


def test_another_tenants_results_cannot_be_acknowledged_or_read(
    tenant: TenantKeys, other_tenant: TenantKeys, results: list[Result]
) -> None:
    with pytest.raises(NotFound), transaction():
        feed.ack(identity(other_tenant.accounting_key), [results[0].id])
    with pytest.raises(NotFound):
        feed.get(other_tenant.id, results[0].id)
    assert feed.feed(other_tenant.id, after=None, limit=10) == Page([], None)
    assert len(feed.feed(tenant.id, after=None, limit=10).rows) == 4


def test_get_of_a_missing_result_is_404(tenant: TenantKeys, results: list[Result]) -> None:
    for missing in (uuid.uuid4(), None):
        with pytest.raises(NotFound) as info:
            feed.get(tenant.id, missing)
        assert info.value.code == "result_not_found"

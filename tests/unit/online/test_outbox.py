"""The webhook outbox: one entry per result, leases, settling, hurrying, dead letters, replay."""

import uuid
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from relay.db import transaction
from relay.errors import Conflict, NotFound
from relay.extensions import db
from relay.models import OutboxEntry, Result
from relay.online import outbox
from relay.results import feed
from relay.timeutil import utcnow
from tests.factories import completed_order, enroll, identity, set_webhook
from tests.helpers import TenantKeys

LEASE = timedelta(seconds=30)


@pytest.fixture
def results(app_ctx: Flask, tenant: TenantKeys) -> list[Result]:
    """Three results of an online terminal, oldest first, each with its delivery queued."""
    with transaction():
        terminal = enroll(tenant.id, mode="online")
    return [completed_order(tenant.accounting_key, terminal.token, f"Заказ-{n}") for n in range(3)]


def entry_of(result: Result) -> OutboxEntry:
    return db.session.scalars(
        select(OutboxEntry).where(
            OutboxEntry.tenant_id == result.tenant_id, OutboxEntry.result_id == result.id
        )
    ).one()


def lease(worker: str, *, limit: int = 10, at: timedelta = timedelta()) -> list[uuid.UUID]:
    with transaction():
        return [
            key for _tenant, key in outbox.lease(worker, utcnow() + at, limit=limit, duration=LEASE)
        ]


def make_dead(result: Result) -> OutboxEntry:
    with transaction():
        entry = entry_of(result)
        entry.state, entry.attempts = "dead", 4
    return entry_of(result)


def test_every_result_of_an_online_device_has_one_pending_entry(
    tenant: TenantKeys, results: list[Result]
) -> None:
    for result in results:
        entry = entry_of(result)
        assert (entry.state, entry.attempts, entry.leased_until) == ("pending", 0, None)
        assert entry.next_attempt_at == result.completed_at
        assert entry.webhook_id == f"msg_{entry.id.hex}"
    assert outbox.counts(tenant.id) == {"pending": 3, "dead": 0}


def test_nothing_is_leased_without_an_enabled_endpoint(
    tenant: TenantKeys, results: list[Result]
) -> None:
    assert lease("w1") == []
    set_webhook(tenant.id, enabled=False)
    assert lease("w1") == []
    set_webhook(tenant.id, enabled=True)
    assert lease("w1") == [entry_of(r).id for r in results]


def test_a_lease_takes_due_entries_oldest_first_up_to_the_limit(
    tenant: TenantKeys, results: list[Result]
) -> None:
    set_webhook(tenant.id)
    before = utcnow()
    taken = lease("w1", limit=2)
    assert taken == [entry_of(results[0]).id, entry_of(results[1]).id]
    entry = entry_of(results[0])
    assert entry.leased_by == "w1"
    assert entry.leased_until is not None
    assert entry.leased_until >= before + LEASE
    assert entry.next_attempt_at == entry.leased_until
    assert lease("w2") == [entry_of(results[2]).id]  # the others are w1's


def test_a_lease_that_runs_out_makes_the_entry_due_again_with_the_same_id(
    tenant: TenantKeys, results: list[Result]
) -> None:
    set_webhook(tenant.id)
    taken = lease("w1")
    assert len(taken) == 3
    assert lease("w2", at=LEASE - timedelta(seconds=5)) == []
    assert sorted(lease("w2", at=LEASE + timedelta(seconds=5))) == sorted(taken)
    assert {entry_of(r).leased_by for r in results} == {"w2"}


def test_only_the_worker_holding_the_lease_holds_the_entry(
    tenant: TenantKeys, results: list[Result]
) -> None:
    set_webhook(tenant.id)
    (entry_id,) = lease("w1", limit=1)
    assert outbox.held(tenant.id, entry_id, "w1") is not None
    assert outbox.held(tenant.id, entry_id, "w2") is None
    assert outbox.held(tenant.id, uuid.uuid4(), "w1") is None


def test_released_entries_are_due_at_once_for_other_workers(
    tenant: TenantKeys, results: list[Result]
) -> None:
    set_webhook(tenant.id)
    taken = lease("w1", limit=2)
    with transaction():
        outbox.release([(tenant.id, key) for key in taken], "w2", utcnow())  # not w2's
    assert lease("w3") == [entry_of(results[2]).id]
    with transaction():
        outbox.release([(tenant.id, key) for key in taken], "w1", utcnow())
    assert lease("w3") == taken
    assert entry_of(results[0]).attempts == 0  # giving back spends no attempt


def test_a_result_acknowledged_by_pull_settles_its_delivery(
    tenant: TenantKeys, results: list[Result]
) -> None:
    make_dead(results[1])
    with transaction():
        feed.ack(identity(tenant.accounting_key), [results[0].id, results[1].id])
    assert entry_of(results[0]).state == "skipped"
    assert entry_of(results[1]).state == "skipped"
    assert entry_of(results[2]).state == "pending"
    assert outbox.counts(tenant.id) == {"pending": 1, "dead": 0}
    set_webhook(tenant.id)
    assert lease("w1") == [entry_of(results[2]).id]


def test_a_delivered_entry_is_not_settled_again(tenant: TenantKeys, results: list[Result]) -> None:
    with transaction():
        entry_of(results[0]).state = "delivered"
    with transaction():
        outbox.settle(feed.get(tenant.id, results[0].id))
    assert entry_of(results[0]).state == "delivered"


def test_hurry_brings_backed_off_entries_forward_but_not_a_429_or_a_lease(
    tenant: TenantKeys, results: list[Result]
) -> None:
    later = utcnow() + timedelta(hours=1)
    with transaction():
        for result, status in zip(results, (503, 429, None), strict=True):
            entry = entry_of(result)
            entry.attempts, entry.last_status, entry.next_attempt_at = 1, status, later
        entry_of(results[2]).leased_until = later
    now = utcnow()
    with transaction():
        assert outbox.hurry(tenant.id, now) == 1
    assert entry_of(results[0]).next_attempt_at == now
    assert entry_of(results[1]).next_attempt_at == later
    assert entry_of(results[2]).next_attempt_at == later


def test_hurry_leaves_entries_never_attempted(tenant: TenantKeys, results: list[Result]) -> None:
    with transaction():
        entry_of(results[0]).next_attempt_at = utcnow() + timedelta(hours=1)
    with transaction():
        assert outbox.hurry(tenant.id, utcnow()) == 0


def test_dead_letters_are_listed_and_counted(tenant: TenantKeys, results: list[Result]) -> None:
    dead = [make_dead(results[0]), make_dead(results[2])]
    assert outbox.counts(tenant.id) == {"pending": 1, "dead": 2}
    page = outbox.dead_letters(tenant.id, after=None, limit=10)
    assert [(d.entry.id, d.result.id) for d in page.rows] == [
        (dead[0].id, results[0].id),
        (dead[1].id, results[2].id),
    ]
    assert page.next is None
    first = outbox.dead_letters(tenant.id, after=None, limit=1)
    assert [d.entry.id for d in first.rows] == [dead[0].id]
    assert first.next == dead[0].webhook_id
    rest = outbox.dead_letters(tenant.id, after=first.next, limit=10)
    assert [d.entry.id for d in rest.rows] == [dead[1].id]


def test_a_replayed_dead_letter_starts_over_with_the_same_id(
    tenant: TenantKeys, results: list[Result]
) -> None:
    dead = make_dead(results[0])
    with transaction():
        replayed = outbox.replay(outbox.get(tenant.id, dead.webhook_id, for_update=True))
    assert replayed.id == dead.id
    entry = entry_of(results[0])
    assert (entry.state, entry.attempts, entry.leased_until) == ("pending", 0, None)
    assert entry.next_attempt_at <= utcnow()


def test_only_a_dead_letter_is_replayed(tenant: TenantKeys, results: list[Result]) -> None:
    pending = entry_of(results[0])
    with pytest.raises(Conflict) as info, transaction():
        outbox.replay(outbox.get(tenant.id, str(pending.id)))
    assert (info.value.code, info.value.details) == ("not_dead_letter", {"state": "pending"})


def test_replay_all_revives_every_dead_letter_of_the_tenant(
    tenant: TenantKeys, results: list[Result]
) -> None:
    make_dead(results[0])
    make_dead(results[1])
    with transaction():
        assert outbox.replay_all(tenant.id) == 2
    assert outbox.counts(tenant.id) == {"pending": 3, "dead": 0}
    with transaction():
        assert outbox.replay_all(tenant.id) == 0


@pytest.mark.parametrize("spelling", ["webhook_id", "bare"])
def test_an_entry_is_found_by_its_webhook_id_or_its_uuid(
    tenant: TenantKeys, results: list[Result], spelling: str
) -> None:
    entry = entry_of(results[0])
    text = entry.webhook_id if spelling == "webhook_id" else str(entry.id)
    assert outbox.get(tenant.id, text).id == entry.id


@pytest.mark.parametrize("text", ["msg_nothex", "", "42", "msg_" + "0" * 31 + "1"])
def test_an_unknown_entry_is_404(tenant: TenantKeys, results: list[Result], text: str) -> None:
    with pytest.raises(NotFound) as info:
        outbox.get(tenant.id, text)
    assert info.value.code == "dead_letter_not_found"


def test_another_tenants_entry_is_404(
    tenant: TenantKeys, other_tenant: TenantKeys, results: list[Result]
) -> None:
    with pytest.raises(NotFound):
        outbox.get(other_tenant.id, entry_of(results[0]).webhook_id)

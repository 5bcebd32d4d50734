"""A terminal's inbox: what it lists, its pages, and an ETag that changes exactly with it."""

import uuid

import pytest
from flask import Flask

from relay.db import transaction
from relay.directory import users
from relay.directory.addressees import ALL, device_key, group_key, user_key
from relay.documents import inbox, push
from relay.documents.routing import Target
from tests.factories import (
    add_group,
    add_user,
    claim,
    doc,
    enroll,
    identity,
    line,
    log_in,
    push_docs,
)
from tests.helpers import TenantKeys

RECEIPT = "purchase-receipt"  # to one device
PICKING = "order-picking"  # to users, groups or everyone


def tag(token: str, after: uuid.UUID | None = None, limit: int = 50) -> str:
    """The inbox ETag of the caller with this token, as a poll computes it."""
    who = identity(token)
    return inbox.etag(inbox.audience(who), after, limit)


def listed(token: str, after: uuid.UUID | None = None, limit: int = 50) -> list[str]:
    who = identity(token)
    rows = inbox.page(who, inbox.audience(who), after, limit).rows
    return [document.external_id for _instance, document in rows]


def to_device(token: str) -> Target:
    return Target(pin=identity(token).device_pin)


@pytest.fixture
def accounting(tenant: TenantKeys) -> str:
    """The accounting key the documents are pushed with."""
    return tenant.accounting_key


@pytest.fixture
def setup(app_ctx: Flask, tenant: TenantKeys) -> dict[str, str]:
    """Two terminals, each with an operator logged in: anna (a picker) and boris."""
    with transaction():
        one, two = enroll(tenant.id, "ТСД-1"), enroll(tenant.id, "ТСД-2")
        add_user(tenant.id, "anna")
        add_user(tenant.id, "boris")
        add_group(tenant.id, "pickers", ["anna"])
    with transaction():
        anna, boris = log_in(one.token, "anna"), log_in(two.token, "boris")
    return {"one": one.token, "two": two.token, "anna": anna, "boris": boris}


def test_a_device_answers_for_itself_only(setup: dict[str, str]) -> None:
    who = identity(setup["one"])
    audience = inbox.audience(who)
    assert audience.keys == (device_key(who.device_id),)
    assert audience.stamp == f"d{who.device_inbox_seq}"


def test_an_operator_answers_for_device_user_groups_and_all(
    setup: dict[str, str], tenant: TenantKeys
) -> None:
    who = identity(setup["anna"])
    pickers = users.get_group(tenant.id, "pickers")
    assert inbox.audience(who).keys == (
        device_key(who.device_id),
        user_key(who.user_id),
        group_key(pickers.id),
        ALL,
    )


def test_a_push_to_the_device_changes_its_etag_and_no_other(
    setup: dict[str, str], accounting: str
) -> None:
    before = {name: tag(token) for name, token in setup.items()}
    push_docs(accounting, RECEIPT, [doc("R-1")], to_device(setup["one"]))
    after = {name: tag(token) for name, token in setup.items()}
    assert after["one"] != before["one"]
    assert after["anna"] != before["anna"]  # anna works on terminal one
    assert after["two"] == before["two"]
    assert after["boris"] == before["boris"]
    assert listed(setup["one"]) == ["R-1"]
    assert listed(setup["two"]) == []


def test_an_unchanged_re_push_keeps_the_etag_and_a_replace_changes_it(
    setup: dict[str, str],
    accounting: str,
) -> None:
    target = to_device(setup["one"])
    push_docs(accounting, RECEIPT, [doc("R-1")], target)
    first = tag(setup["one"])
    push_docs(accounting, RECEIPT, [doc("R-1")], target)
    assert tag(setup["one"]) == first
    push_docs(accounting, RECEIPT, [doc("R-1", lines=[line(1, 3)])], target)
    assert tag(setup["one"]) != first


def test_a_push_to_a_group_reaches_its_members_only(setup: dict[str, str], accounting: str) -> None:
    before = {name: tag(token) for name, token in setup.items()}
    push_docs(accounting, PICKING, [doc("P-1")], Target(groups=("pickers",)))
    after = {name: tag(token) for name, token in setup.items()}
    assert after["anna"] != before["anna"]
    assert (after["boris"], after["one"], after["two"]) == (
        before["boris"],
        before["one"],
        before["two"],
    )
    assert listed(setup["anna"]) == ["P-1"]
    assert listed(setup["boris"]) == []
    assert listed(setup["one"]) == []  # the device alone is not the picker


def test_a_push_to_all_reaches_every_operator(setup: dict[str, str], accounting: str) -> None:
    before = (tag(setup["anna"]), tag(setup["boris"]), tag(setup["two"]))
    push_docs(accounting, PICKING, [doc("P-1")], Target(all=True))
    assert tag(setup["anna"]) != before[0]
    assert tag(setup["boris"]) != before[1]
    assert tag(setup["two"]) == before[2]
    assert listed(setup["anna"]) == listed(setup["boris"]) == ["P-1"]


def test_a_claim_takes_a_shared_document_out_of_the_others_inboxes(
    setup: dict[str, str],
    accounting: str,
) -> None:
    (pushed,) = push_docs(accounting, PICKING, [doc("P-1")], Target(all=True))
    before = tag(setup["boris"])
    claim(setup["anna"], pushed.instances[0].id)
    assert tag(setup["boris"]) != before
    assert listed(setup["boris"]) == []
    assert listed(setup["anna"]) == ["P-1"]  # held by her now


def test_joining_a_group_changes_the_etag_and_lists_its_documents(
    setup: dict[str, str], accounting: str, tenant: TenantKeys
) -> None:
    push_docs(accounting, PICKING, [doc("P-1")], Target(groups=("pickers",)))
    before = tag(setup["boris"])
    with transaction():
        users.set_members(users.get_group(tenant.id, "pickers"), ["anna", "boris"])
    assert tag(setup["boris"]) != before
    assert listed(setup["boris"]) == ["P-1"]


def test_a_cancel_changes_the_etag_and_empties_the_inbox(
    setup: dict[str, str], accounting: str, tenant: TenantKeys
) -> None:
    (pushed,) = push_docs(accounting, RECEIPT, [doc("R-1")], to_device(setup["one"]))
    before = tag(setup["one"])
    with transaction():
        push.cancel(identity(tenant.accounting_key), pushed.document.id)
    assert tag(setup["one"]) != before
    assert listed(setup["one"]) == []


def test_the_etag_names_the_page_and_whose_inbox_it_is(setup: dict[str, str]) -> None:
    assert tag(setup["one"], limit=10) != tag(setup["one"], limit=20)
    assert tag(setup["one"], after=uuid.uuid4()) != tag(setup["one"])
    # Fresh terminals have equal counters; their keys still tell the inboxes apart.
    assert identity(setup["one"]).device_inbox_seq == identity(setup["two"]).device_inbox_seq
    assert tag(setup["one"]) != tag(setup["two"])


def test_pages_follow_instance_order_with_a_cursor(setup: dict[str, str], accounting: str) -> None:
    docs = [doc(f"R-{n}") for n in range(5)]
    pushed = push_docs(accounting, RECEIPT, docs, to_device(setup["one"]))
    order = sorted(pushed, key=lambda p: p.instances[0].id)
    who = identity(setup["one"])
    audience = inbox.audience(who)
    seen: list[str] = []
    cursor: uuid.UUID | None = None
    pages = 0
    while True:
        page = inbox.page(who, audience, cursor, 2)
        pages += 1
        assert len(page.rows) <= 2
        seen += [document.external_id for _instance, document in page.rows]
        if page.next is None:
            break
        cursor = uuid.UUID(page.next)
    assert pages == 3
    assert seen == [p.document.external_id for p in order]


def test_can_see_what_is_addressed_to_or_held_by_the_caller(
    setup: dict[str, str], accounting: str
) -> None:
    (pushed,) = push_docs(accounting, PICKING, [doc("P-1")], Target(users=("anna",)))
    instance = pushed.instances[0]
    keys = [user_key(identity(setup["anna"]).user_id)]
    assert inbox.can_see(identity(setup["anna"]), instance, keys)
    assert not inbox.can_see(identity(setup["boris"]), instance, keys)
    assert not inbox.can_see(identity(setup["one"]), instance, keys)

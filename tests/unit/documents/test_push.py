"""Pushing documents: create, idempotent re-push, replace rules, all or nothing."""

import uuid

import pytest
from flask import Flask

from relay.db import transaction
from relay.documents import events, push
from relay.documents.routing import Target
from relay.errors import Conflict, Invalid, NotFound
from relay.models import Document
from relay.processes import store
from tests.factories import (
    actual,
    add_user,
    claim,
    complete,
    doc,
    enroll,
    identity,
    line,
    push_docs,
)
from tests.helpers import TenantKeys

RECEIPT = "purchase-receipt"


@pytest.fixture
def terminals(app_ctx: Flask, tenant: TenantKeys) -> tuple[str, str]:
    """Device tokens of two enrolled terminals."""
    with transaction():
        first, second = enroll(tenant.id, "ТСД-1"), enroll(tenant.id, "ТСД-2")
    return first.token, second.token


def pin_of(token: str) -> Target:
    return Target(pin=identity(token).device_pin)


def timeline(tenant_id: int, document: Document) -> list[str]:
    return [event.kind for event in events.timeline(tenant_id, document.id)]


def documents(tenant_id: int, external_id: str | None = None) -> list[Document]:
    return push.search(tenant_id, push.Filters(external_id=external_id), after=None, limit=100).rows


def test_a_new_document_is_created_with_one_queued_instance(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    (pushed,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], pin_of(terminals[0]))
    assert (pushed.status, pushed.state) == ("created", "queued")
    assert [i.state for i in pushed.instances] == ["queued"]
    document = pushed.document
    assert (document.external_id, document.number, document.version) == (
        "ЗаказПоставщику-0000-000123",
        "000123",
        1,
    )
    assert document.business_process_version == 1
    assert [a.pin for a in pushed.addressees[pushed.instances[0].id]] == [
        identity(terminals[0]).device_pin
    ]
    assert timeline(tenant.id, document) == ["pushed"]


def test_the_same_push_again_changes_nothing(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    target = pin_of(terminals[0])
    (first,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    (again,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    assert again.status == "unchanged"
    assert again.document.id == first.document.id
    assert [i.id for i in again.instances] == [i.id for i in first.instances]
    assert again.document.version == 1
    assert timeline(tenant.id, again.document) == ["pushed"]
    assert len(documents(tenant.id)) == 1


def test_new_content_for_the_same_addressee_replaces_in_place(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    target = pin_of(terminals[0])
    (first,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    changed = doc(lines=[line(1, 12), line(2, 5)])
    (replaced,) = push_docs(tenant.accounting_key, RECEIPT, [changed], target)
    assert replaced.status == "replaced"
    assert replaced.document.id == first.document.id
    # Terminals know the instance ids: the same addressees keep them.
    assert [i.id for i in replaced.instances] == [i.id for i in first.instances]
    assert replaced.document.version == 2
    assert replaced.document.lines[0]["declared_qty"] == 12
    assert timeline(tenant.id, replaced.document) == ["pushed", "replaced"]


def test_a_new_target_replaces_the_instances(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    (first,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], pin_of(terminals[0]))
    (moved,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], pin_of(terminals[1]))
    assert moved.status == "replaced"
    assert moved.document.id == first.document.id
    (instance,) = moved.instances
    assert instance.id != first.instances[0].id
    assert [a.pin for a in moved.addressees[instance.id]] == [identity(terminals[1]).device_pin]


def test_a_claimed_document_with_the_same_content_is_unchanged(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    target = pin_of(terminals[0])
    (first,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    claim(terminals[0], first.instances[0].id)
    (again,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    assert (again.status, again.state) == ("unchanged", "claimed")


def test_a_claimed_document_cannot_be_replaced_and_the_whole_push_is_refused(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    target = pin_of(terminals[0])
    (first,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    claim(terminals[0], first.instances[0].id)
    changed = doc(lines=[line(1, 99)])
    with pytest.raises(Conflict) as info:
        push_docs(tenant.accounting_key, RECEIPT, [doc("Заказ-NEW-1"), changed], target)
    assert info.value.code == "document_in_progress"
    assert info.value.details == {"external_ids": ["ЗаказПоставщику-0000-000123"]}
    assert documents(tenant.id, "Заказ-NEW-1") == []  # nothing was uploaded
    (kept,) = documents(tenant.id)
    assert (kept.version, kept.lines[0]["declared_qty"]) == (1, 10)


def test_a_completed_document_cannot_be_replaced(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    target = pin_of(terminals[0])
    (first,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    instance_id = first.instances[0].id
    token = claim(terminals[0], instance_id)
    complete(terminals[0], instance_id, [actual(1, 10), actual(2, 5)], claim_token=token)
    with pytest.raises(Conflict):
        push_docs(tenant.accounting_key, RECEIPT, [doc(lines=[line(1, 1)])], target)
    (again,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    assert again.status == "unchanged"


def test_a_cancelled_document_pushed_again_is_revived(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    target = pin_of(terminals[0])
    (first,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    with transaction():
        push.cancel(identity(tenant.accounting_key), first.document.id)
    assert push.states_of(tenant.id, [first.document.id]) == {first.document.id: "cancelled"}
    (revived,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    assert (revived.status, revived.state) == ("replaced", "queued")
    assert revived.document.id == first.document.id
    assert revived.instances[0].id != first.instances[0].id
    assert timeline(tenant.id, revived.document)[-1] == "replaced"


def test_one_external_id_under_two_processes_is_two_documents(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    with transaction():
        add_user(tenant.id, "anna")
    (receipt,) = push_docs(tenant.accounting_key, RECEIPT, [doc("X-1")], pin_of(terminals[0]))
    (picking,) = push_docs(tenant.accounting_key, "order-picking", [doc("X-1")], Target(all=True))
    assert receipt.status == picking.status == "created"
    assert receipt.document.id != picking.document.id


def test_an_external_id_twice_in_one_push_is_refused(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    with pytest.raises(Invalid) as info:
        push_docs(
            tenant.accounting_key, RECEIPT, [doc("A"), doc("B"), doc("A")], pin_of(terminals[0])
        )
    assert (info.value.code, info.value.details) == (
        "duplicate_external_id",
        {"external_ids": ["A"]},
    )
    assert documents(tenant.id) == []


def test_a_line_id_twice_in_a_document_is_refused(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    bad = doc("B", lines=[line(1), line(2), line(1)])
    with pytest.raises(Invalid) as info:
        push_docs(tenant.accounting_key, RECEIPT, [doc("A"), bad], pin_of(terminals[0]))
    assert info.value.code == "duplicate_line_id"
    assert info.value.details == {"fields": {"documents": {"1": {"lines": ["Duplicate line_id."]}}}}
    assert documents(tenant.id) == []


def test_quantity_control_needs_a_declared_qty_on_every_line(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    undeclared = doc(lines=[line(1), {**line(2), "declared_qty": None}])
    with pytest.raises(Invalid) as info:
        push_docs(tenant.accounting_key, RECEIPT, [undeclared], pin_of(terminals[0]))
    assert "missing on line 2" in info.value.message
    with transaction():
        store.save(tenant.id, RECEIPT, {"quantity_control": "none"}, partial=True)
    (pushed,) = push_docs(tenant.accounting_key, RECEIPT, [undeclared], pin_of(terminals[0]))
    assert pushed.status == "created"


def test_a_disabled_process_takes_no_documents(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    with transaction():
        store.save(tenant.id, RECEIPT, {"enabled": False}, partial=True)
    with pytest.raises(Invalid) as info:
        push_docs(tenant.accounting_key, RECEIPT, [doc()], pin_of(terminals[0]))
    assert info.value.code == "business_process_disabled"


def test_a_re_push_records_the_process_version_it_was_pushed_under(
    tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    target = pin_of(terminals[0])
    push_docs(tenant.accounting_key, RECEIPT, [doc()], target)
    with transaction():
        store.save(tenant.id, RECEIPT, {"claim_limit_minutes": 30}, partial=True)
    (replaced,) = push_docs(tenant.accounting_key, RECEIPT, [doc(lines=[line(1, 3)])], target)
    assert replaced.document.business_process_version == 2


def test_the_content_hash_ignores_key_order_and_sees_the_target() -> None:
    first = doc()
    reordered = dict(reversed(list(first.items())))
    pin, other = Target(pin="5546"), Target(pin="7001")
    assert push.content_hash(first, pin, Target()) == push.content_hash(reordered, pin, Target())
    assert push.content_hash(first, pin, Target()) != push.content_hash(first, other, Target())
    assert push.content_hash(first, pin, Target()) != push.content_hash(first, pin, other)
    assert push.content_hash(first, pin, Target()) != push.content_hash(
        doc(lines=[line(1, 10)]), pin, Target()
    )


def test_search_filters_by_state(tenant: TenantKeys, terminals: tuple[str, str]) -> None:
    target = pin_of(terminals[0])
    _queued, claimed = push_docs(tenant.accounting_key, RECEIPT, [doc("Q"), doc("C")], target)
    claim(terminals[0], claimed.instances[0].id)

    def found(state: str) -> list[str]:
        rows = push.search(
            tenant.id, push.Filters(business_process=RECEIPT, state=state), after=None, limit=9
        ).rows
        return [d.external_id for d in rows]

    assert found("queued") == ["Q"]
    assert found("claimed") == ["C"]
    assert found("completed") == []


def test_get_of_another_tenants_document_is_404(
    tenant: TenantKeys, other_tenant: TenantKeys, terminals: tuple[str, str]
) -> None:
    (pushed,) = push_docs(tenant.accounting_key, RECEIPT, [doc()], pin_of(terminals[0]))
    assert push.get(tenant.id, pushed.document.id).id == pushed.document.id
    for tenant_id, document_id in [
        (other_tenant.id, pushed.document.id),
        (tenant.id, uuid.uuid4()),
        (tenant.id, None),
    ]:
        with pytest.raises(NotFound) as info:
            push.get(tenant_id, document_id)
        assert info.value.code == "document_not_found"

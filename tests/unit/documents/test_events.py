"""Document timelines: who did what (the actor, device and user), in order, per document."""

import uuid

import pytest
from flask import Flask

from relay.db import transaction
from relay.documents import events
from relay.documents.routing import Target
from relay.models import Document
from tests.factories import add_user, claim, doc, enroll, identity, log_in, push_docs
from tests.helpers import TenantKeys


@pytest.fixture
def document(app_ctx: Flask, tenant: TenantKeys) -> Document:
    """A document pushed to all users (its timeline starts with 'pushed')."""
    with transaction():
        add_user(tenant.id, "anna")
    (pushed,) = push_docs(tenant.accounting_key, "order-picking", [doc()], Target(all=True))
    return pushed.document


def kinds(tenant_id: int, document_id: uuid.UUID) -> list[str]:
    return [event.kind for event in events.timeline(tenant_id, document_id)]


def test_a_push_is_recorded_as_the_accounting_side(tenant: TenantKeys, document: Document) -> None:
    (pushed,) = events.timeline(tenant.id, document.id)
    assert (pushed.kind, pushed.actor) == ("pushed", "accounting")
    assert (pushed.device_id, pushed.user_id, pushed.instance_id) == (None, None, None)
    assert pushed.details == {"version": 1}


def test_an_operator_is_recorded_with_the_device_and_the_user(
    tenant: TenantKeys, document: Document
) -> None:
    with transaction():
        terminal = enroll(tenant.id)
    with transaction():
        session = log_in(terminal.token, "anna")
    operator = identity(session)
    with transaction():
        events.record(tenant.id, document.id, "note", operator, reason="test")
    event = events.timeline(tenant.id, document.id)[-1]
    assert (event.actor, event.device_id, event.user_id) == (
        "user",
        terminal.device.id,
        operator.user_id,
    )
    assert event.details == {"reason": "test"}


def test_the_relay_itself_is_the_system(tenant: TenantKeys, document: Document) -> None:
    with transaction():
        events.record(tenant.id, document.id, "claim_expired", None)
    event = events.timeline(tenant.id, document.id)[-1]
    assert (event.kind, event.actor, event.device_id, event.user_id) == (
        "claim_expired",
        "system",
        None,
        None,
    )


def test_the_timeline_is_in_the_order_things_happened(
    tenant: TenantKeys, document: Document
) -> None:
    with transaction():
        terminal = enroll(tenant.id)
    with transaction():
        session = log_in(terminal.token, "anna")
    instance_id = (
        push_docs(tenant.accounting_key, "order-picking", [doc()], Target(all=True))[0]
        .instances[0]
        .id
    )
    claim(session, instance_id)
    for step in ("one", "two", "three"):  # one transaction each, as steps happen
        with transaction():
            events.record(tenant.id, document.id, step, None)
    assert kinds(tenant.id, document.id) == ["pushed", "claimed", "one", "two", "three"]
    claimed = events.timeline(tenant.id, document.id)[1]
    assert claimed.instance_id == instance_id
    assert claimed.actor == "user"


def test_a_timeline_belongs_to_one_document_of_one_tenant(
    tenant: TenantKeys, other_tenant: TenantKeys, document: Document
) -> None:
    (other,) = push_docs(tenant.accounting_key, "order-picking", [doc("X-2")], Target(all=True))
    with transaction():
        events.record(tenant.id, other.document.id, "note", None)
    assert kinds(tenant.id, document.id) == ["pushed"]
    assert kinds(tenant.id, other.document.id) == ["pushed", "note"]
    assert kinds(other_tenant.id, document.id) == []

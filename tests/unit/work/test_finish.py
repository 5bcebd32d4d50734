"""Closing an instance: its result, the timeline, and the chained document it starts."""

import uuid
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from relay.db import transaction
from relay.documents import events, push
from relay.documents.routing import Target
from relay.extensions import db
from relay.models import Document, Instance, Result
from relay.processes import store
from tests.factories import actual, add_user, claim, complete, doc, enroll, log_in, push_docs
from tests.helpers import TenantKeys


@pytest.fixture
def operator(app_ctx: Flask, tenant: TenantKeys) -> str:
    """The session token of anna, logged in on a terminal."""
    with transaction():
        terminal = enroll(tenant.id)
        add_user(tenant.id, "anna")
    with transaction():
        return log_in(terminal.token, "anna")


def ship(tenant: TenantKeys, operator: str) -> tuple[Document, Result]:
    """Push a transfer shipment (its receipt to go to anna); she ships 7 of line 1, none of 2."""
    (pushed,) = push_docs(
        tenant.accounting_key,
        "transfer-shipment",
        [doc("Перемещение-1")],
        Target(all=True),
        next_target=Target(users=("anna",)),
    )
    instance_id = pushed.instances[0].id
    token = claim(operator, instance_id)
    answer = complete(
        operator,
        instance_id,
        [actual(1, 7)],
        claim_token=token,
        header={"comment": "two boxes"},
    )
    result = db.session.get(Result, (tenant.id, uuid.UUID(answer["result_id"])))
    assert result is not None
    return push.get(tenant.id, pushed.document.id), result


def kinds(tenant_id: int, document: Document) -> list[str]:
    return [event.kind for event in events.timeline(tenant_id, document.id)]


def test_the_result_holds_the_work_and_the_instance_is_closed(
    tenant: TenantKeys, operator: str
) -> None:
    document, result = ship(tenant, operator)
    assert result.header == {"comment": "two boxes"}
    assert [(line["line_id"], line["actual_qty"]) for line in result.lines] == [
        ("1", Decimal(7)),
        ("2", Decimal(0)),
    ]
    assert result.undeclared == []
    assert (result.business_process, result.business_process_version) == ("transfer-shipment", 1)
    assert result.completed_by_user_id is not None
    instance = db.session.get(Instance, (tenant.id, result.instance_id))
    assert instance is not None
    assert (instance.state, instance.claim_token_hash, instance.claim_expires_at) == (
        "completed",
        None,
        None,
    )
    assert instance.completed_at == result.completed_at
    completed = [e for e in events.timeline(tenant.id, document.id) if e.kind == "completed"]
    assert [e.details["result_ids"] for e in completed] == [[str(result.id)]]


def test_a_completion_starts_the_next_process_from_what_was_done(
    tenant: TenantKeys, operator: str
) -> None:
    document, result = ship(tenant, operator)
    assert kinds(tenant.id, document)[-1] == "chained"
    assert result.next_document_id is not None
    receipt = push.get(tenant.id, result.next_document_id)
    assert receipt.business_process == "transfer-receipt"
    assert receipt.chained_from_result_id == result.id
    assert receipt.number == document.number
    # The receiving side declares what was shipped: line 1 as counted; line 2, shipped as
    # zero, is left out.
    assert [(line["line_id"], line["declared_qty"]) for line in receipt.lines] == [
        ("1", Decimal(7))
    ]
    assert receipt.header["comment"] == "two boxes"
    assert kinds(tenant.id, receipt) == ["pushed"]


def test_a_chain_that_cannot_start_is_recorded_and_the_completion_stands(
    tenant: TenantKeys, operator: str
) -> None:
    with transaction():
        store.save(tenant.id, "transfer-receipt", {"enabled": False}, partial=True)
    document, result = ship(tenant, operator)
    assert result.next_document_id is None
    failed = events.timeline(tenant.id, document.id)[-1]
    assert (failed.kind, failed.details["code"]) == ("chain_failed", "business_process_disabled")
    assert (
        db.session.scalars(
            select(Document).where(Document.business_process == "transfer-receipt")
        ).all()
        == []
    )
    assert push.states_of(tenant.id, [document.id]) == {document.id: "completed"}

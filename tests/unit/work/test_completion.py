"""Completing an instance: submission_id replay, conflicting reuse, claims, quantity control."""

import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from relay.db import transaction
from relay.documents import events
from relay.documents.routing import Target
from relay.errors import Conflict, Invalid, NotFound
from relay.extensions import db
from relay.models import Instance, OutboxEntry, Result, Submission
from relay.work import collective, completion
from tests.factories import (
    actual,
    add_user,
    claim,
    doc,
    enroll,
    identity,
    log_in,
    push_docs,
    stock_lines,
)
from tests.helpers import TenantKeys

AS_DECLARED = [actual(1, 10), actual(2, 5)]


class _AnyId:
    """Equal to the text of any UUID."""

    def __eq__(self, other: object) -> bool:
        try:
            return isinstance(other, str) and uuid.UUID(other) is not None
        except ValueError:
            return False

    def __hash__(self) -> int:
        return 0


ANY_ID = _AnyId()


@pytest.fixture
def device(app_ctx: Flask, tenant: TenantKeys) -> str:
    """The device token of an enrolled terminal (offline mode)."""
    with transaction():
        return enroll(tenant.id).token


def pushed_to(tenant: TenantKeys, token: str, external_id: str = "Заказ-1") -> uuid.UUID:
    """Push a supplier order to the device; return its instance id."""
    (pushed,) = push_docs(
        tenant.accounting_key,
        "purchase-receipt",
        [doc(external_id)],
        Target(pin=identity(token).device_pin),
    )
    return pushed.instances[0].id


def complete(token: str, instance_id: uuid.UUID, payload: dict[str, Any]) -> dict[str, Any]:
    with transaction():
        return completion.complete(identity(token), instance_id, payload)


def count(model: type[Any]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def state_of(tenant: TenantKeys, instance_id: uuid.UUID) -> str:
    db.session.expire_all()
    instance = db.session.get(Instance, (tenant.id, instance_id))
    assert instance is not None
    return instance.state


def test_a_completion_stores_the_result_and_closes_the_instance(
    tenant: TenantKeys, device: str
) -> None:
    instance_id = pushed_to(tenant, device)
    token = claim(device, instance_id)
    answer = complete(
        device, instance_id, {"submission_id": "s-1", "claim_token": token, "lines": AS_DECLARED}
    )
    assert answer == {"id": str(instance_id), "state": "completed", "result_id": ANY_ID}
    result = db.session.get(Result, (tenant.id, uuid.UUID(answer["result_id"])))
    assert result is not None
    assert result.instance_id == instance_id
    assert result.device_mode == "offline"
    assert [line["actual_qty"] for line in result.lines] == [Decimal(10), Decimal(5)]
    assert state_of(tenant, instance_id) == "completed"
    kinds = [e.kind for e in events.timeline(tenant.id, result.document_id)]
    assert kinds == ["pushed", "claimed", "completed"]


def test_the_same_submission_again_returns_the_first_answer_and_applies_nothing(
    tenant: TenantKeys, device: str
) -> None:
    instance_id = pushed_to(tenant, device)
    token = claim(device, instance_id)
    payload = {"submission_id": "s-1", "claim_token": token, "lines": AS_DECLARED}
    first = complete(device, instance_id, payload)
    again = complete(device, instance_id, dict(payload))
    assert again == first
    assert (count(Result), count(Submission)) == (1, 1)


def test_a_submission_id_reused_for_another_body_is_refused(
    tenant: TenantKeys, device: str
) -> None:
    instance_id = pushed_to(tenant, device)
    token = claim(device, instance_id)
    complete(
        device, instance_id, {"submission_id": "s-1", "claim_token": token, "lines": AS_DECLARED}
    )
    other_lines = [actual(1, 9), actual(2, 5)]
    with pytest.raises(Invalid) as info:
        complete(
            device,
            instance_id,
            {"submission_id": "s-1", "claim_token": token, "lines": other_lines},
        )
    assert info.value.code == "idempotency_key_reused"
    assert count(Result) == 1


def test_a_submission_id_reused_on_another_instance_is_refused(
    tenant: TenantKeys, device: str
) -> None:
    first, second = pushed_to(tenant, device, "Заказ-1"), pushed_to(tenant, device, "Заказ-2")
    body = {"submission_id": "s-1", "lines": AS_DECLARED}
    complete(device, first, {**body, "claim_token": claim(device, first)})
    token = claim(device, second)
    with pytest.raises(Invalid) as info:
        complete(device, second, {**body, "claim_token": token})
    assert info.value.code == "idempotency_key_reused"
    assert state_of(tenant, second) == "claimed"


def test_a_refused_completion_keeps_no_submission(tenant: TenantKeys, device: str) -> None:
    instance_id = pushed_to(tenant, device)
    token = claim(device, instance_id)
    with pytest.raises(Conflict) as info:
        complete(
            device,
            instance_id,
            {"submission_id": "s-1", "claim_token": "relay_clm_wrong", "lines": AS_DECLARED},
        )
    assert info.value.code == "claim_lost"
    assert (count(Result), count(Submission)) == (0, 0)
    assert state_of(tenant, instance_id) == "claimed"
    # The same submission_id, now right, goes through: the refusal was not remembered.
    answer = complete(
        device, instance_id, {"submission_id": "s-1", "claim_token": token, "lines": AS_DECLARED}
    )
    assert answer["state"] == "completed"


def test_quantity_control_refuses_and_stores_nothing(tenant: TenantKeys, device: str) -> None:
    instance_id = pushed_to(tenant, device)  # purchase-receipt: no excess
    token = claim(device, instance_id)
    with pytest.raises(Invalid) as info:
        complete(
            device,
            instance_id,
            {"submission_id": "s-1", "claim_token": token, "lines": [actual(1, 11)]},
        )
    assert info.value.code == "quantity_control"
    assert (count(Result), count(Submission)) == (0, 0)
    short = complete(
        device,
        instance_id,
        {"submission_id": "s-2", "claim_token": token, "lines": [actual(1, 3)]},
    )
    assert short["state"] == "completed"


def test_an_unclaimed_instance_cannot_be_completed(tenant: TenantKeys, device: str) -> None:
    instance_id = pushed_to(tenant, device)
    with pytest.raises(Conflict):
        complete(device, instance_id, {"submission_id": "s-1", "lines": AS_DECLARED})
    assert state_of(tenant, instance_id) == "queued"


def test_another_terminal_does_not_see_the_instance(tenant: TenantKeys, device: str) -> None:
    instance_id = pushed_to(tenant, device)
    token = claim(device, instance_id)
    with transaction():
        stranger = enroll(tenant.id, "ТСД-2").token
    with pytest.raises(NotFound):
        complete(
            stranger,
            instance_id,
            {"submission_id": "s-1", "claim_token": token, "lines": AS_DECLARED},
        )
    assert state_of(tenant, instance_id) == "claimed"


@pytest.mark.parametrize(("mode", "queued"), [("online", 1), ("offline", 0)])
def test_an_online_device_queues_the_webhook_delivery(
    app_ctx: Flask, tenant: TenantKeys, mode: str, queued: int
) -> None:
    with transaction():
        token = enroll(tenant.id, mode=mode).token
    instance_id = pushed_to(tenant, token)
    answer = complete(
        token,
        instance_id,
        {"submission_id": "s-1", "claim_token": claim(token, instance_id), "lines": AS_DECLARED},
    )
    entries = list(db.session.scalars(select(OutboxEntry)))
    assert len(entries) == queued
    assert [str(e.result_id) for e in entries] == [answer["result_id"]] * queued


def test_a_collective_part_is_replayed_by_its_submission_id(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    with transaction():
        terminal = enroll(tenant.id)
        add_user(tenant.id, "anna")
    with transaction():
        anna = log_in(terminal.token, "anna")
    (pushed,) = push_docs(
        tenant.accounting_key,
        "stock-count",
        [doc("Пересчёт-1", lines=stock_lines())],
        Target(all=True),
    )
    instance_id = pushed.instances[0].id
    with transaction():
        _instance, _part, token = collective.join(identity(anna), instance_id)
    payload = {
        "submission_id": "part-1",
        "claim_token": token,
        "lines": [actual(1, 4)],
        "close": False,
    }
    first = complete(anna, instance_id, payload)
    assert (first["state"], first["result_id"]) == ("claimed", None)
    assert complete(anna, instance_id, dict(payload)) == first
    closed = complete(
        anna,
        instance_id,
        {"submission_id": "close-1", "claim_token": token, "lines": [], "close": True},
    )
    assert closed["state"] == "completed"
    assert count(Result) == 1

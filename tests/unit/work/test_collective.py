"""Collective work: joining, parts submitted apart, closing only when no part is open, merging."""

import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from relay.db import transaction
from relay.documents import lifecycle, parts
from relay.documents.routing import Target
from relay.errors import Conflict
from relay.extensions import db
from relay.models import Result
from relay.processes import store
from relay.work import collective
from tests.factories import (
    actual,
    add_user,
    claim,
    complete,
    doc,
    enroll,
    identity,
    log_in,
    push_docs,
    stock_lines,
)
from tests.helpers import TenantKeys


@pytest.fixture
def operators(app_ctx: Flask, tenant: TenantKeys) -> tuple[str, str]:
    """Session tokens of anna and boris, each on a terminal of their own."""
    with transaction():
        one, two = enroll(tenant.id, "ТСД-1"), enroll(tenant.id, "ТСД-2")
        add_user(tenant.id, "anna")
        add_user(tenant.id, "boris")
    with transaction():
        return log_in(one.token, "anna"), log_in(two.token, "boris")


def count_pushed(tenant: TenantKeys) -> uuid.UUID:
    """Push a stock count to everyone; return its instance id."""
    (pushed,) = push_docs(
        tenant.accounting_key,
        "stock-count",
        [doc("Пересчёт-1", lines=stock_lines())],
        Target(all=True),
    )
    return pushed.instances[0].id


def join(token: str, instance_id: uuid.UUID) -> str:
    with transaction():
        _instance, _part, part_token = collective.join(identity(token), instance_id)
    return part_token


def submit(
    token: str, instance_id: uuid.UUID, part_token: str, lines: list[dict[str, Any]], close: bool
) -> dict[str, Any]:
    return complete(token, instance_id, lines, claim_token=part_token, close=close)


def results() -> list[Result]:
    db.session.expire_all()
    return list(db.session.scalars(select(Result).order_by(Result.id)))


def test_a_document_worked_alone_cannot_be_joined(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    (pushed,) = push_docs(tenant.accounting_key, "order-picking", [doc()], Target(all=True))
    with pytest.raises(Conflict) as info:
        join(operators[0], pushed.instances[0].id)
    assert info.value.code == "not_collective"


def test_a_collective_document_cannot_be_claimed(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    with pytest.raises(Conflict) as info:
        claim(operators[0], count_pushed(tenant))
    assert info.value.code == "collective_document"


def test_joining_again_gives_the_same_part_a_new_token(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    instance_id = count_pushed(tenant)
    old = join(operators[0], instance_id)
    new = join(operators[0], instance_id)
    assert new != old
    with pytest.raises(Conflict) as info:
        submit(operators[0], instance_id, old, [actual(1, 4)], close=False)
    assert info.value.code == "claim_lost"
    assert submit(operators[0], instance_id, new, [actual(1, 4)], close=False)["state"] == (
        "claimed"
    )
    with transaction():
        instance = lifecycle.load(identity(operators[0]), instance_id).instance
        assert len(parts.parts_of(instance)) == 1


def test_closing_while_another_part_is_open_stores_nothing(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    anna, boris = operators
    instance_id = count_pushed(tenant)
    anna_token, _boris_token = join(anna, instance_id), join(boris, instance_id)
    with pytest.raises(Conflict) as info:
        submit(anna, instance_id, anna_token, [actual(1, 4)], close=True)
    assert info.value.code == "parts_open"
    assert [p["login"] for p in info.value.details["parts"]] == ["boris"]
    assert results() == []
    # Not even anna's part was kept: she can still submit it.
    assert submit(anna, instance_id, anna_token, [actual(1, 4)], close=False)["state"] == (
        "claimed"
    )


def test_closing_with_no_part_submitted_is_refused(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    instance_id = count_pushed(tenant)
    with transaction():
        document = lifecycle.load(identity(operators[0]), instance_id).document
    with pytest.raises(Conflict) as info, transaction():
        collective.close_document(identity(tenant.accounting_key), document)
    assert info.value.code == "no_parts"


def test_a_submitted_part_takes_no_second_set_of_lines(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    instance_id = count_pushed(tenant)
    token = join(operators[0], instance_id)
    submit(operators[0], instance_id, token, [actual(1, 4)], close=False)
    with pytest.raises(Conflict) as info:
        submit(operators[0], instance_id, token, [actual(2, 1)], close=False)
    assert info.value.code == "part_submitted"


def test_parts_are_merged_into_one_result_line_by_line(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    anna, boris = operators
    instance_id = count_pushed(tenant)
    anna_token, boris_token = join(anna, instance_id), join(boris, instance_id)
    submit(anna, instance_id, anna_token, [actual(1, 4), actual(2, 6)], close=False)
    answer = submit(boris, instance_id, boris_token, [actual(1, 5)], close=True)
    assert answer["state"] == "completed"
    (result,) = results()
    assert answer["result_ids"] == [str(result.id)]
    assert [line["actual_qty"] for line in result.lines] == [Decimal(9), Decimal(6)]
    assert result.part_id is None


def test_without_a_merged_document_each_part_is_a_result(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    with transaction():
        store.save(tenant.id, "stock-count", {"keep_merged_document": False}, partial=True)
    anna, boris = operators
    instance_id = count_pushed(tenant)
    anna_token, boris_token = join(anna, instance_id), join(boris, instance_id)
    submit(anna, instance_id, anna_token, [actual(1, 4)], close=False)
    answer = submit(boris, instance_id, boris_token, [actual(1, 5)], close=True)
    found = results()
    assert sorted(answer["result_ids"]) == sorted(str(r.id) for r in found)
    assert answer["result_id"] is None
    assert len(found) == 2
    assert sorted(r.lines[0]["actual_qty"] for r in found) == [Decimal(4), Decimal(5)]
    assert all(r.part_id is not None for r in found)


def test_accounting_closes_once_every_part_is_in(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    instance_id = count_pushed(tenant)
    token = join(operators[0], instance_id)
    submit(operators[0], instance_id, token, [actual(2, 3)], close=False)
    with transaction():
        document = lifecycle.load(identity(operators[0]), instance_id).document
        answer = collective.close_document(identity(tenant.accounting_key), document)
    assert answer["state"] == "completed"
    assert int(db.session.scalar(select(func.count()).select_from(Result)) or 0) == 1


def test_joined_names_the_instances_with_the_callers_open_part(
    tenant: TenantKeys, operators: tuple[str, str]
) -> None:
    instance_id = count_pushed(tenant)
    join(operators[0], instance_id)
    other = uuid.uuid4()
    assert parts.joined(identity(operators[0]), [instance_id, other]) == {instance_id}
    assert parts.joined(identity(operators[1]), [instance_id]) == set()
    assert parts.joined(identity(operators[0]), []) == set()

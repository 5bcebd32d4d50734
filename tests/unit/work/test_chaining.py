"""The rule that turns a result's actual lines into the next document's declared lines."""

import uuid
from decimal import Decimal

from relay.directory.auth import Identity
from relay.documents import lines
from relay.documents.routing import Target
from relay.processes.schema import Process
from relay.work.chaining import declared_from_result, fallback_target

MILK = {"line_id": "1", "product_id": "p-001", "name": "Молоко 1 л", "unit": "шт", "price": 80}
KEFIR = {"line_id": "2", "product_id": "p-002", "name": "Кефир 0,5 л", "unit": "шт"}


def result_lines(actual: list[dict[str, object]]) -> tuple[list[dict], list[dict]]:
    """Bind actual lines as a completion does, so the input is a real result's shape."""
    return lines.bind(
        [{**MILK, "declared_qty": Decimal(10)}, {**KEFIR, "declared_qty": Decimal(5)}], actual
    )


def test_one_actual_line_keeps_its_line_id_and_declared_fields() -> None:
    bound, undeclared = result_lines([{"line_id": "1", "qty": Decimal(9)}])
    assert declared_from_result(bound, undeclared) == [{**MILK, "declared_qty": Decimal(9)}]


def test_several_actual_lines_become_numbered_lines_with_their_own_fields() -> None:
    bound, undeclared = result_lines(
        [
            {"line_id": "1", "qty": Decimal(6)},
            {"line_id": "1", "qty": Decimal(3), "serial": "SN-42"},
            {"line_id": "2", "qty": Decimal("0.5"), "lot": "L-7", "cell": "B-02"},
        ]
    )
    out = declared_from_result(bound, undeclared)
    assert out == [
        {**MILK, "line_id": "1-1", "declared_qty": Decimal(6)},
        {**MILK, "line_id": "1-2", "declared_qty": Decimal(3), "serial": "SN-42"},
        {**KEFIR, "declared_qty": Decimal("0.5"), "lot": "L-7", "cell": "B-02"},
    ]
    for line in out:
        assert isinstance(line["declared_qty"], Decimal)
        assert not {"actual", "actual_qty", "qty"} & set(line)


def test_lines_with_nothing_actual_are_left_out() -> None:
    bound, undeclared = result_lines(
        [{"line_id": "1", "qty": Decimal(0)}, {"line_id": "1", "qty": Decimal(0), "serial": "x"}]
    )
    assert declared_from_result(bound, undeclared) == []
    # A zero box beside a real one: the real one alone moves on, under the line's own id.
    bound, undeclared = result_lines(
        [{"line_id": "1", "qty": Decimal(0)}, {"line_id": "1", "qty": Decimal(4), "serial": "y"}]
    )
    assert declared_from_result(bound, undeclared) == [
        {**MILK, "declared_qty": Decimal(4), "serial": "y"}
    ]


def test_undeclared_goods_become_u_lines() -> None:
    bound, undeclared = result_lines(
        [
            {"product_id": "p-009", "barcode": "4600000000009", "qty": Decimal(2)},
            {"barcode": "4600000000010", "qty": Decimal("0.25"), "serial": "SN-9"},
        ]
    )
    assert declared_from_result(bound, undeclared) == [
        {"product_id": "p-009", "barcode": "4600000000009", "line_id": "u1", "declared_qty": 2},
        {
            "barcode": "4600000000010",
            "serial": "SN-9",
            "line_id": "u2",
            "declared_qty": Decimal("0.25"),
        },
    ]


def test_parts_of_a_merged_result_do_not_travel() -> None:
    merged = [
        {"line_id": "1", "qty": Decimal(4), "part_id": "part-a"},
        {"line_id": "1", "qty": Decimal(5), "part_id": "part-b"},
        {"product_id": "p-009", "qty": Decimal(1), "part_id": "part-b"},
    ]
    bound, undeclared = result_lines(merged)
    out = declared_from_result(bound, undeclared)
    assert [(line["line_id"], line["declared_qty"]) for line in out] == [
        ("1-1", 4),
        ("1-2", 5),
        ("u1", 1),
    ]
    assert all("part_id" not in line for line in out)


def test_the_declared_lines_bind_back_to_the_same_work() -> None:
    """Completing the next document with exactly what was shipped gives no discrepancy."""
    bound, undeclared = result_lines(
        [
            {"line_id": "1", "qty": Decimal(6)},
            {"line_id": "1", "qty": Decimal(3), "serial": "SN-42"},
            {"product_id": "p-009", "qty": Decimal(2)},
        ]
    )
    declared = declared_from_result(bound, undeclared)
    rebound, extra = lines.bind(
        declared, [{"line_id": d["line_id"], "qty": d["declared_qty"]} for d in declared]
    )
    assert extra == []
    assert lines.discrepancies("exact", rebound, extra) == []


def test_generated_line_ids_never_collide() -> None:
    declared = [
        {"line_id": "1", "declared_qty": Decimal(10)},
        {"line_id": "1-1", "declared_qty": Decimal(2)},
        {"line_id": "u1", "declared_qty": Decimal(1)},
    ]
    bound, undeclared = lines.bind(
        declared,
        [
            {"line_id": "1", "qty": Decimal(6)},
            {"line_id": "1", "qty": Decimal(3)},
            {"line_id": "1-1", "qty": Decimal(2)},
            {"line_id": "u1", "qty": Decimal(1)},
            {"product_id": "p-009", "qty": Decimal(1)},
        ],
    )
    out = declared_from_result(bound, undeclared)
    ids = [line["line_id"] for line in out]
    assert len(ids) == len(set(ids)), ids


def _identity(user_login: str | None) -> Identity:
    return Identity(
        tenant_id=1,
        tenant_name="t",
        kind="session" if user_login else "device",
        credential_id=uuid.uuid4(),
        device_id=DEVICE,
        user_id=uuid.uuid4() if user_login else None,
        user_login=user_login,
    )


DEVICE = uuid.uuid4()


def _process(assign_to: str, users: list[str] | None = None) -> Process:
    return Process(
        "next",
        1,
        {"assign_to": assign_to, "assignees": {"users": users or [], "groups": []}},
    )


def test_the_chain_falls_back_to_whoever_completed() -> None:
    named = Target(pin="5546")
    assert fallback_target(_process("device"), named, _identity("ivanov")) == named
    assert fallback_target(_process("device"), Target(), _identity("ivanov")) == Target(
        device_id=DEVICE
    )
    assert fallback_target(_process("users"), Target(), _identity("ivanov")) == Target(
        users=("ivanov",)
    )
    assert fallback_target(_process("users"), Target(), _identity(None)) == Target(device_id=DEVICE)
    # Fixed assignees are the next process's own default.
    assert fallback_target(_process("users", ["petrov"]), Target(), _identity("ivanov")) == (
        Target()
    )

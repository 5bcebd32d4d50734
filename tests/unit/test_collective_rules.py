"""Collective work as rules: parts concatenated, bound line by line, checked on the totals."""

from decimal import Decimal

import pytest

from relay.documents import lines
from relay.errors import Invalid

DECLARED = [
    {"line_id": "1", "product_id": "p-001", "declared_qty": Decimal(10)},
    {"line_id": "2", "product_id": "p-002", "declared_qty": Decimal("1.5")},
]
PART_A = [
    {"line_id": "1", "qty": Decimal(4), "cell": "A-01", "part_id": "a"},
    {"line_id": "2", "qty": Decimal("0.75"), "part_id": "a"},
]
PART_B = [
    {"line_id": "1", "qty": Decimal(6), "serial": "SN-1", "part_id": "b"},
    {"line_id": "2", "qty": Decimal("0.75"), "part_id": "b"},
    {"product_id": "p-009", "qty": Decimal(1), "part_id": "b"},
]


def test_merge_parts_concatenates_and_keeps_every_line() -> None:
    merged = lines.merge_parts([PART_A, PART_B])
    assert merged == [*PART_A, *PART_B]
    merged[0]["qty"] = Decimal(99)
    assert PART_A[0]["qty"] == 4  # copies, not the parts' own lines


def test_merged_lines_sum_per_declared_line_and_stay_apart() -> None:
    bound, undeclared = lines.bind(DECLARED, lines.merge_parts([PART_A, PART_B]))
    one, two = bound
    assert one["actual_qty"] == 10
    assert one["actual"] == [
        {"qty": 4, "cell": "A-01", "part_id": "a"},
        {"qty": 6, "serial": "SN-1", "part_id": "b"},
    ]
    assert two["actual_qty"] == Decimal("1.50")
    assert [a["part_id"] for a in two["actual"]] == ["a", "b"]
    assert undeclared == [{"product_id": "p-009", "qty": 1, "part_id": "b"}]
    # The declared lines themselves are not touched.
    assert "actual" not in DECLARED[0]


def test_decimal_totals_are_exact_over_many_parts() -> None:
    parts = [[{"line_id": "2", "qty": Decimal("0.001")}] for _ in range(1500)]
    bound, _ = lines.bind(DECLARED, lines.merge_parts(parts))
    assert bound[1]["actual_qty"] == Decimal("1.500")
    assert lines.discrepancies("exact", [bound[1]], []) == []


def test_a_merged_part_with_an_unknown_line_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        lines.bind(DECLARED, lines.merge_parts([PART_A, [{"line_id": "7", "qty": 1}]]))
    assert caught.value.code == "unknown_line"
    assert caught.value.details == {"line_ids": ["7"]}


def test_parts_short_each_but_exact_together_pass() -> None:
    for part in (PART_A, [line for line in PART_B if "line_id" in line]):
        alone, _ = lines.bind(DECLARED, part)
        assert [d["problem"] for d in lines.discrepancies("exact", alone, [])] == [
            "shortage",
            "shortage",
        ]
    bound, undeclared = lines.bind(
        DECLARED, lines.merge_parts([PART_A, [line for line in PART_B if "line_id" in line]])
    )
    lines.check_quantities("exact", bound, undeclared)


def test_parts_within_limits_each_but_over_together_are_refused() -> None:
    extra = [{"line_id": "1", "qty": Decimal(1), "part_id": "c"}]
    bound, undeclared = lines.bind(DECLARED, lines.merge_parts([PART_A, PART_B, extra]))
    with pytest.raises(Invalid) as caught:
        lines.check_quantities("no_excess", bound, undeclared)
    error = caught.value
    assert error.code == "quantity_control"
    assert error.details["mode"] == "no_excess"
    assert error.details["lines"] == [
        {
            "line_id": "1",
            "product_id": "p-001",
            "declared_qty": 10,
            "actual_qty": 11,
            "problem": "excess",
        },
        {
            "line_id": None,
            "product_id": "p-009",
            "barcode": None,
            "actual_qty": 1,
            "problem": "undeclared",
        },
    ]
    assert "2 line(s)" in error.message


def test_quantity_control_none_takes_anything() -> None:
    bound, undeclared = lines.bind(DECLARED, lines.merge_parts([PART_B, PART_B, PART_B]))
    lines.check_quantities("none", bound, undeclared)
    assert bound[0]["actual_qty"] == 18
    assert len(undeclared) == 3

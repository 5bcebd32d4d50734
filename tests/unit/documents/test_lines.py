"""Declared vs actual lines, quantity control, field rules, and collective parts."""

import copy
from decimal import Decimal
from decimal import Decimal as D
from typing import Any

import pytest

from relay import jsonutil
from relay.documents import lines
from relay.errors import Invalid
from tests.factories import make_process, shipped_process
from tests.helpers import AnyText


@pytest.fixture(autouse=True)
def _clean() -> None:
    """Overrides the conftest's per-test database reset: these rules never touch a database."""


DECLARED: list[dict[str, Any]] = [
    {"line_id": "1", "product_id": "p-001", "name": "Молоко 1 л", "declared_qty": D(10)},
    {"line_id": "2", "product_id": "p-002", "name": "Кефир 0,5 л", "declared_qty": D(5)},
    {"line_id": "3", "product_id": "p-003", "name": "Сыр, кг", "declared_qty": D("1.250")},
]


def wire(text: str) -> Any:
    """Parse JSON as the relay does (numbers with a fraction become Decimal)."""
    return jsonutil.loads(text)


def by_id(result: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["line_id"]: line for line in result}


# -- bind ----------------------------------------------------------------------------------


def test_bind_keeps_several_actual_lines_apart_and_sums_them() -> None:
    actual = [
        {"line_id": "1", "qty": D(6)},
        {"line_id": "1", "qty": D(3), "serial": "SN-42"},
        {"line_id": "1", "qty": D(1), "serial": "SN-43"},
        {"line_id": "3", "qty": D("1.250"), "lot": "L-7"},
    ]
    result, undeclared = lines.bind(DECLARED, actual)
    assert [line["line_id"] for line in result] == ["1", "2", "3"]
    one, two, three = result
    assert one["actual_qty"] == 10
    assert one["actual"] == [
        {"qty": 6},
        {"qty": 3, "serial": "SN-42"},
        {"qty": 1, "serial": "SN-43"},
    ]
    assert (two["actual_qty"], two["actual"]) == (0, [])
    assert three["actual_qty"] == D("1.250")
    assert three["actual"] == [{"qty": D("1.250"), "lot": "L-7"}]
    assert undeclared == []


def test_bind_never_merges_identical_actual_lines() -> None:
    box = {"line_id": "2", "qty": D(1), "product_id": "p-002"}
    result, _ = lines.bind(DECLARED, [box, dict(box)])
    assert by_id(result)["2"]["actual"] == [
        {"qty": 1, "product_id": "p-002"},
        {"qty": 1, "product_id": "p-002"},
    ]
    assert by_id(result)["2"]["actual_qty"] == 2


def test_bind_keeps_declared_fields_and_does_not_change_its_input() -> None:
    declared = copy.deepcopy(DECLARED)
    actual = [{"line_id": "1", "qty": D(2)}]
    before = copy.deepcopy(actual)
    result, _ = lines.bind(declared, actual)
    assert {k: v for k, v in result[0].items() if k not in ("actual", "actual_qty")} == DECLARED[0]
    assert declared == DECLARED
    assert actual == before


def test_bind_puts_unbound_lines_into_undeclared() -> None:
    actual = [
        {"product_id": "p-009", "barcode": "4600000000009", "qty": D(1)},
        {"line_id": "2", "qty": D(5)},
        {"barcode": "4600000000010", "qty": D(2)},
    ]
    result, undeclared = lines.bind(DECLARED, actual)
    assert undeclared == [
        {"product_id": "p-009", "barcode": "4600000000009", "qty": 1},
        {"barcode": "4600000000010", "qty": 2},
    ]
    assert by_id(result)["2"]["actual_qty"] == 5


def test_bind_matches_an_integer_line_id_to_its_text() -> None:
    result, _ = lines.bind([{"line_id": "7", "declared_qty": D(1)}], [{"line_id": 7, "qty": D(1)}])
    assert result[0]["actual_qty"] == 1


def test_bind_refuses_unknown_line_ids_listing_each_once() -> None:
    actual = [
        {"line_id": "9", "qty": D(1)},
        {"line_id": "1", "qty": D(1)},
        {"line_id": "42", "qty": D(1)},
        {"line_id": "9", "qty": D(2)},
    ]
    with pytest.raises(Invalid) as info:
        lines.bind(DECLARED, actual)
    err = info.value
    assert (err.status, err.code) == (422, "unknown_line")
    assert err.details == {"line_ids": ["42", "9"]}
    assert "42" in err.message
    assert "9" in err.message


def test_bind_of_nothing_leaves_every_line_at_zero() -> None:
    result, undeclared = lines.bind(DECLARED, [])
    assert [line["actual_qty"] for line in result] == [0, 0, 0]
    assert undeclared == []


# -- quantity control ----------------------------------------------------------------------


def bound(actual: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return lines.bind(DECLARED, actual)


MESSY = [
    {"line_id": "1", "qty": D(11)},  # excess
    {"line_id": "2", "qty": D(4)},  # shortage
    {"line_id": "3", "qty": D("1.250")},  # exact
    {"product_id": "p-009", "barcode": "4600000000009", "qty": D(1)},  # undeclared
]


def test_mode_none_accepts_anything() -> None:
    assert lines.discrepancies("none", *bound(MESSY)) == []
    lines.check_quantities("none", *bound(MESSY))


def test_no_excess_lists_excess_and_undeclared_but_not_shortage() -> None:
    found = lines.discrepancies("no_excess", *bound(MESSY))
    assert found == [
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
            "barcode": "4600000000009",
            "actual_qty": 1,
            "problem": "undeclared",
        },
    ]


def test_exact_lists_every_discrepant_line() -> None:
    found = lines.discrepancies("exact", *bound(MESSY))
    assert [(f["line_id"], f["problem"]) for f in found] == [
        ("1", "excess"),
        ("2", "shortage"),
        (None, "undeclared"),
    ]
    shortage = found[1]
    assert (shortage["declared_qty"], shortage["actual_qty"]) == (5, 4)


def test_exact_counts_a_line_nobody_scanned_as_a_shortage() -> None:
    found = lines.discrepancies("exact", *bound([{"line_id": "1", "qty": D(10)}]))
    assert [(f["line_id"], f["problem"]) for f in found] == [("2", "shortage"), ("3", "shortage")]


def test_exact_and_no_excess_accept_a_matching_count() -> None:
    actual = [
        {"line_id": "1", "qty": D(4)},
        {"line_id": "1", "qty": D(6)},
        {"line_id": "2", "qty": D(5)},
        {"line_id": "3", "qty": D("1.25")},
    ]
    for mode in ("no_excess", "exact"):
        assert lines.discrepancies(mode, *bound(actual)) == []
        lines.check_quantities(mode, *bound(actual))


def test_excess_is_judged_on_the_sum_of_the_lines_not_each_line() -> None:
    actual = [{"line_id": "2", "qty": D(3)}, {"line_id": "2", "qty": D(3)}]
    found = lines.discrepancies("no_excess", *bound(actual))
    assert [(f["line_id"], f["actual_qty"]) for f in found] == [("2", 6)]


def test_decimal_sums_are_exact_from_the_wire() -> None:
    """0.1 + 0.2 is 0.3: no spurious excess or shortage from binary floats."""
    declared = wire('[{"line_id": "1", "declared_qty": 0.3}]')
    actual = wire('[{"line_id": "1", "qty": 0.1}, {"line_id": "1", "qty": 0.2}]')
    result, undeclared = lines.bind(declared, actual)
    assert result[0]["actual_qty"] == D("0.3")
    assert lines.discrepancies("exact", result, undeclared) == []


@pytest.mark.parametrize(
    ("qty", "mode", "problem"),
    [("1.001", "no_excess", "excess"), ("0.999", "exact", "shortage"), ("1.000", "exact", None)],
)
def test_a_gram_over_or_under_a_kilogram_counts(qty: str, mode: str, problem: str | None) -> None:
    declared = wire('[{"line_id": "kg", "product_id": "cheese", "declared_qty": 1}]')
    actual = wire(f'[{{"line_id": "kg", "qty": {qty}}}]')
    found = lines.discrepancies(mode, *lines.bind(declared, actual))
    assert [f["problem"] for f in found] == ([problem] if problem else [])
    if problem:
        assert found[0]["actual_qty"] == D(qty)


def test_check_quantities_raises_422_listing_every_line() -> None:
    with pytest.raises(Invalid) as info:
        lines.check_quantities("exact", *bound(MESSY))
    err = info.value
    assert (err.status, err.code) == (422, "quantity_control")
    assert err.details["mode"] == "exact"
    assert err.details["lines"] == lines.discrepancies("exact", *bound(MESSY))
    assert len(err.details["lines"]) == 3
    assert "3 line" in err.message


def test_check_quantities_no_excess_passes_a_shortage() -> None:
    lines.check_quantities("no_excess", *bound([{"line_id": "1", "qty": D(1)}]))


# -- fields to the terminal ----------------------------------------------------------------

HEADER = {"warehouse": "Основной склад", "counterparty": "ООО Ромашка", "price_list": "Опт"}
DOC_LINES = [
    {
        "line_id": "1",
        "product_id": "p-001",
        "name": "Молоко 1 л",
        "barcode": "4601234567890",
        "price": D("89.90"),
        "declared_qty": D(10),
    }
]


def test_for_terminal_keeps_only_the_listed_header_and_line_fields() -> None:
    process = make_process(
        fields={"header_to_terminal": ["warehouse"], "lines_to_terminal": ["product_id", "name"]}
    )
    header, out = lines.for_terminal(process, HEADER, DOC_LINES)
    assert header == {"warehouse": "Основной склад"}
    # line_id always travels; declared_qty only when listed (a count can be blind).
    assert out == [{"line_id": "1", "product_id": "p-001", "name": "Молоко 1 л"}]


def test_for_terminal_sends_everything_when_the_lists_are_null() -> None:
    process = make_process()
    assert process.fields["header_to_terminal"] is None
    header, out = lines.for_terminal(process, HEADER, DOC_LINES)
    assert header == HEADER
    assert out == DOC_LINES


def test_for_terminal_with_an_empty_header_list_sends_no_header() -> None:
    process = make_process(fields={"header_to_terminal": []})
    header, out = lines.for_terminal(process, HEADER, DOC_LINES)
    assert header == {}
    assert out == DOC_LINES


def test_for_terminal_does_not_change_the_document() -> None:
    before = copy.deepcopy(DOC_LINES)
    process = make_process(fields={"lines_to_terminal": ["name"]})
    lines.for_terminal(process, HEADER, DOC_LINES)
    assert before == DOC_LINES


def test_stock_count_is_counted_blind() -> None:
    """stock-count.yaml: "Book quantities are not shown: operators count blind"."""
    _, out = lines.for_terminal(shipped_process("stock-count"), HEADER, DOC_LINES)
    assert "declared_qty" not in out[0]


# -- fields from the terminal --------------------------------------------------------------


def test_check_from_terminal_accepts_what_the_process_allows() -> None:
    process = shipped_process("purchase-receipt")
    lines.check_from_terminal(
        process,
        {"comment": "2 boxes damaged"},
        [
            {"line_id": "1", "qty": D(6)},
            {"line_id": "1", "qty": D(3), "serial": "SN-42", "expiry_date": "2027-01-01"},
            {"product_id": "p-009", "qty": D(1)},
            {"barcode": "4600000000009", "qty": D(1)},
        ],
    )


def test_check_from_terminal_refuses_a_header_field_naming_it() -> None:
    with pytest.raises(Invalid) as info:
        lines.check_from_terminal(
            shipped_process("purchase-receipt"), {"comment": "ok", "state": "processed"}, []
        )
    err = info.value
    assert (err.status, err.code) == (422, "field_not_allowed")
    assert err.details == {"fields": {"header": {"state": [AnyText()]}}}
    assert "state" in err.message


def test_check_from_terminal_names_every_refused_field() -> None:
    process = make_process(
        fields={"header_from_terminal": ["comment"], "lines_from_terminal": ["serial"]}
    )
    with pytest.raises(Invalid) as info:
        lines.check_from_terminal(
            process,
            {"comment": "", "warehouse": "Склад 2", "number": "1"},
            [
                {"line_id": "1", "qty": D(1), "serial": "SN"},
                {"line_id": "1", "qty": D(1), "declared_qty": D(100), "price": D(1)},
                {"line_id": "2", "qty": D(1), "cell": "A-1"},
            ],
        )
    err = info.value
    assert err.code == "field_not_allowed"
    fields = err.details["fields"]
    assert set(fields["header"]) == {"warehouse", "number"}
    assert set(fields["lines"]) == {"1", "2"}
    assert set(fields["lines"]["1"]) == {"declared_qty", "price"}
    assert set(fields["lines"]["2"]) == {"cell"}
    for name in ("warehouse", "number", "declared_qty", "price", "cell"):
        assert name in err.message


def test_header_from_terminal_can_be_closed_entirely() -> None:
    process = make_process(fields={"header_from_terminal": []})
    with pytest.raises(Invalid) as info:
        lines.check_from_terminal(process, {"comment": "hi"}, [])
    assert info.value.code == "field_not_allowed"
    lines.check_from_terminal(process, {}, [{"line_id": "1", "qty": D(1)}])


@pytest.mark.parametrize(
    "line",
    [
        {"qty": D(1)},
        {"qty": D(1), "name": "Что-то"},
        {"qty": D(1), "product_id": "", "barcode": ""},
    ],
    ids=["bare", "name-only", "empty-ids"],
)
def test_an_unbound_line_needs_a_product_id_or_a_barcode(line: dict[str, Any]) -> None:
    actual = [{"line_id": "1", "qty": D(1)}, line]
    with pytest.raises(Invalid) as info:
        lines.check_from_terminal(shipped_process("purchase-receipt"), {}, actual)
    err = info.value
    assert err.status == 422
    assert "product_id" in err.message
    assert set(err.details["fields"]["lines"]) == {"1"}


# -- collective work: parts concatenated, bound line by line, checked on the totals ---------------

PARTS_DECLARED = [
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
    bound, undeclared = lines.bind(PARTS_DECLARED, lines.merge_parts([PART_A, PART_B]))
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
    assert "actual" not in PARTS_DECLARED[0]


def test_decimal_totals_are_exact_over_many_parts() -> None:
    parts = [[{"line_id": "2", "qty": Decimal("0.001")}] for _ in range(1500)]
    bound, _ = lines.bind(PARTS_DECLARED, lines.merge_parts(parts))
    assert bound[1]["actual_qty"] == Decimal("1.500")
    assert lines.discrepancies("exact", [bound[1]], []) == []


def test_a_merged_part_with_an_unknown_line_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        lines.bind(PARTS_DECLARED, lines.merge_parts([PART_A, [{"line_id": "7", "qty": 1}]]))
    assert caught.value.code == "unknown_line"
    assert caught.value.details == {"line_ids": ["7"]}


def test_parts_short_each_but_exact_together_pass() -> None:
    for part in (PART_A, [line for line in PART_B if "line_id" in line]):
        alone, _ = lines.bind(PARTS_DECLARED, part)
        assert [d["problem"] for d in lines.discrepancies("exact", alone, [])] == [
            "shortage",
            "shortage",
        ]
    bound, undeclared = lines.bind(
        PARTS_DECLARED, lines.merge_parts([PART_A, [line for line in PART_B if "line_id" in line]])
    )
    lines.check_quantities("exact", bound, undeclared)


def test_parts_within_limits_each_but_over_together_are_refused() -> None:
    extra = [{"line_id": "1", "qty": Decimal(1), "part_id": "c"}]
    bound, undeclared = lines.bind(PARTS_DECLARED, lines.merge_parts([PART_A, PART_B, extra]))
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
    bound, undeclared = lines.bind(PARTS_DECLARED, lines.merge_parts([PART_B, PART_B, PART_B]))
    lines.check_quantities("none", bound, undeclared)
    assert bound[0]["actual_qty"] == 18
    assert len(undeclared) == 3

"""The bounds relay/api/docs.py states mean what the server checks, value for value."""

import re
from decimal import Decimal
from typing import Any

import marshmallow as ma
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay import jsonutil
from relay.api.docs import DATE_PATTERN, _catalog_decimal, _packaging_factor
from relay.api.fields import DocumentDate, Quantity
from relay.catalogs import items

DATE = re.compile(DATE_PATTERN)
_date_field = DocumentDate()


def documented_date(text: str) -> bool:
    """What the document says of DocumentIn.date: the pattern, and at most 32 characters."""
    return bool(DATE.fullmatch(text)) and len(text) <= 32


def server_takes_date(text: str) -> bool:
    try:
        _date_field.deserialize(text)
    except ma.ValidationError:
        return False
    return True


def date_like() -> st.SearchStrategy[str]:
    """Text shaped like a date or a date and time, with every digit free (so many are not real)."""
    two = st.integers(0, 99).map(lambda n: f"{n:02d}")
    time = st.builds(
        lambda sep, h, m, s, frac, zone: f"{sep}{h}:{m}{s}{frac}{zone}",
        st.sampled_from(["T", " "]),
        two,
        two,
        st.sampled_from(["", ":00", ":59", ":60"]),
        st.sampled_from(["", ".5", ".123456789"]),
        st.sampled_from(["", "Z", "+03:00", "-0530", "+24:00", "+23:60"]),
    )
    return st.builds(
        lambda y, m, d, t: f"{y:04d}-{m}-{d}{t}",
        st.integers(0, 9999),
        two,
        two,
        st.one_of(st.just(""), time),
    )


@settings(max_examples=400, deadline=None)
@given(st.one_of(date_like(), st.from_regex(DATE, fullmatch=True)))
def test_the_date_pattern_is_what_the_server_takes(text: str) -> None:
    assert documented_date(text) == server_takes_date(text), text


@pytest.mark.parametrize(
    ("text", "real"),
    [("2024-02-29", True), ("2023-02-29", False), ("1900-02-29", False), ("2000-02-29", True),
     ("0000-01-01", False), ("2026-11-20T24:00", False), ("2026-11-20 10:15:00.5+05:30", True)],
)  # fmt: skip
def test_leap_years_and_hours(text: str, real: bool) -> None:
    assert documented_date(text) is real is server_takes_date(text)


def parsed(text: str) -> Any:
    try:
        return jsonutil.parse_body(text.encode())
    except jsonutil.BodyError:
        return None


@pytest.mark.parametrize(
    ("text", "taken"),
    [("1e39", True), ("9.999e39", True), ("1e40", False), ("-1e40", False),
     ("1e-40", True), ("1.5e-40", False), ("0.0", True),
     ("9" * 40, True), ("9" * 41, False)],
)  # fmt: skip
def test_the_body_parser_takes_numbers_below_1e40_with_40_decimals(text: str, taken: bool) -> None:
    assert (parsed(text) is not None) is taken


@pytest.mark.parametrize(
    ("value", "taken"),
    [(Decimal("999999999999.999999"), True), (Decimal("1E+12"), False),
     (Decimal("0.000001"), True), (Decimal("0.0000001"), False)],
)  # fmt: skip
def test_quantity_bounds_are_the_documented_ones(value: Decimal, taken: bool) -> None:
    field = Quantity()
    meta = field.metadata
    documented = value < meta["maximum"] and (value / Decimal(str(meta["multipleOf"]))) % 1 == 0
    try:
        field.deserialize(value)
        server = True
    except ma.ValidationError:
        server = False
    assert server is documented is taken


@pytest.mark.parametrize(
    ("sign", "text"),
    [("any", "-3"), ("any", "0.5"), ("not_negative", "89.90"), ("not_negative", "-0.0"),
     ("positive", "12"), ("positive", "0.001"), ("positive", "0"), ("positive", "0.000"),
     ("positive", "0.0000001"), ("positive", "999999999.5"), ("positive", "1" + "0" * 9),
     ("not_negative", "-1"), ("any", "1e5"), ("any", " 5"), ("any", "1" * 22)],
)  # fmt: skip
def test_catalog_number_text_is_what_the_server_takes(sign: str, text: str) -> None:
    shown = _packaging_factor() if sign == "positive" else _catalog_decimal(sign)
    pattern = shown["anyOf"][1]["pattern"]
    field = {
        "any": items.Stock().fields["qty"],
        "not_negative": items.Price().fields["price"],
        "positive": items.Packaging().fields["factor"],
    }[sign]
    try:
        field.deserialize(text)
        server = True
    except ma.ValidationError:
        server = False
    assert bool(re.fullmatch(pattern, text)) is server, (sign, text)


@pytest.mark.parametrize(
    ("value", "taken"),
    [(Decimal("12"), True), (Decimal("0.000001"), True), (Decimal("0.0000001"), False),
     (Decimal("999999999.999999"), True), (Decimal("1E+9"), False), (Decimal(0), False)],
)  # fmt: skip
def test_a_packaging_factor_fits_the_barcode_index(value: Decimal, taken: bool) -> None:
    number = _packaging_factor()["anyOf"][0]
    documented = (
        0 < value < number["maximum"] and (value / Decimal(str(number["multipleOf"]))) % 1 == 0
    )
    try:
        items.Packaging().load({"barcode": "4601234567890", "factor": value})
        server = True
    except ma.ValidationError:
        server = False
    assert server is documented is taken

"""Patterns are matched whole, as the OpenAPI document's ECMA patterns are."""

import marshmallow as ma
import pytest

from relay.patterns import Pattern


@pytest.mark.parametrize(("value", "taken"), [("abc", True), ("abc\n", False), ("ab c", False)])
def test_a_final_newline_does_not_pass_the_end_anchor(value: str, taken: bool) -> None:
    pattern = Pattern(r"^[a-z]+$")
    try:
        pattern(value)
    except ma.ValidationError:
        assert not taken
    else:
        assert taken

"""Field types shared by several resources."""

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import validate

from relay.api.base import Schema
from relay.timeutil import iso

MAX_DECIMAL_PLACES = 6
MAX_INTEGER_DIGITS = 12
QUANTITY_STEP = float(f"1e-{MAX_DECIMAL_PLACES}")


class Quantity(ma.fields.Decimal):
    """A decimal quantity: a JSON number (never a string or a bool), not negative, bounded."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validate", validate.Range(min=0))
        # The bounds _deserialize enforces, as the OpenAPI document states them.
        kwargs.setdefault(
            "metadata",
            {
                "type": "number",
                "maximum": 10**MAX_INTEGER_DIGITS,
                "exclusiveMaximum": True,
                "multipleOf": QUANTITY_STEP,
                "description": f"At most {MAX_INTEGER_DIGITS} digits before the point and "
                f"{MAX_DECIMAL_PLACES} after it.",
            },
        )
        super().__init__(allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ma.ValidationError("Must be a JSON number, e.g. 10 or 0.001 (not a string).")
        result = super()._deserialize(value, attr, data, **kwargs)
        if result is None:  # pragma: no cover - None is handled before _deserialize
            raise self.make_error("invalid")
        exponent = result.as_tuple().exponent
        if not isinstance(exponent, int) or exponent < -MAX_DECIMAL_PLACES:
            raise ma.ValidationError(f"At most {MAX_DECIMAL_PLACES} decimal places.")
        if result.adjusted() >= MAX_INTEGER_DIGITS:
            raise ma.ValidationError(f"At most {MAX_INTEGER_DIGITS} digits before the point.")
        return result


# Python's str.strip() white space, spelled out (ECMA's \S would let U+0085 through).
NOT_ONLY_SPACE = "[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class Identifier(ma.fields.Field):
    """An identifier the accounting side chooses: a string, or an integer taken as its text."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's API
        "invalid": "Must be a string or an integer.",
        "length": "Must be 1 to {max} characters.",
    }

    def __init__(self, *, max_length: int = 200, **kwargs: Any) -> None:
        # What the OpenAPI document says it takes: text of 1 to max_length characters (not
        # only spaces), or an integer.
        kwargs.setdefault("metadata", {})
        kwargs["metadata"].setdefault(
            "oneOf",
            [
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": max_length,
                    "pattern": NOT_ONLY_SPACE,
                },
                {"type": "integer", "minimum": -(10**15), "maximum": 10**15},
            ],
        )
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.make_error("invalid")
        text = str(value).strip()
        if not 1 <= len(text) <= self.max_length:
            raise self.make_error("length", max=self.max_length)
        return text

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


class DocumentDate(ma.fields.String):
    """An ISO 8601 date, or date and time, as 1C writes it: "2026-11-20", "2026-11-20T00:00:00"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 32 or not _DATE.match(text):
            raise ma.ValidationError("Must be an ISO 8601 date, e.g. 2026-11-20.")
        try:
            if "T" in text or " " in text:
                datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                date.fromisoformat(text)
        except ValueError as err:
            raise ma.ValidationError("Not a real date.") from err
        return text


class Timestamp(ma.fields.String):
    """A moment on the wire: ISO 8601 UTC with milliseconds and a Z (``relay.timeutil.iso``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return iso(value)


class WhenSet(ma.fields.String):
    """A string left out of the answer when it is None (a secret shown only once)."""

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        value = super().get_value(obj, attr, accessor, default)
        return ma.missing if value is None else value


class Derived(ma.fields.Field):
    """A value worked out from the dumped object by ``fn``, for what it does not hold itself.

    Mixed into a field type (``DerivedList``…), so the OpenAPI document shows that type.
    """

    def __init__(self, fn: Callable[[Any], Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fn = fn

    def get_value(
        self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing
    ) -> Any:
        return self.fn(obj)


class DerivedList(Derived, ma.fields.List):
    pass


class DerivedDict(Derived, ma.fields.Dict):
    pass


class DerivedNested(Derived, ma.fields.Nested):
    pass


class DerivedTimestamp(Derived, Timestamp):
    pass


class DerivedString(Derived, ma.fields.String):
    pass


class Empty(Schema):
    """No body fields."""


SCALARS = (str, int, Decimal, bool, type(None))


class OpenLine(ma.Schema):
    """A document line: the known fields typed, any other field kept when it is a scalar."""

    class Meta:
        unknown = ma.INCLUDE

    @ma.validates_schema(pass_original=True)
    def _extra_scalars(self, data: dict[str, Any], original: Any, **_kwargs: Any) -> None:
        if not isinstance(original, dict):
            return
        bad = {
            name: ["Extra line fields must be text, numbers, booleans or null."]
            for name, value in original.items()
            if name not in self.fields and not isinstance(value, SCALARS)
        }
        if bad:
            raise ma.ValidationError(bad)

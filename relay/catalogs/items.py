"""What an item of each catalog may hold, and the barcodes it brings to the barcode index.

Known catalogs are validated field by field; any catalog may carry extra fields as long as they
are scalars (text, numbers, true/false, null), so a terminal can show them without knowing them.
Other catalog names hold items of scalar fields only. Every item has the accounting side's
``id``; it is kept apart from the item's data.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from relay import jsonutil
from relay.catalogs.config import Settings
from relay.errors import N_, Invalid, first_field_error

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SCALARS = (str, int, float, Decimal, bool, type(None))


def check_name(name: str) -> str:
    """Refuse a catalog name that is not lowercase letters, digits, '-' and '_'."""
    if not NAME.fullmatch(name):
        raise Invalid(
            N_(
                "'%(name)s' is not a catalog name: use lowercase latin letters, digits, '-' "
                "and '_' (at most 64), e.g. products.",
                name=name[:80],
            ),
            code="invalid_catalog_name",
            details={"catalog": name[:80]},
        )
    return name


def _text(limit: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=limit), **kwargs)


def _optional_text(limit: int) -> fields.String:
    return fields.String(validate=validate.Length(max=limit), allow_none=True)


class ItemSchema(ma.Schema):
    """Any item: an id, and scalar fields besides the declared ones."""

    class Meta:
        unknown = ma.INCLUDE

    id = _text(200, required=True)

    @ma.validates_schema(pass_original=True)
    def _extras_are_scalars(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        if not isinstance(original, dict):
            return
        errors = {
            key: [N_("Must be text, a number, true/false or null.")]
            for key, value in original.items()
            if key not in self.fields and not isinstance(value, SCALARS)
        }
        if errors:
            raise ma.ValidationError(errors)


# A number given as text: digits, at most one '-', a point and digits; no exponent, no spaces.
NUMBER_TEXT = re.compile(r"^-?[0-9]{1,21}(\.[0-9]{1,20})?$")


class _Decimal(fields.Decimal):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str) and not NUMBER_TEXT.fullmatch(value):
            raise ma.ValidationError("Must be a number, or text like 89.90 or -3.")
        return super()._deserialize(value, attr, data, **kwargs)


def _number(**kwargs: Any) -> fields.Decimal:
    """A decimal kept exact; given as a JSON number or as text ("89.90" from a CSV)."""
    checks: list[Any] = [_bounded]
    if "validate" in kwargs:
        checks.append(kwargs.pop("validate"))
    return _Decimal(as_string=False, validate=checks, **kwargs)


def _bounded(value: Decimal) -> bool:
    if abs(value.adjusted()) > 20:
        raise ma.ValidationError(N_("Must be between -10^20 and 10^20."))
    return True


# The barcode index keeps a packaging's factor as NUMERIC(20, 6) (a double on SQLite: 15
# significant digits), and a lookup answers it from there: a factor it cannot hold exactly is
# refused, not rounded (nor a numeric overflow, a 500, on PostgreSQL).
FACTOR_INTEGER_DIGITS, FACTOR_DECIMALS = 9, 6


def _factor(value: Decimal) -> bool:
    exponent = value.as_tuple().exponent
    if value <= 0 or value.adjusted() >= FACTOR_INTEGER_DIGITS:
        raise ma.ValidationError(f"Must be above 0 and below 10^{FACTOR_INTEGER_DIGITS}.")
    if isinstance(exponent, int) and exponent < -FACTOR_DECIMALS:
        raise ma.ValidationError(f"At most {FACTOR_DECIMALS} decimal places.")
    return True


class Packaging(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    barcode = _text(100, required=True)
    unit = _optional_text(64)
    factor = _number(allow_none=True, validate=_factor)


class Product(ItemSchema):
    name = _text(500, required=True)
    unit = _text(64, required=True)
    article = _optional_text(200)
    barcodes = fields.List(fields.Nested(Packaging), load_default=list)

    @ma.validates("barcodes")
    def _distinct(self, value: list[dict[str, Any]], **kwargs: Any) -> None:
        codes = [b.get("barcode") for b in value if isinstance(b, dict)]
        twice = sorted({c for c in codes if c and codes.count(c) > 1})
        if twice:
            raise ma.ValidationError(N_("Barcode %(barcode)s is listed twice.", barcode=twice[0]))


class Warehouse(ItemSchema):
    name = _text(500, required=True)


class Cell(ItemSchema):
    warehouse_id = _text(200, required=True)
    name = _text(500, required=True)
    barcode = fields.String(validate=validate.Length(min=1, max=100), allow_none=True)


class Stock(ItemSchema):
    product_id = _text(200, required=True)
    warehouse_id = _text(200, required=True)
    cell_id = _optional_text(200)
    qty = _number(required=True)


class Price(ItemSchema):
    product_id = _text(200, required=True)
    price = _number(required=True, validate=validate.Range(min=0))


SCHEMAS: dict[str, ma.Schema] = {
    "products": Product(),
    "warehouses": Warehouse(),
    "cells": Cell(),
    "stock": Stock(),
    "prices": Price(),
}
FREE = ItemSchema()


def schema_for(catalog: str) -> ma.Schema:
    """The schema of a known catalog, or the free one."""
    return SCHEMAS.get(catalog, FREE)


@dataclass(frozen=True)
class Barcode:
    """One row of the barcode index."""

    barcode: str
    kind: str
    unit: str | None
    factor: Decimal | None


def barcodes_of(catalog: str, data: dict[str, Any]) -> list[Barcode]:
    """The barcodes an item adds to the index: a product's packaging, a cell's label."""
    if catalog == "products":
        return [
            Barcode(b["barcode"], "product", b.get("unit"), _decimal(b.get("factor")))
            for b in data.get("barcodes") or []
        ]
    if catalog == "cells" and data.get("barcode"):
        return [Barcode(str(data["barcode"]), "cell", None, None)]
    return []


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def validate_items(
    catalog: str, raw: Sequence[Any], settings: Settings
) -> dict[str, dict[str, Any]]:
    """Validate a batch of items; return each item's data (without its id) by id, in order."""
    if len(raw) > settings.packet_max_items:
        raise Invalid(
            N_(
                "At most %(cap)s items go in one call or packet; this one has %(count)s. Send "
                "the catalog in packets (POST …/uploads).",
                cap=settings.packet_max_items,
                count=len(raw),
            ),
            code="too_many_items",
            details={"limit": settings.packet_max_items, "items": len(raw)},
        )
    schema = schema_for(catalog)
    out: dict[str, dict[str, Any]] = {}
    errors: dict[int, Any] = {}
    repeated: list[str] = []
    for index, item in enumerate(raw):
        try:
            loaded = schema.load(item)
        except ma.ValidationError as err:
            errors[index] = err.messages
            continue
        ident = loaded.pop("id")
        if ident in out:
            repeated.append(ident)
            continue
        size = len(jsonutil.dumps(loaded).encode("utf-8")) + len(ident)
        if size > settings.item_max_bytes:
            errors[index] = {
                "_schema": [
                    N_(
                        "The item is %(size)s bytes; at most %(cap)s.",
                        size=size,
                        cap=settings.item_max_bytes,
                    )
                ]
            }
            continue
        out[ident] = loaded
    if errors:
        index, messages = next(iter(errors.items()))
        item = raw[index]
        ident = item.get("id") if isinstance(item, dict) else None
        named = (
            N_("Item %(n)s (id %(id)r)", n=index + 1, id=ident)
            if isinstance(ident, str)
            else N_("Item %(n)s", n=index + 1)
        )
        first = first_field_error(messages) or N_("see details.")
        raise Invalid(
            N_(
                "%(item)s of catalog %(catalog)s is not valid: %(reason)s "
                "%(count)s item(s) in all; nothing was applied.",
                item=named,
                catalog=catalog,
                reason=first,
                count=len(errors),
            ),
            details={"items": {str(i): m for i, m in errors.items()}},
        )
    if repeated:
        raise Invalid(
            N_(
                "Item id %(id)r appears more than once in this batch; send each item once.",
                id=repeated[0],
            ),
            code="duplicate_ids",
            details={"ids": sorted(set(repeated))[:100]},
        )
    return out

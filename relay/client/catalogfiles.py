"""Catalog files as accounting exports them: JSON, or CSV with one item per row.

JSON is a list of items or ``{"items": [...]}``. CSV has a header row and is read as UTF-8
(with or without a BOM), its delimiter found among ``,`` ``;`` and tab (a Russian Excel writes
``;``). Empty cells are left out. Columns:

- ``id`` (required), and any other column as a text field;
- ``qty``, ``price`` and ``factor`` as exact decimals (a decimal comma is accepted: ``89,90``);
- products: ``barcode`` (one barcode) and/or ``barcodes``: several, separated by ``|``, each
  ``code`` or ``code:unit:factor`` (``4601234567890|14601234567897:кор:12``).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from relay.client import jsonio

NUMERIC = frozenset({"qty", "price", "factor"})


class CatalogFileError(ValueError):
    """A catalog file that cannot be read: the message says where and why."""


def read_items(path: Path, catalog: str) -> list[dict[str, Any]]:
    """Read the items of ``catalog`` from a JSON or CSV file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise CatalogFileError(f"{path} is not UTF-8 text: {err}") from err
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        return _json_items(path, text)
    return _csv_items(path, text, catalog)


def _json_items(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = jsonio.loads(text)
    except ValueError as err:
        raise CatalogFileError(f"{path} is not JSON: {err}") from err
    if isinstance(data, dict):
        data = data.get("items")
    if not isinstance(data, list):
        raise CatalogFileError(f'{path} must hold a list of items, or {{"items": [...]}}.')
    return data


def _number(value: str, where: str) -> Decimal:
    try:
        number = Decimal(value.replace(" ", "").replace("\u00a0", "").replace(",", "."))
    except InvalidOperation as err:
        raise CatalogFileError(f"{where}: {value!r} is not a number.") from err
    if not number.is_finite():
        raise CatalogFileError(f"{where}: {value!r} is not a number.")
    return number


def _packaging(value: str, where: str) -> list[dict[str, Any]]:
    out = []
    for entry in filter(None, (e.strip() for e in value.split("|"))):
        code, unit, factor = [*entry.split(":", 2), "", ""][:3]
        packaging: dict[str, Any] = {"barcode": code.strip()}
        if unit.strip():
            packaging["unit"] = unit.strip()
        if factor.strip():
            packaging["factor"] = _number(factor.strip(), where)
        out.append(packaging)
    return out


def _csv_items(path: Path, text: str, catalog: str) -> list[dict[str, Any]]:
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = [c.strip() for c in reader.fieldnames or []]
    if "id" not in columns:
        raise CatalogFileError(
            f"{path} has no 'id' column (columns: {', '.join(columns) or 'none'}); the first "
            "row names the columns."
        )
    items = []
    for row in reader:
        where = f"{path.name}, line {reader.line_num}"
        item: dict[str, Any] = {}
        for key, value in row.items():
            if key is None or value is None:
                raise CatalogFileError(f"{where}: the row has more cells than the header.")
            key, value = key.strip(), value.strip()
            if not value:
                continue
            if catalog == "products" and key in ("barcode", "barcodes"):
                item["barcodes"] = item.get("barcodes", []) + _packaging(value, where)
            elif key in NUMERIC:
                item[key] = _number(value, where)
            else:
                item[key] = value
        if not item:
            continue
        if not item.get("id"):
            raise CatalogFileError(f"{where}: the 'id' cell is empty.")
        items.append(item)
    return items

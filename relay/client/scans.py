"""Scans as a terminal records them, and how they become a completion's actual lines.

A scan names goods by ``line_id``, ``barcode`` or ``product_id`` and carries a ``qty`` (1 when
left out: one scan, one piece) and optionally ``serial``, ``lot`` or any other field the
business process takes back. The relay binds actual lines by ``line_id`` only, so the terminal
binds a barcode or product id to the declared line that has it; goods nobody declared are sent
unbound, with their barcode or product id. Every scan stays its own line: boxes, serial numbers
and lots are never merged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from relay.client import jsonio

IDENTIFYING = ("line_id", "barcode", "product_id")


class ScanError(ValueError):
    """A scan file or a typed scan that cannot be read; the message says where."""


def parse_qty(value: Any) -> Decimal:
    """A quantity as an exact decimal; "1,5" (a decimal comma, as 1C and Excel write it) too."""
    if isinstance(value, bool):
        raise ScanError(f"qty must be a number, not {value!r}.")
    if isinstance(value, int | Decimal):
        qty = Decimal(value)
    else:
        try:
            qty = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation as err:
            raise ScanError(f"qty must be a number, not {value!r}.") from err
    if not qty.is_finite() or qty < 0:
        raise ScanError(f"qty must be a number of 0 or more, not {value!r}.")
    return qty


def normalize(raw: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """One scan with empty fields dropped, ``qty`` a Decimal, and something to identify it."""
    scan = {
        str(k).strip(): (v.strip() if isinstance(v, str) else v)
        for k, v in raw.items()
        if k is not None and v is not None and (not isinstance(v, str) or v.strip())
    }
    try:
        scan["qty"] = parse_qty(scan.get("qty", 1))
    except ScanError as err:
        raise ScanError(f"{where}{err}") from err
    if not any(scan.get(name) not in (None, "") for name in IDENTIFYING):
        raise ScanError(f"{where}a scan needs a barcode, a product_id or a line_id.")
    for name in IDENTIFYING:
        if name in scan:
            scan[name] = str(scan[name])
    return scan


def read_scans(path: str | Path) -> list[dict[str, Any]]:
    """Read scans from a CSV file (with a header row) or a JSON-lines file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return _read_json(text, path.name)
    return _read_csv(text, path.name)


def _read_json(text: str, name: str) -> list[dict[str, Any]]:
    if text.lstrip().startswith("["):
        rows = jsonio.loads(text)
        return [
            normalize(_object(row, f"{name}[{i}]"), f"{name}[{i}]: ") for i, row in enumerate(rows)
        ]
    scans = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            row = jsonio.loads(line)
        except ValueError as err:
            raise ScanError(f"{where}: not JSON ({err}).") from err
        scans.append(normalize(_object(row, where), f"{where}: "))
    return scans


def _object(row: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(row, dict):
        raise ScanError(f"{where}: each scan is a JSON object.")
    return row


def _read_csv(text: str, name: str) -> list[dict[str, Any]]:
    try:
        dialect: Any = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    if not reader.fieldnames or "qty" not in [f.strip() for f in reader.fieldnames]:
        raise ScanError(
            f"{name}: the first row must name the columns, among them qty and one of "
            "barcode, product_id, line_id."
        )
    return [
        normalize(row, f"{name} line {number}: ")
        for number, row in enumerate(reader, start=2)
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]


def bind(
    declared: Sequence[Mapping[str, Any]], scans: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Turn scans into actual lines: bound to a declared line when one has the barcode or
    product id, unbound (with barcode / product id) otherwise."""
    by_barcode: dict[str, str] = {}
    by_product: dict[str, str] = {}
    known = set()
    for line in declared:
        declared_id = str(line["line_id"])
        known.add(declared_id)
        if line.get("barcode"):
            by_barcode.setdefault(str(line["barcode"]), declared_id)
        if line.get("product_id"):
            by_product.setdefault(str(line["product_id"]), declared_id)
    actual = []
    for scan in scans:
        line = dict(scan)
        line_id: str | None = line.get("line_id")
        if line_id is None and line.get("barcode"):
            line_id = by_barcode.get(str(line["barcode"]))
        if line_id is None and line.get("product_id"):
            line_id = by_product.get(str(line["product_id"]))
        if line_id is not None and str(line_id) in known:
            line.pop("barcode", None)
            line.pop("product_id", None)
            line["line_id"] = str(line_id)
        actual.append(line)
    return actual

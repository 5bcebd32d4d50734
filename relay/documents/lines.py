"""Declared vs actual lines, quantity control and field rules: pure functions, no database.

A declared line comes from accounting with a ``line_id``. A terminal sends actual lines, each
bound to a declared line or unbound (goods nobody declared). Several actual lines for one
declared line (boxes, serial numbers, lots, cells) stay separate; only totals are derived.
"""

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from relay.errors import N_, Invalid
from relay.processes.schema import LINE_FIELDS_ALWAYS_ACCEPTED, LINE_FIELDS_ALWAYS_SENT, Process

Line = dict[str, Any]


def bind(
    declared: Sequence[Mapping[str, Any]], actual: Iterable[Mapping[str, Any]]
) -> tuple[list[Line], list[Line]]:
    """Attach actual lines to declared ones; return (result lines, undeclared lines)."""
    lines: dict[str, Line] = {}
    for line in declared:
        lines[str(line["line_id"])] = {**line, "actual_qty": Decimal(0), "actual": []}
    undeclared: list[Line] = []
    unknown: list[str] = []
    for entry in actual:
        line_id = entry.get("line_id")
        if line_id is None:
            undeclared.append(dict(entry))
            continue
        target = lines.get(str(line_id))
        if target is None:
            unknown.append(str(line_id))
            continue
        target["actual"].append({k: v for k, v in entry.items() if k != "line_id"})
        target["actual_qty"] += entry["qty"]
    if unknown:
        raise Invalid(
            N_(
                "These line_id values are not lines of the document: %(line_ids)s. Send goods "
                "that were not declared without a line_id.",
                line_ids=", ".join(sorted(set(unknown))),
            ),
            code="unknown_line",
            details={"line_ids": sorted(set(unknown))},
        )
    return list(lines.values()), undeclared


def merge_parts(parts: Iterable[Sequence[Mapping[str, Any]]]) -> list[Line]:
    """Concatenate the actual lines of several parts (collective work): sums are derived later."""
    merged: list[Line] = []
    for part in parts:
        merged.extend(dict(line) for line in part)
    return merged


def discrepancies(mode: str, lines: Sequence[Line], undeclared: Sequence[Line]) -> list[Line]:
    """Every line that breaks quantity control ``mode`` (none, no_excess, exact)."""
    if mode == "none":
        return []
    found: list[Line] = []
    for line in lines:
        declared = line.get("declared_qty") or Decimal(0)
        actual = line["actual_qty"]
        if actual > declared:
            problem = "excess"
        elif mode == "exact" and actual < declared:
            problem = "shortage"
        else:
            continue
        found.append(
            {
                "line_id": line["line_id"],
                "product_id": line.get("product_id"),
                "declared_qty": declared,
                "actual_qty": actual,
                "problem": problem,
            }
        )
    for line in undeclared:
        found.append(
            {
                "line_id": None,
                "product_id": line.get("product_id"),
                "barcode": line.get("barcode"),
                "actual_qty": line["qty"],
                "problem": "undeclared",
            }
        )
    return found


def check_quantities(mode: str, lines: Sequence[Line], undeclared: Sequence[Line]) -> None:
    """Raise 422 quantity_control listing every discrepant line."""
    found = discrepancies(mode, lines, undeclared)
    if found:
        raise Invalid(
            N_(
                "Quantity control (%(mode)s) failed on %(count)s line(s); nothing was saved. "
                "Recount the lines listed in details.",
                mode=mode,
                count=len(found),
            ),
            code="quantity_control",
            details={"mode": mode, "lines": found},
        )


def for_terminal(
    process: Process, header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], list[Line]]:
    """Keep only the header and line fields the process sends to terminals."""
    header_fields = process.fields.get("header_to_terminal")
    line_fields = process.fields.get("lines_to_terminal")
    out_header = (
        dict(header)
        if header_fields is None
        else {k: v for k, v in header.items() if k in header_fields}
    )
    if line_fields is None:
        return out_header, [dict(line) for line in lines]
    keep = set(line_fields) | set(LINE_FIELDS_ALWAYS_SENT)
    return out_header, [{k: v for k, v in line.items() if k in keep} for line in lines]


def check_from_terminal(
    process: Process, header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]
) -> None:
    """Refuse any header or line field the process does not take back from terminals."""
    allowed_header = set(process.fields.get("header_from_terminal") or ())
    allowed_line = set(process.fields.get("lines_from_terminal") or ()) | set(
        LINE_FIELDS_ALWAYS_ACCEPTED
    )
    errors: dict[str, Any] = {}
    bad_header = sorted(set(header) - allowed_header)
    if bad_header:
        errors["header"] = {
            name: ["Not accepted from terminals by this process."] for name in bad_header
        }
    bad_lines: dict[str, Any] = {}
    for index, line in enumerate(lines):
        bad = sorted(set(line) - allowed_line)
        if bad:
            bad_lines[str(index)] = {
                name: ["Not accepted from terminals by this process."] for name in bad
            }
    if bad_lines:
        errors["lines"] = bad_lines
    if errors:
        names = sorted(set(bad_header) | {n for v in bad_lines.values() for n in v})
        raise Invalid(
            N_(
                "Business process %(key)r does not accept these fields from terminals: %(names)s.",
                key=process.key,
                names=", ".join(names),
            ),
            code="field_not_allowed",
            details={"fields": errors},
        )
    unidentified = [
        str(index)
        for index, line in enumerate(lines)
        if line.get("line_id") is None and not (line.get("product_id") or line.get("barcode"))
    ]
    if unidentified:
        raise Invalid(
            N_(
                "A line without line_id (goods that were not declared) needs a product_id or a "
                "barcode."
            ),
            details={"fields": {"lines": {i: {"product_id": ["Missing."]} for i in unidentified}}},
        )

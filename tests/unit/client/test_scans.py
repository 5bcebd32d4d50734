"""Scan files (CSV, JSON lines) and binding scans to the declared lines."""

from decimal import Decimal
from pathlib import Path

import pytest

from relay.client.scans import ScanError, bind, normalize, parse_qty, read_scans

DECLARED = [
    {"line_id": "1", "product_id": "p-001", "barcode": "4601234567890", "declared_qty": 10},
    {"line_id": "2", "product_id": "p-100", "declared_qty": Decimal("2.5")},
]


def test_csv_with_a_header_row(tmp_path: Path) -> None:
    path = tmp_path / "scans.csv"
    path.write_text(
        "barcode,product_id,line_id,qty,serial,lot\n"
        "4601234567890,,,6,,\n"
        "4601234567890,,,3,SN-42,\n"
        ',p-100,,"0,125",,L-7\n'
        ",,,,,\n",
        encoding="utf-8",
    )
    assert read_scans(path) == [
        {"barcode": "4601234567890", "qty": Decimal(6)},
        {"barcode": "4601234567890", "qty": Decimal(3), "serial": "SN-42"},
        {"product_id": "p-100", "qty": Decimal("0.125"), "lot": "L-7"},
    ]


def test_csv_as_excel_saves_it(tmp_path: Path) -> None:
    path = tmp_path / "scans.csv"
    path.write_bytes("\ufeffline_id;qty;cell\n1;2,5;A-01\n".encode())
    assert read_scans(path) == [{"line_id": "1", "qty": Decimal("2.5"), "cell": "A-01"}]


def test_json_lines_and_json_arrays(tmp_path: Path) -> None:
    lines = tmp_path / "scans.jsonl"
    lines.write_text('{"barcode": 4601234567890}\n\n{"line_id": 2, "qty": 0.001}\n')
    assert read_scans(lines) == [
        {"barcode": "4601234567890", "qty": Decimal(1)},
        {"line_id": "2", "qty": Decimal("0.001")},
    ]
    array = tmp_path / "scans.json"
    array.write_text('[{"product_id": "p-9", "qty": 2}]')
    assert read_scans(array) == [{"product_id": "p-9", "qty": Decimal(2)}]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.csv", "barcode\n123\n", "must name the columns"),
        ("a.csv", "barcode,qty\n123,many\n", "a.csv line 2: qty must be a number"),
        ("a.csv", "serial,qty\nSN,1\n", "needs a barcode"),
        ("a.jsonl", "{\n", "a.jsonl line 1: not JSON"),
        ("a.jsonl", "[1]\n", "each scan is a JSON object"),
        ("a.json", "[1]", r"a.json\[0\]: each scan is a JSON object"),
    ],
)
def test_a_bad_scan_file_says_where(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ScanError, match=message):
        read_scans(path)


@pytest.mark.parametrize("value", [True, "-1", "NaN", "x"])
def test_bad_quantities(value: object) -> None:
    with pytest.raises(ScanError):
        parse_qty(value)


def test_quantities() -> None:
    assert parse_qty(3) == 3
    assert parse_qty(Decimal("0.5")) == Decimal("0.5")
    assert parse_qty(" 1,25 ") == Decimal("1.25")
    assert normalize({"line_id": 1})["qty"] == 1


def test_scans_bind_to_declared_lines_by_barcode_or_product() -> None:
    scans = [
        {"barcode": "4601234567890", "qty": Decimal(6)},
        {"barcode": "4601234567890", "qty": Decimal(3), "serial": "SN-42"},
        {"product_id": "p-100", "qty": Decimal("2.125")},
        {"barcode": "4600000000009", "product_id": "p-009", "qty": Decimal(1)},
        {"line_id": "2", "qty": Decimal(1)},
        {"line_id": "7", "qty": Decimal(1)},
    ]
    assert bind(DECLARED, scans) == [
        {"line_id": "1", "qty": Decimal(6)},
        {"line_id": "1", "qty": Decimal(3), "serial": "SN-42"},
        {"line_id": "2", "qty": Decimal("2.125")},
        {"barcode": "4600000000009", "product_id": "p-009", "qty": Decimal(1)},
        {"line_id": "2", "qty": Decimal(1)},
        {"line_id": "7", "qty": Decimal(1)},  # the relay refuses it, saying which
    ]

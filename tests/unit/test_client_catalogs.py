"""The client's catalog pieces: reading CSV and JSON files, the terminal's local copy, sync."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from relay.client import ApiError, CatalogStore, sync_catalogs
from relay.client.catalogfiles import CatalogFileError, read_items
from relay.client.store import CatalogSynced


def test_a_russian_excel_csv(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        "id;name;unit;price;barcodes;note\n"
        "p-001;Молоко 1 л;шт;89,90;4601234567890|14601234567897:кор:12;\n"
        'p-002;"Сыр; твёрдый";кг;1 250,5;2000000000015;весовой\n',
        encoding="utf-8-sig",
    )
    assert read_items(path, "products") == [
        {
            "id": "p-001",
            "name": "Молоко 1 л",
            "unit": "шт",
            "price": Decimal("89.90"),
            "barcodes": [
                {"barcode": "4601234567890"},
                {"barcode": "14601234567897", "unit": "кор", "factor": Decimal("12")},
            ],
        },
        {
            "id": "p-002",
            "name": "Сыр; твёрдый",
            "unit": "кг",
            "price": Decimal("1250.5"),
            "barcodes": [{"barcode": "2000000000015"}],
            "note": "весовой",
        },
    ]


def test_a_cell_barcode_stays_a_field(tmp_path: Path) -> None:
    path = tmp_path / "cells.csv"
    path.write_text("id,warehouse_id,name,barcode\nc-1,w-1,A-01,CELL-A01\n", encoding="utf-8")
    assert read_items(path, "cells") == [
        {"id": "c-1", "warehouse_id": "w-1", "name": "A-01", "barcode": "CELL-A01"}
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,unit\nМолоко,шт\n", "no 'id' column"),
        ("id,price\np-1,дорого\n", "line 2: 'дорого' is not a number"),
        ("id,name\n,Молоко\n", "the 'id' cell is empty"),
        ("id,name\np-1,a,b\n", "more cells than the header"),
    ],
)
def test_bad_csv_files_say_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogFileError, match=message):
        read_items(path, "prices")


def test_json_files(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text('{"items": [{"id": "x", "qty": 0.001}]}', encoding="utf-8")
    assert read_items(path, "stock") == [{"id": "x", "qty": Decimal("0.001")}]
    path.write_text('[{"id": "x"}]', encoding="utf-8")
    assert read_items(path, "free") == [{"id": "x"}]
    path.write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(CatalogFileError, match="list of items"):
        read_items(path, "free")
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(CatalogFileError, match="is not JSON"):
        read_items(path, "free")


def milk(name: str = "Молоко") -> dict[str, Any]:
    return {
        "id": "p-1",
        "name": name,
        "unit": "шт",
        "barcodes": [{"barcode": "1"}, {"barcode": "2", "unit": "кор", "factor": 12}],
    }


def page(version: int, items: list[Any], deleted: list[str] | None = None) -> dict[str, Any]:
    return {"catalog": "products", "version": version, "items": items, "deleted": deleted or []}


class FakeTerminal:
    """Answers catalog calls from a script; a 410 for ``since`` values listed as purged."""

    def __init__(self, version: int, pages: dict[int, list[dict[str, Any]]], purged: int = 0):
        self.version = version
        self.pages = pages
        self.purged = purged
        self.asked: list[int] = []

    def catalogs(self) -> list[dict[str, Any]]:
        return [{"name": "products", "version": self.version, "items": 1}]

    def catalog_changes(self, name: str, since: int) -> Iterator[dict[str, Any]]:
        self.asked.append(since)
        if 0 < since < self.purged:
            raise ApiError(410, "resync_required", "reload", {})
        yield from self.pages[since]


def test_the_local_copy_follows_deltas_and_resolves_barcodes(tmp_path: Path) -> None:
    with CatalogStore(tmp_path / "c.sqlite3") as store:
        first = store.apply(
            "products", 0, [page(3, [milk()]), page(3, [{**milk(), "id": "p-2", "barcodes": []}])]
        )
        assert first == CatalogSynced("products", 0, 3, changed=2, full=True, items=2)
        assert store.lookup("2") == {
            "type": "product",
            "barcode": "2",
            "factor": 12,
            "unit": "кор",
            "item": milk(),
        }
        assert store.lookup("1")["factor"] == 1
        store.apply(
            "products", 3, [page(4, [milk("Кефир") | {"barcodes": [{"barcode": "3"}]}], ["p-2"])]
        )
        assert (store.version("products"), store.count("products")) == (4, 1)
        assert store.lookup("2") is None
        assert store.lookup("3")["item"]["name"] == "Кефир"
        assert [name for name, *_ in store.catalogs()] == ["products"]


def test_a_sync_cut_short_leaves_the_copy_as_it_was(tmp_path: Path) -> None:
    def broken() -> Iterator[dict[str, Any]]:
        yield page(5, [milk("new")])
        raise ApiError(503, "busy", "later", {})

    with CatalogStore(tmp_path / "c.sqlite3") as store:
        store.apply("products", 0, [page(4, [milk()])])
        with pytest.raises(ApiError):
            store.apply("products", 4, broken())
        assert store.version("products") == 4
        assert store.item("products", "p-1")["name"] == "Молоко"


def test_sync_asks_since_the_held_version_and_reloads_after_a_410(tmp_path: Path) -> None:
    with CatalogStore(tmp_path / "c.sqlite3") as store:
        relay = FakeTerminal(2, {0: [page(2, [milk()])]})
        [done] = sync_catalogs(relay, store)  # type: ignore[arg-type]
        assert (done.full, done.version, relay.asked) == (True, 2, [0])
        [same] = sync_catalogs(relay, store)  # type: ignore[arg-type]
        assert (same.version, same.changed, relay.asked) == (2, 0, [0])
        relay = FakeTerminal(9, {0: [page(9, [milk("после чистки")])]}, purged=5)
        [reloaded] = sync_catalogs(relay, store)  # type: ignore[arg-type]
        assert relay.asked == [2, 0]
        assert (reloaded.full, reloaded.version) == (True, 9)
        assert store.item("products", "p-1")["name"] == "после чистки"

"""Item rules: what each known catalog holds, extra scalars, limits, the barcodes an item adds."""

from decimal import Decimal

import pytest

from relay.catalogs.config import Settings
from relay.catalogs.items import Barcode, barcodes_of, check_name, validate_items
from relay.errors import Invalid

SETTINGS = Settings()


def test_a_product_keeps_its_fields_and_extra_scalars() -> None:
    raw = {
        "id": "p-001",
        "name": "Молоко 1 л",
        "unit": "шт",
        "barcodes": [{"barcode": "14601234567897", "unit": "кор", "factor": 12}],
        "price": Decimal("89.90"),
        "weighed": False,
    }
    items = validate_items("products", [raw], SETTINGS)
    data = items["p-001"]
    assert "id" not in data
    assert data["barcodes"] == [{"barcode": "14601234567897", "unit": "кор", "factor": 12}]
    assert (data["price"], data["weighed"]) == (Decimal("89.90"), False)


def test_numbers_may_come_as_text_from_a_csv_and_stay_exact() -> None:
    items = validate_items(
        "stock",
        [{"id": "s-1", "product_id": "p", "warehouse_id": "w", "qty": "0.001"}],
        SETTINGS,
    )
    assert items["s-1"]["qty"] == Decimal("0.001")


@pytest.mark.parametrize(
    "qty",
    ["1e30", "NaN", "Infinity", True, None, [1]],
    ids=["huge", "nan", "inf", "bool", "none", "list"],
)
def test_bad_numbers_are_refused(qty: object) -> None:
    with pytest.raises(Invalid) as caught:
        validate_items(
            "stock", [{"id": "s-1", "product_id": "p", "warehouse_id": "w", "qty": qty}], SETTINGS
        )
    assert "qty" in caught.value.details["items"]["0"]


def test_extra_fields_must_be_scalars_in_every_catalog() -> None:
    with pytest.raises(Invalid) as caught:
        validate_items("whatever", [{"id": "x", "nested": {"a": 1}}], SETTINGS)
    assert caught.value.details["items"]["0"] == {
        "nested": ["Must be text, a number, true/false or null."]
    }


def test_an_item_is_not_an_object() -> None:
    with pytest.raises(Invalid) as caught:
        validate_items("products", ["p-001"], SETTINGS)
    assert caught.value.message.startswith("Item 1 of catalog products is not valid")


def test_the_first_error_is_named_with_the_item_id() -> None:
    with pytest.raises(Invalid) as caught:
        validate_items("warehouses", [{"id": "w-1", "name": "A"}, {"id": "w-2"}], SETTINGS)
    assert caught.value.message.startswith("Item 2 (id 'w-2') of catalog warehouses")
    assert "nothing was applied" in caught.value.message


def test_limits() -> None:
    small = Settings(packet_max_items=2, item_max_bytes=60)
    with pytest.raises(Invalid) as caught:
        validate_items("x", [{"id": str(n)} for n in range(3)], small)
    assert caught.value.code == "too_many_items"
    with pytest.raises(Invalid) as caught:
        validate_items("x", [{"id": "1", "note": "x" * 100}], small)
    assert "bytes" in caught.value.message


def test_barcodes_of_products_and_cells() -> None:
    product = {
        "name": "x",
        "unit": "шт",
        "barcodes": [{"barcode": "1"}, {"barcode": "2", "unit": "кор", "factor": Decimal("12")}],
    }
    assert barcodes_of("products", product) == [
        Barcode("1", "product", None, None),
        Barcode("2", "product", "кор", Decimal("12")),
    ]
    assert barcodes_of("cells", {"name": "A", "warehouse_id": "w", "barcode": "C1"}) == [
        Barcode("C1", "cell", None, None)
    ]
    assert barcodes_of("cells", {"name": "A", "warehouse_id": "w"}) == []
    assert barcodes_of("prices", {"barcode": "1"}) == []


@pytest.mark.parametrize("name", ["products", "loyalty-cards", "price_list_2", "0x"])
def test_catalog_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["Products", "", "-x", "a" * 65, "товары", "a b"])
def test_bad_catalog_names(name: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_name(name)
    assert caught.value.code == "invalid_catalog_name"

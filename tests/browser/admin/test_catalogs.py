"""The console's catalogs page in Chromium: find an item by its barcode, open it."""

from playwright.sync_api import Page, expect

from tests.browser.admin.conftest import shoot, sign_in
from tests.helpers import Client, TenantKeys
from tests.serving import LiveServer


def test_find_an_item_by_barcode(
    page_ru: Page, console_server: LiveServer, tenant: TenantKeys, account: str, api: Client
):
    products = [
        {
            "id": "00-00000123",
            "name": "Молоко 3,2 % 1 л",
            "unit": "шт",
            "article": "MLK-1",
            "barcodes": [
                {"barcode": "4601234567890"},
                {"barcode": "14601234567897", "unit": "кор", "factor": 12},
            ],
        },
        {
            "id": "00-00000124",
            "name": "Кефир 1 % 0,9 л",
            "unit": "шт",
            "barcodes": [{"barcode": "4601234567906"}],
        },
    ]
    for catalog, items in (
        ("products", products),
        ("warehouses", [{"id": "w-1", "name": "Основной склад"}]),
        (
            "cells",
            [{"id": "c-A-01", "warehouse_id": "w-1", "name": "A-01", "barcode": "2000000000015"}],
        ),
    ):
        response = api.put(
            f"/api/v1/catalogs/{catalog}/items", tenant.accounting_key, {"items": items}
        )
        assert response.status_code == 200, response.json
    sign_in(page_ru, console_server, tenant, account)
    page_ru.click("nav >> text=Справочники")
    expect(page_ru.locator("h1")).to_have_text("Справочники")
    expect(page_ru.locator("#catalogs")).to_contain_text("Номенклатура (products)")
    page_ru.fill("input[name=barcode]", "14601234567897")
    page_ru.press("input[name=barcode]", "Enter")
    matches = page_ru.locator("#barcode-matches")
    expect(matches).to_contain_text("Молоко 3,2 % 1 л")
    expect(matches).to_contain_text("кор")
    expect(matches.locator("tbody tr")).to_have_count(1)
    shoot(page_ru, "catalogs")
    matches.locator("a", has_text="00-00000123").click()
    expect(page_ru.locator("h1")).to_have_text("Молоко 3,2 % 1 л")
    expect(page_ru.locator("#fields")).to_contain_text("MLK-1")
    found = page_ru.locator("#barcodes tr.found")
    expect(found).to_contain_text("14601234567897")
    expect(found).to_contain_text("12")
    shoot(page_ru, "catalogs-item")

    page_ru.goto(f"{console_server.url}/admin/catalogs?barcode=0000")
    expect(page_ru.locator("#barcode-unknown")).to_contain_text("нет ни в одном справочнике")

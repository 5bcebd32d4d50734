"""The console's catalogs page: figures, uploads in progress, items paged, an item, a barcode."""

import re
from typing import Any

import pytest
from flask import Flask

from relay.catalogs import browse
from tests.helpers import Client, TenantKeys
from tests.web.conftest import Console


def product(n: int) -> dict[str, Any]:
    return {
        "id": f"p-{n:03}",
        "name": f"Молоко {n}",
        "unit": "шт",
        "article": f"ART-{n}",
        "barcodes": [
            {"barcode": f"46{n:011}"},
            {"barcode": f"146{n:011}", "unit": "кор", "factor": 12},
        ],
    }


def put(api: Client, tenant: TenantKeys, catalog: str, items: list[dict[str, Any]]) -> None:
    response = api.put(f"/api/v1/catalogs/{catalog}/items", tenant.accounting_key, {"items": items})
    assert response.status_code == 200, response.json


def ids_on(html: str) -> list[str]:
    return re.findall(r'/admin/catalogs/products/items/([^"?]+)"', html)


def test_catalog_list_shows_versions_counts_tombstones_and_open_uploads(
    admin_console: Console, api: Client, tenant: TenantKeys
):
    put(api, tenant, "products", [product(n) for n in range(1, 6)])
    put(api, tenant, "warehouses", [{"id": "w1", "name": "Основной склад"}])
    deleted = api.post(
        "/api/v1/catalogs/products/delete", tenant.accounting_key, {"ids": ["p-001", "p-002"]}
    )
    assert deleted.status_code == 200
    opened = api.post(
        "/api/v1/catalogs/prices/uploads", tenant.accounting_key, {"mode": "mirror", "packets": 3}
    )
    assert opened.status_code == 201
    sent = api.put(
        f"/api/v1/catalogs/prices/uploads/{opened.json['id']}/packets/2",
        tenant.accounting_key,
        {"items": [{"id": "pr-1", "product_id": "p-003", "price": "89.90"}]},
    )
    assert sent.status_code == 200

    page = admin_console.client.get("/admin/catalogs", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(
            r"<tr>\s*<td><a href=\"/admin/catalogs/(\w+)\">.*?</tr>", page.text, re.S
        )
    }
    assert set(rows) == {"prices", "products", "warehouses"}
    # products: version 2 (merge, delete), 3 live items, 2 tombstones.
    cells = re.findall(r"<td>([^<]*)</td>", rows["products"])
    assert cells[:3] == ["2", "3", "2"]
    assert "1 of 3 packets" in rows["prices"]
    assert "mirror" in rows["prices"]
    assert "Products (products)" in rows["products"]


def test_find_an_item_by_barcode(admin_console: Console, api: Client, tenant: TenantKeys):
    put(api, tenant, "products", [product(7)])
    put(
        api,
        tenant,
        "cells",
        [{"id": "c-1", "warehouse_id": "w1", "name": "A-01", "barcode": "14600000000007"}],
    )
    page = admin_console.client.get(
        "/admin/catalogs?barcode=14600000000007", headers={"Accept-Language": "ru"}
    )
    assert page.status_code == 200
    found = page.text.split('id="barcode-matches"')[1].split("</table>")[0]
    # The box of 12 of the product first, then the cell with the same code.
    assert found.index("p-007") < found.index("c-1")
    assert "Молоко 7" in found
    assert "кор" in found
    assert ">12<" in found
    assert "Номенклатура (products)" in found
    assert "Ячейки (cells)" in found

    unknown = admin_console.client.get(
        "/admin/catalogs?barcode=000", headers={"Accept-Language": "en"}
    )
    assert "Barcode 000 is in no catalog." in unknown.text


def test_items_are_paged_and_searched_by_id_and_name(
    admin_console: Console, api: Client, tenant: TenantKeys, monkeypatch: pytest.MonkeyPatch
):
    put(api, tenant, "products", [product(n) for n in range(1, 121)])
    first = admin_console.client.get("/admin/catalogs/products")
    assert ids_on(first.text) == [f"p-{n:03}" for n in range(1, 51)]
    after = re.search(r'id="next-page" href="([^"]+)"|href="([^"]+)" id="next-page"', first.text)
    assert after
    second = admin_console.client.get((after.group(1) or after.group(2)).replace("&amp;", "&"))
    assert ids_on(second.text) == [f"p-{n:03}" for n in range(51, 101)]

    by_id = admin_console.client.get("/admin/catalogs/products?q=p-042")
    assert ids_on(by_id.text) == ["p-042"]
    # "Молоко 11" is found by a name search, as are 110 to 119; a search reads a bounded window.
    monkeypatch.setattr(browse, "SCAN_ROWS", 60)
    monkeypatch.setattr(browse, "SCAN_BATCH", 25)
    by_name = admin_console.client.get(
        "/admin/catalogs/products?q=%D0%BC%D0%BE%D0%BB%D0%BE%D0%BA%D0%BE%2011"
    )
    assert ids_on(by_name.text) == ["p-011"]
    further = re.search(r'href="([^"]+)" id="next-page"', by_name.text)
    assert further, "a search that read its window only offers to search further"
    rest = admin_console.client.get(further.group(1).replace("&amp;", "&"))
    assert ids_on(rest.text) == [f"p-{n}" for n in range(110, 120)]
    assert 'id="next-page"' not in rest.text

    missing = admin_console.client.get("/admin/catalogs/nothing")
    assert missing.status_code == 404


def test_an_item_shows_fields_barcodes_and_version(
    admin_console: Console, api: Client, tenant: TenantKeys
):
    put(api, tenant, "products", [{**product(3), "id": "a/b <c>"}])
    page = admin_console.client.get(
        "/admin/catalogs/products/items/a%2Fb%20%3Cc%3E?barcode=14600000000003",
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 200
    assert "a/b &lt;c&gt;" in page.text
    assert "<c>" not in page.text
    assert "ART-3" in page.text
    table = page.text.split('id="barcodes"')[1].split("</table>")[0]
    assert re.search(r'<tr class="">\s*<td>4600000000003</td><td>шт</td><td>1</td>', table)
    assert re.search(r'<tr class="found">\s*<td>14600000000003</td><td>кор</td><td>12</td>', table)
    assert admin_console.client.get("/admin/catalogs/products/items/nope").status_code == 404


def test_another_tenants_catalog_is_not_reachable(
    app: Flask, admin_console: Console, api: Client, tenant: TenantKeys, other_tenant: TenantKeys
):
    put(api, other_tenant, "products", [product(9)])
    assert admin_console.client.get("/admin/catalogs/products").status_code == 404
    assert admin_console.client.get("/admin/catalogs/products/items/p-009").status_code == 404
    found = admin_console.client.get("/admin/catalogs?barcode=4600000000009")
    assert "p-009" not in found.text

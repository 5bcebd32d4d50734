"""Catalogs end to end against a real gunicorn (SPEC §13), tried as a new user would.

A CSV of products pushed with `relay-accounting catalog push` shows up on a terminal with
`relay-terminal catalog sync`; a changed price arrives as a one-item delta; a mirror that would
delete half the catalog stops and asks first. Then the same through relay.client: a catalog in
packets, the terminal's deltas by cursor, and barcode lookups.
"""

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from relay.client import AccountingClient, AdminClient, CatalogStore, Conflict, sync_catalogs
from relay.client.store import CatalogSynced
from tests.e2e.conftest import LiveTenant, Terminals
from tests.e2e.test_cli import Tools

HEADER = ["id", "name", "unit", "article", "price", "barcodes"]


def row(n: int, price: str = "89,90") -> list[str]:
    return [
        f"p-{n:03}",
        f"Молоко {n}",
        "шт",
        f"MLK-{n}",
        price,
        f"46{n:011}|146{n:011}:кор:12",
    ]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    # As a Russian Excel saves it: semicolons, a BOM, decimal commas.
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_products_from_a_csv_reach_a_terminal(
    tmp_path: Path, live_tenant: LiveTenant, admin: AdminClient
) -> None:
    tools = Tools(tmp_path, live_tenant)
    code = admin.create_enrollment_code()["code"]
    tools.terminal("enroll", code, "--server", live_tenant.url, "--name", "Склад-1")
    assert "The relay has no catalogs yet." in tools.terminal("catalog", "sync").output

    products = write_csv(tmp_path / "products.csv", [row(n) for n in range(1, 11)])
    pushed = tools.accounting("catalog", "push", "products", str(products), "--packet-size", "4")
    assert "products: version 1: 10 sent, 10 new or changed, 0 deleted." in pushed.stdout
    assert "Uploading products" in pushed.stderr
    shown = tools.accounting("catalog", "show", "products")
    assert "products: version 1, 10 items" in shown.output
    assert "Молоко 1" in shown.output

    synced = tools.terminal("catalog", "sync")
    assert "products: loaded in full, version 1 (10 items)." in synced.output
    assert "version  items" in tools.terminal("catalog", "list").output
    box = tools.terminal("catalog", "lookup", "14600000000003")
    assert "p-003: Молоко 3 × 12 кор" in box.output
    online = json.loads(
        tools.terminal("catalog", "lookup", "4600000000003", "--online", "--json").output
    )
    assert (online["type"], online["factor"], online["unit"]) == ("product", 1, "шт")
    assert online["item"]["price"] == 89.9

    # A changed price: pushing the whole file again changes one item, and one item travels.
    rows = [row(n) for n in range(1, 11)]
    rows[4] = row(5, price="95,50")
    write_csv(products, rows)
    again = tools.accounting("catalog", "push", "products", str(products))
    assert "products: version 2: 10 sent, 1 new or changed, 0 deleted." in again.stdout
    delta = tools.terminal("catalog", "sync")
    assert "products: version 1 → 2: 1 changed, 0 deleted (10 items)." in delta.output
    assert "up to date at version 2" in tools.terminal("catalog", "sync").output
    with CatalogStore(tools.home / "catalogs.sqlite3") as store:
        assert store.item("products", "p-005")["price"] == pytest.approx(95.5)

    # A mirror of half the catalog stops and asks; "no" changes nothing.
    half = write_csv(tmp_path / "half.csv", rows[:5])
    refused = tools.runner.invoke(
        _accounting(), ["catalog", "push", "products", str(half), "--mirror"], input="n\n"
    )
    assert refused.exit_code == 1, refused.output
    assert "This mirror deletes 5 of the 10 items of products (e.g. p-006" in refused.output
    assert "Delete them?" in refused.output
    assert "Nothing was changed" in refused.output
    assert "version 2, 10 items" in tools.accounting("catalog", "show", "products").output
    confirmed = tools.accounting("catalog", "push", "products", str(half), "--mirror", "--yes")
    assert "products: version 3: 5 sent, 0 new or changed, 5 deleted." in confirmed.stdout
    gone = tools.terminal("catalog", "sync")
    assert "products: version 2 → 3: 0 changed, 5 deleted (5 items)." in gone.output
    tools.terminal("catalog", "lookup", "14600000000007", code=1)


def _accounting() -> Any:
    from relay.client.cli.accounting import cli

    return cli


def test_a_bad_file_is_refused_before_anything_is_sent(
    tmp_path: Path, live_tenant: LiveTenant
) -> None:
    tools = Tools(tmp_path, live_tenant)
    no_id = tmp_path / "no-id.csv"
    no_id.write_text("name,unit\nМолоко,шт\n", encoding="utf-8")
    assert (
        "no 'id' column"
        in tools.accounting("catalog", "push", "products", str(no_id), code=1).output
    )
    bad = write_csv(tmp_path / "bad.csv", [row(1), ["p-002", "", "шт", "", "", ""]])
    refused = tools.accounting("catalog", "push", "products", str(bad), code=1)
    assert "Item 2 (id 'p-002') of catalog products is not valid: field 'name'" in refused.output
    assert "[422 validation_failed]" in refused.output
    assert "catalog_not_found" in tools.accounting("catalog", "show", "products", code=1).output


def test_a_big_catalog_through_the_client_in_packets(
    live_tenant: LiveTenant, accounting: AccountingClient, terminals: Terminals, tmp_path: Path
) -> None:
    items = [
        {
            "id": f"p-{n:05}",
            "name": f"Товар {n}",
            "unit": "шт",
            "barcodes": [{"barcode": f"2{n:012}"}],
        }
        for n in range(2500)
    ]
    sent: list[tuple[int, int]] = []
    upload = accounting.upload_catalog(
        "products", items, mirror=True, packet_size=1000, on_packet=lambda n, c: sent.append((n, c))
    )
    assert sent == [(1, 1000), (2, 1000), (3, 500)]
    assert accounting.upload(upload_id=upload, name="products")["missing"] == []
    done = accounting.commit_upload("products", upload)
    assert (done["version"], done["upserted"]) == (1, 2500)
    assert accounting.commit_upload("products", upload) == done

    terminal, _ = terminals.enroll()
    with CatalogStore(tmp_path / "catalogs.sqlite3") as store:
        [first] = sync_catalogs(terminal, store)
        assert (first.full, first.version, first.items) == (True, 1, 2500)
        accounting.merge_items("products", [{**items[7], "name": "Новое имя"}])
        accounting.delete_items("products", ["p-00009"])
        [second] = sync_catalogs(terminal, store)
        assert second == CatalogSynced("products", 1, 3, changed=1, deleted=1, items=2499)
        assert store.item("products", "p-00007")["name"] == "Новое имя"
        assert store.lookup("2000000000009") is None
        assert store.lookup("2000000000007")["item"]["name"] == "Новое имя"

    pages = list(terminal.catalog_changes("products", 0, limit=1000))
    assert [len(p["items"]) for p in pages] == [1000, 1000, 499]
    assert terminal.barcode("2000000000100")["item"]["id"] == "p-00100"
    assert terminal.barcode("0000") is None

    mirror = accounting.upload_catalog("products", items[:100], mirror=True)
    with pytest.raises(Conflict) as refused:
        accounting.commit_upload("products", mirror)
    assert refused.value.code == "deletions_need_confirmation"
    assert refused.value.details["deletions"] == 2400  # p-00009 was deleted already
    assert len(refused.value.details["sample"]) == 10
    assert accounting.catalog("products")["version"] == 3

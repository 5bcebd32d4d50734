"""Field rules of a process: what goes to terminals, and what a terminal may send back."""

import uuid
from decimal import Decimal
from typing import Any

from tests.helpers import (
    Client,
    TenantKeys,
    Terminal,
    doc,
    document,
    join,
    kinds,
    operator,
    patch_process,
    results,
    stock_lines,
)

DOCS = "/api/v1/terminal/documents"


def rich_doc(external_id: str) -> dict[str, Any]:
    """A document with more header and line fields than any process sends on."""
    body = doc(external_id)
    body["header"] = {
        "warehouse": "Основной склад",
        "counterparty": "ООО Ромашка",
        "comment": "срочно",
        "zone": "A",
        "manager": "Петрова",
        "purchase_total": 12345,
    }
    for line in body["lines"]:
        line.update(price=99, cost=55, cell="A-01")
    return body


def push_receipt(api: Client, tenant: TenantKeys, terminal: Terminal, external_id: str) -> str:
    pushed = api.push(tenant, "purchase-receipt", [rich_doc(external_id)], {"pin": terminal.pin})
    return str(pushed.json["documents"][0]["instances"][0]["id"])


def shown(api: Client, terminal: Terminal, instance_id: str) -> dict[str, Any]:
    response = api.get(f"{DOCS}/{instance_id}", terminal.bearer)
    assert response.status_code == 200, response.json
    return dict(response.json)


def test_terminal_gets_only_the_fields_the_process_sends(api: Client, tenant: TenantKeys) -> None:
    a = operator(api, tenant, "ivanov")
    body = rich_doc("ПТ-1")
    pushed = api.push(tenant, "stock-count", [body], target={"users": ["ivanov"]})
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    out = shown(api, a, instance_id)
    # stock-count: header_to_terminal [warehouse, zone, comment]
    assert out["header"] == {"warehouse": "Основной склад", "zone": "A", "comment": "срочно"}
    # lines_to_terminal [product_id, barcode, name, unit, cell], plus line_id: counted blind,
    # without declared_qty
    assert out["lines"] == [
        {
            "line_id": line["line_id"],
            "product_id": line["product_id"],
            "barcode": line["barcode"],
            "name": line["name"],
            "unit": line["unit"],
            "cell": "A-01",
        }
        for line in body["lines"]
    ]
    # The accounting side still sees everything it pushed.
    full = document(api, tenant, pushed.json["documents"][0]["id"])
    assert full["header"] == body["header"]
    assert full["lines"][0]["cost"] == 55


def test_null_rules_send_every_field(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    instance_id = push_receipt(api, tenant, terminal, "ЗП-1")
    out = shown(api, terminal, instance_id)
    # purchase-receipt: header_to_terminal [warehouse, counterparty, comment], lines: all
    assert out["header"] == {
        "warehouse": "Основной склад",
        "counterparty": "ООО Ромашка",
        "comment": "срочно",
    }
    assert out["lines"][0]["price"] == 99
    assert out["lines"][0]["cost"] == 55
    assert set(out["lines"][0]) == set(rich_doc("x")["lines"][0])


def test_changed_rules_apply_to_new_pushes_only(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    old = push_receipt(api, tenant, terminal, "ЗП-1")
    changed = patch_process(
        api,
        tenant,
        "purchase-receipt",
        {"fields": {"header_to_terminal": ["warehouse"], "lines_to_terminal": ["product_id"]}},
    ).json
    assert changed["version"] == 2
    # PATCH merges "fields" one level deep: what comes back from terminals is unchanged.
    assert changed["fields"]["header_from_terminal"] == ["comment"]
    assert "serial" in changed["fields"]["lines_from_terminal"]
    new = push_receipt(api, tenant, terminal, "ЗП-2")

    before = shown(api, terminal, old)
    assert before["header"] == {
        "warehouse": "Основной склад",
        "counterparty": "ООО Ромашка",
        "comment": "срочно",
    }
    assert before["lines"][0]["price"] == 99
    after = shown(api, terminal, new)
    assert after["header"] == {"warehouse": "Основной склад"}
    assert [set(line) for line in after["lines"]] == [{"line_id", "product_id"}] * 2

    versions = {
        d["external_id"]: d["business_process_version"]
        for d in api.get("/api/v1/documents", tenant.accounting_key).json["documents"]
    }
    assert versions == {"ЗП-1": 1, "ЗП-2": 2}


def test_fields_a_terminal_may_not_send_are_refused_by_name(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    instance_id = push_receipt(api, tenant, terminal, "ЗП-1")
    api.claim(terminal, instance_id)
    document_id = api.get(f"{DOCS}/{instance_id}", terminal.bearer).json["document_id"]
    before = document(api, tenant, document_id)
    refused = api.complete(
        terminal,
        instance_id,
        [
            {"line_id": "1", "qty": 1, "serial": "SN-1"},
            {"line_id": "1", "qty": 1, "price": 10, "declared_qty": 99},
            {"product_id": "p-009", "qty": 1, "supplier": "ООО Лютик"},
        ],
        expect=422,
        header={"comment": "ok", "warehouse": "Другой склад", "state": "completed"},
    )
    error = refused.json["error"]
    assert error["code"] == "field_not_allowed"
    assert error["details"]["fields"] == {
        "header": {
            "state": ["Not accepted from terminals by this process."],
            "warehouse": ["Not accepted from terminals by this process."],
        },
        "lines": {
            "1": {
                "declared_qty": ["Not accepted from terminals by this process."],
                "price": ["Not accepted from terminals by this process."],
            },
            "2": {"supplier": ["Not accepted from terminals by this process."]},
        },
    }
    for name in ("warehouse", "state", "price", "declared_qty", "supplier"):
        assert name in error["message"]
    assert "serial" not in error["message"]

    after = document(api, tenant, document_id)
    assert after["timeline"] == before["timeline"]
    assert after["instances"][0]["state"] == "claimed"
    assert results(api, tenant) == []
    # The same work without the refused fields goes through.
    api.complete(
        terminal,
        instance_id,
        [{"line_id": "1", "qty": 1, "serial": "SN-1"}],
        header={"comment": "ok"},
    )


def test_every_allowed_field_comes_back_in_the_result(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    instance_id = push_receipt(api, tenant, terminal, "ЗП-1")
    api.claim(terminal, instance_id)
    sent = {
        "qty": 2,
        "product_id": "p-001",
        "barcode": "4601234567890",
        "name": "Молоко 1 л",
        "unit": "шт",
        "serial": "SN-1",
        "lot": "L-7",
        "cell": "B-02",
        "marking_code": "0104601234567890215abc",
        "expiry_date": "2027-01-31",
    }
    api.complete(terminal, instance_id, [{"line_id": "1", **sent}], header={"comment": "ok"})
    (result,) = results(api, tenant)
    assert result["header"] == {"comment": "ok"}
    assert result["lines"][0]["actual"] == [sent]


def test_changed_return_rules_apply_to_new_pushes_only(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    old = push_receipt(api, tenant, terminal, "ЗП-1")
    patch_process(
        api,
        tenant,
        "purchase-receipt",
        {"fields": {"lines_from_terminal": ["weight"], "header_from_terminal": ["driver"]}},
    )
    new = push_receipt(api, tenant, terminal, "ЗП-2")
    for instance_id in (old, new):
        api.claim(terminal, instance_id)

    refused = api.complete(
        terminal, old, [{"line_id": "1", "qty": 1, "weight": 2}], expect=422
    ).json["error"]
    assert refused["details"]["fields"] == {
        "lines": {"0": {"weight": ["Not accepted from terminals by this process."]}}
    }
    api.complete(terminal, old, [{"line_id": "1", "qty": 1, "serial": "SN-1"}])

    refused = api.complete(
        terminal,
        new,
        [{"line_id": "1", "qty": 1, "serial": "SN-1"}],
        expect=422,
        header={"comment": "x"},
    ).json["error"]
    assert refused["details"]["fields"] == {
        "header": {"comment": ["Not accepted from terminals by this process."]},
        "lines": {"0": {"serial": ["Not accepted from terminals by this process."]}},
    }
    api.complete(
        terminal, new, [{"line_id": "1", "qty": 1, "weight": 2}], header={"driver": "Сидоров"}
    )
    by_ext = {r["external_id"]: r for r in results(api, tenant)}
    assert by_ext["ЗП-2"]["header"] == {"driver": "Сидоров"}
    assert by_ext["ЗП-2"]["lines"][0]["actual"] == [{"qty": 1, "weight": 2}]


def test_a_collective_part_with_a_refused_field_stores_nothing(
    api: Client, tenant: TenantKeys
) -> None:
    a = operator(api, tenant, "ivanov")
    pushed = api.push(
        tenant,
        "stock-count",
        [{"external_id": "ПТ-1", "lines": stock_lines()}],
        target={"users": ["ivanov"]},
    )
    document_id = pushed.json["documents"][0]["id"]
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    join(api, a, instance_id)
    # part_id is the relay's to write, not the terminal's.
    refused = api.complete(
        a,
        instance_id,
        [{"line_id": "1", "qty": 1, "part_id": str(uuid.uuid4())}],
        expect=422,
        close=False,
        header={"zone": "B"},
    ).json["error"]
    assert refused["code"] == "field_not_allowed"
    assert set(refused["details"]["fields"]["header"]) == {"zone"}
    assert set(refused["details"]["fields"]["lines"]["0"]) == {"part_id"}
    doc_out = document(api, tenant, document_id)
    assert [p["state"] for p in doc_out["instances"][0]["parts"]] == ["open"]
    assert "part_submitted" not in kinds(doc_out)


def test_batch_completion_with_a_refused_field(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    good, bad = (push_receipt(api, tenant, terminal, ext) for ext in ("ЗП-1", "ЗП-2"))
    for instance_id in (good, bad):
        api.claim(terminal, instance_id)
    batch = api.post(
        "/api/v1/terminal/completions",
        terminal.bearer,
        {
            "completions": [
                {
                    "id": instance_id,
                    "submission_id": uuid.uuid4().hex,
                    "claim_token": terminal.claims[instance_id],
                    "lines": [{"line_id": "1", "qty": 1, **extra}],
                }
                for instance_id, extra in ((good, {}), (bad, {"color": "red"}))
            ]
        },
    )
    assert batch.status_code == 200, batch.json
    first, second = batch.json["results"]
    assert first["status"] == 200
    assert second["status"] == 422
    assert second["body"]["error"]["code"] == "field_not_allowed"
    assert "color" in second["body"]["error"]["message"]
    assert [r["external_id"] for r in results(api, tenant)] == ["ЗП-1"]


def test_field_rules_are_validated_when_saved(api: Client, tenant: TenantKeys) -> None:
    refused = patch_process(
        api, tenant, "purchase-receipt", {"fields": {"header_to_terminal": ["bad name"]}}, 422
    )
    assert "header_to_terminal" in refused.json["error"]["details"]["fields"]["fields"]
    refused = patch_process(
        api, tenant, "purchase-receipt", {"fields": {"lines_to_client": ["x"]}}, 422
    )
    assert "lines_to_client" in refused.json["error"]["details"]["fields"]["fields"]
    current = api.get("/api/v1/admin/business-processes/purchase-receipt", tenant.admin_key)
    assert current.json["version"] == 1


def test_fractional_extra_line_fields_are_accepted(api: Client, tenant: TenantKeys) -> None:
    # price-check sends price and shelf_price to terminals and takes shelf_price back.
    a = operator(api, tenant, "ivanov")
    body = doc("ЦН-1", lines=[{"line_id": "1", "product_id": "p-001", "price": 99.9}])
    pushed = api.push(tenant, "price-check", [body], target={"users": ["ivanov"]}, expect=None)
    assert pushed.status_code == 201, pushed.json
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    assert shown(api, a, instance_id)["lines"][0]["price"] == Decimal("99.9")
    api.claim(a, instance_id)
    api.complete(a, instance_id, [{"line_id": "1", "qty": 1, "shelf_price": 89.9}])


def test_terminals_are_told_the_quantity_control_and_what_they_may_send(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    out = shown(api, terminal, push_receipt(api, tenant, terminal, "ПТ-QC"))
    assert out["quantity_control"] == "no_excess"
    assert out["accepts"] == {
        "header": ["comment"],
        "lines": ["product_id", "barcode", "name", "unit", "serial", "lot", "cell",
                  "marking_code", "expiry_date"],
    }  # fmt: skip
    patch_process(api, tenant, "purchase-receipt", {"quantity_control": "exact"})
    later = shown(api, terminal, push_receipt(api, tenant, terminal, "ПТ-QC-2"))
    assert later["quantity_control"] == "exact"
    assert out["quantity_control"] == shown(api, terminal, out["id"])["quantity_control"]

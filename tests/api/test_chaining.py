"""Chaining (next_business_process): a completed transfer shipment starts its receipt."""

from typing import Any

import pytest

from tests.helpers import (
    Client,
    TenantKeys,
    Terminal,
    doc,
    document,
    kinds,
    operator,
    patch_process,
    results,
)

SHIPMENT = "ПеремещениеТоваров-0000-000042"


def push_shipment(
    api: Client,
    tenant: TenantKeys,
    next_target: dict[str, Any] | None,
    external_id: str = SHIPMENT,
) -> tuple[str, str]:
    body: dict[str, Any] = {
        "business_process": "transfer-shipment",
        "target": {"users": ["shipper"]},
        "documents": [
            doc(
                external_id,
                header={
                    "warehouse": "Основной склад",
                    "destination_warehouse": "Склад №2",
                    "comment": "до обеда",
                },
            )
        ],
    }
    if next_target is not None:
        body["next_target"] = next_target
    pushed = api.post("/api/v1/documents", tenant.accounting_key, body)
    assert pushed.status_code == 201, pushed.json
    (out,) = pushed.json["documents"]
    return out["id"], out["instances"][0]["id"]


def ship(api: Client, shipper: Terminal, instance_id: str) -> dict[str, Any]:
    api.claim(shipper, instance_id)
    done = api.complete(
        shipper,
        instance_id,
        [
            {"line_id": "1", "qty": 6},
            {"line_id": "1", "qty": 3, "serial": "SN-42"},
            {"line_id": "2", "qty": 5, "lot": "L-7"},
        ],
        header={"comment": "2 коробки мятые"},
    )
    return dict(done.json)


@pytest.fixture
def shipper(api: Client, tenant: TenantKeys) -> Terminal:
    return operator(api, tenant, "shipper")


@pytest.fixture
def receiver(api: Client, tenant: TenantKeys) -> Terminal:
    return operator(api, tenant, "receiver")


def chained_id(source: dict[str, Any]) -> str:
    (event,) = [e for e in source["timeline"] if e["kind"] == "chained"]
    return str(event["details"]["next_document_id"])


def test_a_completed_shipment_starts_the_receipt(
    api: Client, tenant: TenantKeys, shipper: Terminal, receiver: Terminal
) -> None:
    source_id, instance_id = push_shipment(api, tenant, {"users": ["receiver"]})
    assert document(api, tenant, source_id)["next_target"] == {"users": ["receiver"]}
    done = ship(api, shipper, instance_id)
    assert done["state"] == "completed"

    source = document(api, tenant, source_id)
    assert kinds(source)[-2:] == ["completed", "chained"]
    (chained,) = [e for e in source["timeline"] if e["kind"] == "chained"]
    assert chained["details"]["business_process"] == "transfer-receipt"
    next_id = chained_id(source)

    receipt = document(api, tenant, next_id)
    assert receipt["business_process"] == "transfer-receipt"
    assert receipt["business_process_version"] == 1
    assert receipt["external_id"] == SHIPMENT
    assert receipt["number"] == source["number"]
    assert receipt["chained_from_result_id"] == done["result_id"]
    assert receipt["target"] == {"users": ["receiver"]}
    # The receipt goes where the push said, by transfer-receipt's own rules: one shared instance.
    (instance,) = receipt["instances"]
    assert instance["addressee"]["login"] == "receiver"
    assert instance["state"] == "queued"
    (pushed,) = [e for e in receipt["timeline"] if e["kind"] == "pushed"]
    assert pushed["details"]["chained_from"] == source_id
    assert pushed["details"]["result_id"] == done["result_id"]
    # Source header, overlaid with what the terminal sent back.
    assert receipt["header"] == {
        "warehouse": "Основной склад",
        "destination_warehouse": "Склад №2",
        "comment": "2 коробки мятые",
    }

    # The declared lines of the receipt are what was actually shipped, box by box.
    milk, kefir = doc()["lines"]
    assert receipt["lines"] == [
        {**milk, "line_id": "1-1", "declared_qty": 6},
        {**milk, "line_id": "1-2", "declared_qty": 3, "serial": "SN-42"},
        {**kefir, "line_id": "2", "declared_qty": 5, "lot": "L-7"},
    ]
    inbox = api.inbox(receiver)
    assert [(d["document_id"], d["business_process"]) for d in inbox] == [
        (next_id, "transfer-receipt")
    ]
    assert api.inbox(shipper) == []

    # The receipt is worked like any document, against the shipped lines.
    api.claim(receiver, instance["id"])
    api.complete(
        receiver,
        instance["id"],
        [
            {"line_id": "1-1", "qty": 6},
            {"line_id": "1-2", "qty": 3, "serial": "SN-42"},
            {"line_id": "2", "qty": 4, "lot": "L-7"},
        ],
    )
    feed = {r["business_process"]: r for r in results(api, tenant)}
    assert [line["actual_qty"] for line in feed["transfer-receipt"]["lines"]] == [6, 3, 4]
    assert feed["transfer-receipt"]["external_id"] == SHIPMENT


def test_the_result_names_the_chained_document(
    api: Client, tenant: TenantKeys, shipper: Terminal, receiver: Terminal
) -> None:
    source_id, instance_id = push_shipment(api, tenant, {"users": ["receiver"]})
    done = ship(api, shipper, instance_id)
    next_id = chained_id(document(api, tenant, source_id))
    (result,) = results(api, tenant)
    assert result["next_document_id"] == next_id
    one = api.get(f"/api/v1/results/{done['result_id']}", tenant.accounting_key).json
    assert one["next_document_id"] == next_id


def test_without_a_next_target_the_receipt_goes_to_the_operator_who_shipped(
    api: Client, tenant: TenantKeys, shipper: Terminal, receiver: Terminal
) -> None:
    """Rule 3 (users, no fixed assignees) in a chain: the completing operator is the target."""
    source_id, instance_id = push_shipment(api, tenant, None)
    done = ship(api, shipper, instance_id)
    assert done["state"] == "completed"
    receipt = document(api, tenant, chained_id(document(api, tenant, source_id)))
    (instance,) = receipt["instances"]
    assert [a["login"] for a in instance["addressees"]] == ["shipper"]
    assert [d["id"] for d in api.inbox(shipper) if d["business_process"] == "transfer-receipt"]
    assert api.inbox(receiver) == []
    (result,) = results(api, tenant)
    assert result["chain"] == {
        "state": "started",
        "business_process": "transfer-receipt",
        "next_document_id": receipt["id"],
    }


def test_without_a_session_the_chain_goes_to_the_device(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant, serial="A")
    api.enroll(tenant, serial="B")
    body = {
        "business_process": "transfer-shipment",
        "target": {"pin": terminal.pin},
        "documents": [doc(SHIPMENT)],
    }
    pushed = api.post("/api/v1/documents", tenant.accounting_key, body)
    assert pushed.status_code == 201, pushed.json
    ship(api, terminal, pushed.json["documents"][0]["instances"][0]["id"])
    (result,) = results(api, tenant)
    receipt = document(api, tenant, result["chain"]["next_document_id"])
    (instance,) = receipt["instances"]
    assert instance["addressee"]["device_id"] == terminal.device_id


def test_rule_1_a_device_process_gets_the_completing_device_among_several(
    api: Client, tenant: TenantKeys, shipper: Terminal
) -> None:
    patch_process(api, tenant, "transfer-receipt", {"assign_to": "device"})
    api.enroll(tenant, serial="another")  # several active devices: no sole one to default to
    source_id, instance_id = push_shipment(api, tenant, None)
    ship(api, shipper, instance_id)
    receipt = document(api, tenant, chained_id(document(api, tenant, source_id)))
    assert receipt["instances"][0]["addressee"]["device_id"] == shipper.device_id

    # A users target for a device process breaks rule 1: the result says so.
    source_id, instance_id = push_shipment(api, tenant, {"users": ["shipper"]}, "ПТ-2")
    ship(api, shipper, instance_id)
    failed = next(r for r in results(api, tenant) if r["external_id"] == "ПТ-2")["chain"]
    assert failed["state"] == "failed"
    assert failed["code"] == "target_not_allowed"
    assert failed["reason"]


def test_a_failed_chain_shows_on_the_result_in_the_feed_and_the_webhook_body(
    api: Client, tenant: TenantKeys, shipper: Terminal
) -> None:
    from relay.results.delivery import result_body

    source_id, instance_id = push_shipment(api, tenant, {"pin": "99999"})
    done = ship(api, shipper, instance_id)
    source = document(api, tenant, source_id)
    assert kinds(source)[-2:] == ["completed", "chain_failed"]
    (result,) = results(api, tenant)
    chain = result["chain"]
    assert chain["state"] == "failed"
    assert chain["code"] == "device_not_found"
    assert "99999" in chain["reason"]
    assert result["next_document_id"] is None
    one = api.get(f"/api/v1/results/{done['result_id']}", tenant.accounting_key).json
    assert one["chain"] == chain
    with api.client.application.app_context():
        from relay.extensions import db
        from relay.models import Result

        row = db.session.scalars(db.select(Result)).one()
        body = result_body(row)
        db.session.remove()
    assert b'"state":"failed"' in body
    assert b'"code":"device_not_found"' in body


@pytest.mark.parametrize(
    ("next_target", "code"),
    [
        ({"users": ["nobody"]}, "unknown_assignee"),
        ({"pin": "99999"}, "device_not_found"),
        ({"groups": ["Пустая"]}, "empty_group"),
    ],
)
def test_a_next_target_that_cannot_be_routed_is_recorded(
    api: Client,
    tenant: TenantKeys,
    shipper: Terminal,
    next_target: dict[str, Any],
    code: str,
) -> None:
    """Rule 5 in a chain; and rule 6: the failed chain stores nothing of the next document."""
    api.group(tenant, "Пустая", [])
    source_id, instance_id = push_shipment(api, tenant, next_target)
    assert ship(api, shipper, instance_id)["state"] == "completed"
    source = document(api, tenant, source_id)
    assert source["timeline"][-1]["kind"] == "chain_failed"
    assert source["timeline"][-1]["details"]["code"] == code
    docs = api.get("/api/v1/documents", tenant.accounting_key).json["documents"]
    assert len(docs) == 1
    (result,) = results(api, tenant)
    assert (result["chain"]["state"], result["chain"]["code"]) == ("failed", code)


def test_the_next_process_routes_by_its_own_rules(
    api: Client, tenant: TenantKeys, shipper: Terminal, receiver: Terminal
) -> None:
    other = operator(api, tenant, "other")
    patch_process(
        api, tenant, "transfer-receipt", {"assignees": {"users": ["receiver"], "groups": []}}
    )
    # No next_target: the receipt goes to transfer-receipt's fixed assignees.
    source_id, instance_id = push_shipment(api, tenant, None)
    ship(api, shipper, instance_id)
    receipt = document(api, tenant, chained_id(document(api, tenant, source_id)))
    assert receipt["business_process_version"] == 2
    assert [a["login"] for a in receipt["instances"][0]["addressees"]] == ["receiver"]
    assert api.inbox(other) == []

    # A next_target outside the fixed assignees breaks transfer-receipt's rule 2.
    source_id, instance_id = push_shipment(api, tenant, {"users": ["other"]}, "ПТ-2")
    ship(api, shipper, instance_id)
    source = document(api, tenant, source_id)
    assert source["timeline"][-1]["kind"] == "chain_failed"
    assert source["timeline"][-1]["details"]["code"] == "target_not_allowed"
    chains = {r["external_id"]: r["chain"] for r in results(api, tenant)}
    assert chains[SHIPMENT]["state"] == "started"
    assert (chains["ПТ-2"]["state"], chains["ПТ-2"]["code"]) == ("failed", "target_not_allowed")


def test_per_user_copies_in_the_next_process(
    api: Client, tenant: TenantKeys, shipper: Terminal, receiver: Terminal
) -> None:
    operator(api, tenant, "second")
    patch_process(api, tenant, "transfer-receipt", {"per_user_copy": True})
    source_id, instance_id = push_shipment(api, tenant, {"users": ["receiver", "second"]})
    ship(api, shipper, instance_id)
    receipt = document(api, tenant, chained_id(document(api, tenant, source_id)))
    assert sorted(i["addressee"]["login"] for i in receipt["instances"]) == ["receiver", "second"]

    # Rule 4 with a group: its current members get one copy each.
    api.group(tenant, "Приёмка", ["receiver", "second"])
    source_id, instance_id = push_shipment(api, tenant, {"groups": ["Приёмка"]}, "ПТ-3")
    ship(api, shipper, instance_id)
    receipt = document(api, tenant, chained_id(document(api, tenant, source_id)))
    assert sorted(i["addressee"]["login"] for i in receipt["instances"]) == ["receiver", "second"]


def test_a_disabled_next_process_fails_the_chain(
    api: Client, tenant: TenantKeys, shipper: Terminal, receiver: Terminal
) -> None:
    source_id, instance_id = push_shipment(api, tenant, {"users": ["receiver"]})
    patch_process(api, tenant, "transfer-receipt", {"enabled": False})
    assert ship(api, shipper, instance_id)["state"] == "completed"
    source = document(api, tenant, source_id)
    assert source["timeline"][-1]["kind"] == "chain_failed"
    assert source["timeline"][-1]["details"]["code"] == "business_process_disabled"
    assert api.inbox(receiver) == []
    assert len(results(api, tenant)) == 1


def test_a_taken_external_id_gets_a_suffix(
    api: Client, tenant: TenantKeys, shipper: Terminal, receiver: Terminal
) -> None:
    # Accounting already has a receipt under the shipment's external id (and "#2" too).
    for external_id in (SHIPMENT, f"{SHIPMENT}#2"):
        api.push(tenant, "transfer-receipt", [doc(external_id)], target={"users": ["receiver"]})
    source_id, instance_id = push_shipment(api, tenant, {"users": ["receiver"]})
    ship(api, shipper, instance_id)
    receipt = document(api, tenant, chained_id(document(api, tenant, source_id)))
    assert receipt["external_id"] == f"{SHIPMENT}#3"


def test_zero_lines_are_dropped_and_undeclared_goods_numbered(
    api: Client, tenant: TenantKeys, shipper: Terminal, receiver: Terminal
) -> None:
    patch_process(api, tenant, "transfer-shipment", {"quantity_control": "none"})
    source_id, instance_id = push_shipment(api, tenant, {"users": ["receiver"]})
    api.claim(shipper, instance_id)
    api.complete(
        shipper,
        instance_id,
        [
            {"line_id": "1", "qty": 0},
            {"line_id": "2", "qty": 5},
            {"product_id": "p-009", "barcode": "4600000000009", "qty": 2},
            {"barcode": "4600000000010", "qty": 1, "serial": "SN-9"},
        ],
    )
    receipt = document(api, tenant, chained_id(document(api, tenant, source_id)))
    assert [(line["line_id"], line["declared_qty"]) for line in receipt["lines"]] == [
        ("2", 5),
        ("u1", 2),
        ("u2", 1),
    ]
    assert receipt["lines"][1] == {
        "line_id": "u1",
        "product_id": "p-009",
        "barcode": "4600000000009",
        "declared_qty": 2,
    }
    assert receipt["lines"][2]["serial"] == "SN-9"


def test_a_collective_count_chains_its_merged_lines(api: Client, tenant: TenantKeys) -> None:
    a, b = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    receiver = operator(api, tenant, "receiver")
    patch_process(api, tenant, "stock-count", {"next_business_process": "transfer-receipt"})
    pushed = api.post(
        "/api/v1/documents",
        tenant.accounting_key,
        {
            "business_process": "stock-count",
            "target": {"users": ["ivanov", "petrov"]},
            "next_target": {"users": ["receiver"]},
            "documents": [doc("ПТ-1")],
        },
    )
    source_id = pushed.json["documents"][0]["id"]
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    for terminal, qty in ((a, 4), (b, 3)):
        joined = api.post(f"/api/v1/terminal/documents/{instance_id}/join", terminal.bearer)
        api.complete(
            terminal,
            instance_id,
            [{"line_id": "1", "qty": qty}],
            close=terminal is b,
            claim_token=joined.json["claim_token"],
        )
    receipt = document(api, tenant, chained_id(document(api, tenant, source_id)))
    assert [(line["line_id"], line["declared_qty"]) for line in receipt["lines"]] == [
        ("1-1", 4),
        ("1-2", 3),
    ]
    assert all("part_id" not in line for line in receipt["lines"])
    assert [d["business_process"] for d in api.inbox(receiver)] == ["transfer-receipt"]


def test_a_loop_is_refused_when_the_process_is_saved(api: Client, tenant: TenantKeys) -> None:
    refused = patch_process(
        api, tenant, "transfer-receipt", {"next_business_process": "transfer-shipment"}, 422
    ).json["error"]
    assert refused["code"] == "process_chain_loop"
    assert "transfer-receipt → transfer-shipment → transfer-receipt" in refused["message"]
    assert refused["details"]["fields"] == {"next_business_process": ["Would make a loop."]}
    current = api.get("/api/v1/admin/business-processes/transfer-receipt", tenant.admin_key).json
    assert current["version"] == 1
    assert current["next_business_process"] is None

    # A longer loop through a third process is caught as well, on PUT too.
    patch_process(api, tenant, "transfer-receipt", {"next_business_process": "stock-count"})
    definition = api.get("/api/v1/admin/business-processes/stock-count", tenant.admin_key).json
    refused = api.put(
        "/api/v1/admin/business-processes/stock-count",
        tenant.admin_key,
        {**definition, "next_business_process": "transfer-shipment"},
    )
    assert refused.status_code == 422, refused.json
    assert refused.json["error"]["code"] == "process_chain_loop"


def test_a_process_cannot_chain_to_itself(api: Client, tenant: TenantKeys) -> None:
    refused = patch_process(
        api, tenant, "stock-count", {"next_business_process": "stock-count"}, 422
    ).json["error"]
    assert "next_business_process" in refused["details"]["fields"]


def test_an_unknown_next_process_is_refused(api: Client, tenant: TenantKeys) -> None:
    refused = patch_process(
        api, tenant, "transfer-receipt", {"next_business_process": "no-such-process"}, 422
    ).json["error"]
    assert refused["details"]["fields"] == {"next_business_process": ["Unknown process."]}
    assert "no-such-process" in refused["message"]
    refused = api.put(
        "/api/v1/admin/business-processes/new-process",
        tenant.admin_key,
        {
            "key": "new-process",
            "name": "Новый",
            "source_document_type": "a",
            "terminal_document_type": "b",
            "result_document_type": "c",
            "assign_to": "users",
            "next_business_process": "missing",
        },
    )
    assert refused.status_code == 422
    assert (
        api.get("/api/v1/admin/business-processes/new-process", tenant.admin_key).status_code == 404
    )

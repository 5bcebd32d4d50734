"""The document lifecycle through the API (SPEC §7, Appendix A): claim, release, complete,
quantity control, lines, cancel, timeline, per-user copies."""

import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.helpers import Client, TenantKeys, Terminal, assert_error, doc

TERMINAL = "/api/v1/terminal/documents"
RESULTS = "/api/v1/results"
FULL = [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}]  # exactly what doc() declares


def push_one(
    api: Client,
    tenant: TenantKeys,
    process: str,
    target: dict[str, Any] | None,
    external_id: str = "E-1",
    **extra: Any,
) -> tuple[str, str]:
    """Push one document; return (document id, its only instance id)."""
    response = api.push(tenant, process, [doc(external_id, **extra)], target=target)
    document = response.json["documents"][0]
    assert len(document["instances"]) == 1, document
    return str(document["id"]), str(document["instances"][0]["id"])


def feed(api: Client, tenant: TenantKeys) -> list[dict[str, Any]]:
    response = api.get(RESULTS, tenant.accounting_key)
    assert response.status_code == 200, response.json
    return list(response.json["results"])


def state(api: Client, who: Terminal, instance_id: str) -> str:
    response = api.get(f"{TERMINAL}/{instance_id}", who.bearer)
    assert response.status_code == 200, response.json
    return str(response.json["state"])


def release(api: Client, who: Terminal, instance_id: str) -> TestResponse:
    return api.post(f"{TERMINAL}/{instance_id}/release", who.bearer)


def timeline(api: Client, tenant: TenantKeys, document_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/documents/{document_id}", tenant.accounting_key)
    assert response.status_code == 200, response.json
    return list(response.json["timeline"])


def cancel(api: Client, tenant: TenantKeys, document_id: str) -> TestResponse:
    return api.post(f"/api/v1/documents/{document_id}/cancel", tenant.accounting_key)


@pytest.fixture
def device(api: Client, tenant: TenantKeys) -> Terminal:
    return api.enroll(tenant, name="Склад-1", serial="SER-1")


@pytest.fixture
def crew(api: Client, tenant: TenantKeys) -> tuple[Terminal, Terminal]:
    """ivanov and petrov logged in on two terminals; both in the group "Склад"."""
    first = api.enroll(tenant, name="A", serial="SER-A")
    second = api.enroll(tenant, name="B", serial="SER-B")
    api.user(tenant, "ivanov", name="Иванов И.")
    api.user(tenant, "petrov", name="Петров П.")
    api.group(tenant, "Склад", ["ivanov", "petrov"])
    return api.login(first, "ivanov"), api.login(second, "petrov")


# -- claim ----------------------------------------------------------------------------------------


def test_claim_returns_a_claim_token(api: Client, tenant: TenantKeys, device: Terminal) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    response = api.claim(device, instance_id)
    assert response.json["id"] == instance_id
    assert response.json["state"] == "claimed"
    assert response.json["claim_token"].startswith("relay_clm_")
    assert state(api, device, instance_id) == "claimed"


def test_a_second_claim_names_the_holding_operator(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, petrov = crew
    _doc, instance_id = push_one(api, tenant, "order-picking", {"groups": ["Склад"]})
    api.claim(ivanov, instance_id)
    error = assert_error(
        api.post(f"{TERMINAL}/{instance_id}/claim", petrov.bearer), 409, "already_claimed"
    )
    holder = error["details"]["holder"]
    assert holder["login"] == "ivanov"
    assert holder["pin"] == ivanov.pin
    assert holder["device_id"] == ivanov.device_id
    assert "ivanov" in error["message"]
    # The refused claim changed nothing: ivanov still completes with his token.
    api.complete(ivanov, instance_id, FULL)


def test_a_second_claim_names_the_holding_device(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    api.user(tenant, "petrov")
    api.group(tenant, "Общая", ["petrov"])
    _doc, instance_id = push_one(api, tenant, "order-picking", {"groups": ["Общая"]})
    holder = api.login(device, "petrov")
    api.claim(holder, instance_id)
    other = api.login(api.enroll(tenant, "Склад-2"), "petrov")
    error = assert_error(
        api.post(f"{TERMINAL}/{instance_id}/claim", other.bearer), 409, "already_claimed"
    )
    assert error["details"]["holder"]["pin"] == device.pin
    assert error["details"]["holder"]["device_id"] == device.device_id
    assert error["details"]["holder"]["login"] == "petrov"


def test_a_claim_made_with_the_device_token_belongs_to_the_device(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    api.user(tenant, "petrov")
    _doc, instance_id = push_one(api, tenant, "order-picking", {"pin": device.pin})
    old = api.claim(device, instance_id).json["claim_token"]
    petrov = api.login(device, "petrov")  # an operator on the holding terminal
    assert [d["claimed_by_me"] for d in api.inbox(petrov)] == [True]
    new = api.claim(petrov, instance_id).json["claim_token"]
    assert new != old
    assert_error(
        api.complete(petrov, instance_id, [], expect=None, claim_token=old), 409, "claim_lost"
    )


def test_the_holder_claiming_again_gets_a_new_token_and_the_old_one_dies(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    old = api.claim(device, instance_id).json["claim_token"]
    new = api.claim(device, instance_id).json["claim_token"]
    assert new != old
    lost = api.complete(device, instance_id, FULL, expect=None, claim_token=old)
    assert_error(lost, 409, "claim_lost")
    assert feed(api, tenant) == []
    assert state(api, device, instance_id) == "claimed"
    done = api.complete(device, instance_id, FULL, claim_token=new)
    assert done.json["state"] == "completed"


def test_a_wrong_claim_token_is_claim_lost(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    forged = api.complete(device, instance_id, FULL, expect=None, claim_token="relay_clm_forged")
    assert_error(forged, 409, "claim_lost")
    empty = api.complete(device, instance_id, FULL, expect=None, claim_token="")
    assert "claim_token" in assert_error(empty, 422, "validation_failed")["details"]["fields"]
    assert feed(api, tenant) == []


# -- release --------------------------------------------------------------------------------------


def test_release_puts_the_document_back_for_everyone(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, petrov = crew
    _doc, instance_id = push_one(api, tenant, "order-picking", {"groups": ["Склад"]})
    api.claim(ivanov, instance_id)
    assert instance_id not in {d["id"] for d in api.inbox(petrov)}
    response = release(api, ivanov, instance_id)
    assert response.status_code == 200, response.json
    assert response.json == {"id": instance_id, "state": "queued"}
    assert [d["id"] for d in api.inbox(petrov)] == [instance_id]
    assert api.inbox(ivanov)[0]["claimed_by_me"] is False
    api.claim(petrov, instance_id)
    api.complete(petrov, instance_id, FULL)


def test_only_the_holder_can_release(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, petrov = crew
    _doc, instance_id = push_one(api, tenant, "order-picking", {"groups": ["Склад"]})
    api.claim(ivanov, instance_id)
    error = assert_error(release(api, petrov, instance_id), 409, "not_holder")
    assert error["details"]["holder"]["login"] == "ivanov"
    api.complete(ivanov, instance_id, FULL)


def test_a_late_completion_after_release_and_reclaim_is_claim_lost(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, petrov = crew
    _doc, instance_id = push_one(api, tenant, "order-picking", {"groups": ["Склад"]})
    api.claim(ivanov, instance_id)
    assert release(api, ivanov, instance_id).status_code == 200
    api.claim(petrov, instance_id)
    late = api.complete(ivanov, instance_id, FULL, expect=None)
    assert_error(late, 409, "claim_lost")
    assert feed(api, tenant) == []
    assert state(api, petrov, instance_id) == "claimed"
    api.complete(petrov, instance_id, FULL)
    results = feed(api, tenant)
    assert len(results) == 1
    assert results[0]["completed_by"]["login"] == "petrov"


def test_a_late_completion_after_release_is_claim_lost(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    assert release(api, device, instance_id).status_code == 200
    late = api.complete(device, instance_id, FULL, expect=None)
    assert late.status_code == 409
    assert feed(api, tenant) == []
    assert state(api, device, instance_id) == "queued"
    assert_error(late, 409, "claim_lost")


def test_releasing_a_queued_document_changes_nothing(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    response = release(api, device, instance_id)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "queued"
    assert state(api, device, instance_id) == "queued"


# -- complete -------------------------------------------------------------------------------------


def test_complete_answers_with_the_result_id(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    document_id, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    done = api.complete(device, instance_id, FULL, header={"comment": "ok"})
    assert set(done.json) == {"id", "state", "result_id"}
    assert done.json["id"] == instance_id
    assert done.json["state"] == "completed"
    (result,) = feed(api, tenant)
    assert result["id"] == done.json["result_id"]
    assert result["document_id"] == document_id
    assert result["instance_id"] == instance_id
    assert result["external_id"] == "E-1"
    assert result["business_process"] == "purchase-receipt"
    assert result["header"] == {"comment": "ok"}
    assert result["completed_by"]["device_id"] == device.device_id
    assert result["completed_by"]["pin"] == device.pin
    assert instance_id not in {d["id"] for d in api.inbox(device)}


def test_the_same_submission_twice_is_applied_once(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    document_id, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    first = api.complete(device, instance_id, FULL, submission_id="sub-1")
    again = api.complete(device, instance_id, FULL, submission_id="sub-1")
    assert again.json == first.json
    assert len(feed(api, tenant)) == 1
    kinds = [e["kind"] for e in timeline(api, tenant, document_id)]
    assert kinds.count("completed") == 1


def test_the_same_submission_with_another_body_is_refused(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    first = api.complete(device, instance_id, FULL, submission_id="sub-1")
    other = api.complete(
        device, instance_id, [{"line_id": "1", "qty": 1}], expect=None, submission_id="sub-1"
    )
    assert_error(other, 422, "idempotency_key_reused")
    (result,) = feed(api, tenant)
    assert result["id"] == first.json["result_id"]
    assert result["lines"][0]["actual_qty"] == 10


def test_completing_a_queued_document_is_not_claimed(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    response = api.complete(device, instance_id, FULL, expect=None, claim_token="relay_clm_x")
    assert_error(response, 409, "not_claimed")
    assert feed(api, tenant) == []
    assert state(api, device, instance_id) == "queued"


def test_completing_a_completed_document_again_is_refused(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    token = api.claim(device, instance_id).json["claim_token"]
    api.complete(device, instance_id, FULL)
    again = api.complete(device, instance_id, FULL, expect=None, claim_token=token)
    assert_error(again, 409, "already_completed")
    assert_error(
        api.post(f"{TERMINAL}/{instance_id}/claim", device.bearer), 409, "already_completed"
    )
    assert len(feed(api, tenant)) == 1


# -- quantity control -----------------------------------------------------------------------------


def discrepant(error: dict[str, Any]) -> dict[Any, str]:
    return {
        (line["line_id"] or line.get("product_id")): line["problem"]
        for line in error["details"]["lines"]
    }


def test_no_excess_lists_every_excess_and_undeclared_line_and_stores_nothing(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    lines = [
        {"line_id": "1", "product_id": "p-001", "declared_qty": 10},
        {"line_id": "2", "product_id": "p-002", "declared_qty": 5},
        {"line_id": "3", "product_id": "p-003", "declared_qty": 1},
    ]
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin}, lines=lines)
    api.claim(device, instance_id)
    actual = [
        {"line_id": "1", "qty": 6},
        {"line_id": "1", "qty": 5},  # 11 of 10: excess, found on the derived total
        {"line_id": "2", "qty": 3},  # shortage is allowed under no_excess
        {"line_id": "3", "qty": 2},  # excess
        {"product_id": "p-009", "barcode": "4600000000009", "qty": 1},  # undeclared
    ]
    error = assert_error(
        api.complete(device, instance_id, actual, expect=None), 422, "quantity_control"
    )
    assert error["details"]["mode"] == "no_excess"
    assert discrepant(error) == {"1": "excess", "3": "excess", "p-009": "undeclared"}
    line_1 = next(x for x in error["details"]["lines"] if x["line_id"] == "1")
    assert line_1["declared_qty"] == 10
    assert line_1["actual_qty"] == 11
    assert feed(api, tenant) == []
    assert state(api, device, instance_id) == "claimed"
    # Fixed, the same claim completes: a shortage passes.
    api.complete(device, instance_id, [{"line_id": "1", "qty": 9}, {"line_id": "2", "qty": 3}])
    assert len(feed(api, tenant)) == 1


def test_exact_lists_shortages_excesses_and_missing_lines(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, _petrov = crew
    lines = [
        {"line_id": "1", "product_id": "p-001", "declared_qty": 10},
        {"line_id": "2", "product_id": "p-002", "declared_qty": 5},
        {"line_id": "3", "product_id": "p-003", "declared_qty": 2},
        {"line_id": "4", "product_id": "p-004", "declared_qty": 1},
    ]
    _doc, instance_id = push_one(api, tenant, "order-picking", {"groups": ["Склад"]}, lines=lines)
    api.claim(ivanov, instance_id)
    actual = [
        {"line_id": "1", "qty": 9},  # shortage
        {"line_id": "2", "qty": 6},  # excess
        {"line_id": "4", "qty": 1},  # exact; line 3 missing: shortage
    ]
    error = assert_error(
        api.complete(ivanov, instance_id, actual, expect=None), 422, "quantity_control"
    )
    assert error["details"]["mode"] == "exact"
    assert discrepant(error) == {"1": "shortage", "2": "excess", "3": "shortage"}
    assert feed(api, tenant) == []
    assert state(api, ivanov, instance_id) == "claimed"
    exact = [
        {"line_id": "1", "qty": 10},
        {"line_id": "2", "qty": 5},
        {"line_id": "3", "qty": 2},
        {"line_id": "4", "qty": 1},
    ]
    api.complete(ivanov, instance_id, exact)
    assert len(feed(api, tenant)) == 1


def test_no_quantity_control_takes_anything(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "transfer-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    actual = [
        {"line_id": "1", "qty": 50},
        {"product_id": "p-009", "barcode": "4600000000009", "qty": 2},
    ]
    api.complete(device, instance_id, actual)
    (result,) = feed(api, tenant)
    assert result["lines"][0]["actual_qty"] == 50
    assert result["lines"][1]["actual_qty"] == 0
    assert result["undeclared"] == [{"product_id": "p-009", "barcode": "4600000000009", "qty": 2}]


# -- lines ----------------------------------------------------------------------------------------


def test_several_actual_lines_for_one_declared_line_stay_apart(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "transfer-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    actual = [
        {"line_id": "1", "qty": 6},
        {"line_id": "1", "qty": 3, "serial": "SN-42"},
        {"line_id": "2", "qty": 2, "lot": "L-7", "cell": "A-01"},
        {"line_id": "1", "qty": 3, "serial": "SN-42"},  # the same again: still its own line
        {"barcode": "4600000000009", "qty": 1},
        {"product_id": "p-010", "qty": 4, "name": "Сметана"},
    ]
    api.complete(device, instance_id, actual)
    (result,) = feed(api, tenant)
    by_id = {line["line_id"]: line for line in result["lines"]}
    assert by_id["1"]["declared_qty"] == 10
    assert by_id["1"]["product_id"] == "p-001"
    assert by_id["1"]["actual"] == [
        {"qty": 6},
        {"qty": 3, "serial": "SN-42"},
        {"qty": 3, "serial": "SN-42"},
    ]
    assert by_id["1"]["actual_qty"] == 12
    assert by_id["2"]["actual"] == [{"qty": 2, "lot": "L-7", "cell": "A-01"}]
    assert by_id["2"]["actual_qty"] == 2
    assert result["undeclared"] == [
        {"barcode": "4600000000009", "qty": 1},
        {"product_id": "p-010", "qty": 4, "name": "Сметана"},
    ]


def test_an_unknown_line_id_is_refused(api: Client, tenant: TenantKeys, device: Terminal) -> None:
    _doc, instance_id = push_one(api, tenant, "transfer-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    actual = [{"line_id": "1", "qty": 1}, {"line_id": "99", "qty": 1}, {"line_id": "77", "qty": 1}]
    error = assert_error(
        api.complete(device, instance_id, actual, expect=None), 422, "unknown_line"
    )
    assert error["details"]["line_ids"] == ["77", "99"]
    assert feed(api, tenant) == []
    assert state(api, device, instance_id) == "claimed"


def test_a_header_field_the_process_does_not_take_is_refused(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    response = api.complete(
        device, instance_id, FULL, expect=None, header={"comment": "ok", "warehouse": "Другой"}
    )
    error = assert_error(response, 422, "field_not_allowed")
    assert "warehouse" in error["message"]
    assert "comment" not in error["message"]
    assert set(error["details"]["fields"]["header"]) == {"warehouse"}
    assert feed(api, tenant) == []
    assert state(api, device, instance_id) == "claimed"


def test_a_line_field_the_process_does_not_take_is_refused(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    _doc, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    actual = [{"line_id": "1", "qty": 10, "price": 99}, {"line_id": "2", "qty": 5}]
    error = assert_error(
        api.complete(device, instance_id, actual, expect=None), 422, "field_not_allowed"
    )
    assert "price" in error["message"]
    assert feed(api, tenant) == []


def test_quantities_are_exact_decimals(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, _petrov = crew
    lines = [
        {"line_id": "1", "product_id": "p-001", "unit": "кг", "declared_qty": 0.003},
        {"line_id": "2", "product_id": "p-002", "unit": "кг", "declared_qty": 0.3},
    ]
    _doc, instance_id = push_one(api, tenant, "order-picking", {"users": ["ivanov"]}, lines=lines)
    api.claim(ivanov, instance_id)
    actual = [
        {"line_id": "1", "qty": 0.001},
        {"line_id": "1", "qty": 0.002},
        {"line_id": "2", "qty": 0.1},
        {"line_id": "2", "qty": 0.2},
    ]
    api.complete(ivanov, instance_id, actual)  # exact control: 0.001 + 0.002 is 0.003
    response = api.get(RESULTS, tenant.accounting_key)
    # Read the raw JSON: a number parses to Decimal, a string would stay a str.
    (result,) = json.loads(response.get_data(as_text=True), parse_float=Decimal)["results"]
    line_1, line_2 = result["lines"]
    assert line_1["actual"] == [{"qty": Decimal("0.001")}, {"qty": Decimal("0.002")}]
    assert all(isinstance(a["qty"], Decimal) for a in line_1["actual"])
    assert isinstance(line_1["actual_qty"], Decimal)
    assert line_1["actual_qty"] == Decimal("0.003")
    assert isinstance(line_1["declared_qty"], Decimal)
    assert line_1["declared_qty"] == Decimal("0.003")
    assert line_2["actual_qty"] == Decimal("0.3")
    assert '"0.001"' not in response.get_data(as_text=True)


def test_a_tiny_excess_is_still_an_excess(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, _petrov = crew
    lines = [{"line_id": "1", "product_id": "p-001", "declared_qty": 0.003}]
    _doc, instance_id = push_one(api, tenant, "order-picking", {"users": ["ivanov"]}, lines=lines)
    api.claim(ivanov, instance_id)
    actual = [{"line_id": "1", "qty": 0.002}, {"line_id": "1", "qty": 0.001001}]
    error = assert_error(
        api.complete(ivanov, instance_id, actual, expect=None), 422, "quantity_control"
    )
    assert discrepant(error) == {"1": "excess"}


# -- cancel ---------------------------------------------------------------------------------------


def test_a_cancelled_document_shows_as_cancelled_to_its_holder(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    document_id, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    response = cancel(api, tenant, document_id)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "cancelled"
    (item,) = api.inbox(device)
    assert item["id"] == instance_id
    assert item["state"] == "cancelled"
    assert_error(api.complete(device, instance_id, FULL, expect=None), 409, "document_cancelled")
    assert feed(api, tenant) == []
    dismissed = release(api, device, instance_id)
    assert dismissed.status_code == 200, dismissed.json
    assert dismissed.json["state"] == "cancelled"
    assert api.inbox(device) == []


def test_a_cancelled_queued_document_leaves_the_inboxes(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, petrov = crew
    document_id, instance_id = push_one(api, tenant, "order-picking", {"groups": ["Склад"]})
    assert cancel(api, tenant, document_id).status_code == 200
    assert api.inbox(ivanov) == []
    assert api.inbox(petrov) == []
    assert_error(
        api.post(f"{TERMINAL}/{instance_id}/claim", ivanov.bearer), 409, "document_cancelled"
    )
    # Cancelling again is harmless.
    again = cancel(api, tenant, document_id)
    assert again.status_code == 200, again.json
    assert again.json["state"] == "cancelled"


def test_a_completed_document_cannot_be_cancelled(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    document_id, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    api.complete(device, instance_id, FULL)
    assert_error(cancel(api, tenant, document_id), 409, "document_completed")
    (result,) = feed(api, tenant)
    assert result["instance_id"] == instance_id
    document = api.get(f"/api/v1/documents/{document_id}", tenant.accounting_key).json
    assert document["state"] == "completed"


def test_cancel_needs_the_accounting_key(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys, device: Terminal
) -> None:
    document_id, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    path = f"/api/v1/documents/{document_id}/cancel"
    assert_error(api.post(path, device.token), 403, "forbidden")
    assert_error(api.post(path, other_tenant.accounting_key), 404, "document_not_found")
    assert_error(
        api.post(f"/api/v1/documents/{uuid.uuid4()}/cancel", tenant.accounting_key),
        404,
        "document_not_found",
    )
    assert state(api, device, instance_id) == "queued"


# -- timeline -------------------------------------------------------------------------------------


def test_the_timeline_records_every_transition_with_actor_and_device(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    api.user(tenant, "ivanov")
    session = api.login(device, "ivanov")
    document_id, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    assert release(api, device, instance_id).status_code == 200
    api.claim(session, instance_id)
    result_id = api.complete(session, instance_id, FULL).json["result_id"]
    ack = api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [result_id]})
    assert ack.status_code == 200, ack.json

    events = timeline(api, tenant, document_id)
    assert [e["kind"] for e in events] == [
        "pushed",
        "claimed",
        "released",
        "claimed",
        "completed",
        "processed",
    ]
    pushed, claimed, released, reclaimed, completed, processed = events
    assert pushed["actor"] == "accounting"
    assert claimed["actor"] == "device"
    assert claimed["device_id"] == device.device_id
    assert claimed["user_id"] is None
    assert claimed["instance_id"] == instance_id
    assert released["actor"] == "device"
    assert released["device_id"] == device.device_id
    assert reclaimed["actor"] == "user"
    assert reclaimed["device_id"] == device.device_id
    assert reclaimed["user_id"] is not None
    assert completed["actor"] == "user"
    assert completed["device_id"] == device.device_id
    assert completed["details"]["result_ids"] == [result_id]
    assert processed["actor"] == "accounting"
    assert processed["details"]["result_id"] == result_id
    for event in events:
        assert event["at"].endswith("Z")
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)


def test_the_timeline_records_a_cancel(api: Client, tenant: TenantKeys, device: Terminal) -> None:
    document_id, instance_id = push_one(api, tenant, "purchase-receipt", {"pin": device.pin})
    api.claim(device, instance_id)
    assert cancel(api, tenant, document_id).status_code == 200
    events = timeline(api, tenant, document_id)
    assert [e["kind"] for e in events] == ["pushed", "claimed", "cancelled"]
    assert events[-1]["actor"] == "accounting"
    assert events[-1]["instance_id"] == instance_id


# -- per-user copies ------------------------------------------------------------------------------


def test_per_user_copies_are_worked_and_returned_separately(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, petrov = crew
    response = api.push(tenant, "price-check", [doc("P-1")], target={"groups": ["Склад"]})
    document = response.json["documents"][0]
    instances = document["instances"]
    assert len(instances) == 2
    by_login = {i["addressee"]["login"]: i["id"] for i in instances}
    assert set(by_login) == {"ivanov", "petrov"}
    assert [d["id"] for d in api.inbox(ivanov)] == [by_login["ivanov"]]
    assert [d["id"] for d in api.inbox(petrov)] == [by_login["petrov"]]
    assert_error(
        api.post(f"{TERMINAL}/{by_login['petrov']}/claim", ivanov.bearer), 404, "document_not_found"
    )

    api.claim(ivanov, by_login["ivanov"])
    api.claim(petrov, by_login["petrov"])  # the other copy is not held by ivanov's claim
    first = api.complete(
        ivanov, by_login["ivanov"], [{"line_id": "1", "qty": 1, "price_tag_ok": True}]
    )
    assert len(feed(api, tenant)) == 1
    summary = api.get(f"/api/v1/documents/{document['id']}", tenant.accounting_key).json
    assert summary["state"] == "claimed"  # the least advanced copy
    second = api.complete(
        petrov, by_login["petrov"], [{"line_id": "2", "qty": 2, "shelf_price": 120}]
    )
    assert first.json["result_id"] != second.json["result_id"]
    results = {r["completed_by"]["login"]: r for r in feed(api, tenant)}
    assert set(results) == {"ivanov", "petrov"}
    assert results["ivanov"]["instance_id"] == by_login["ivanov"]
    assert results["petrov"]["instance_id"] == by_login["petrov"]
    assert results["ivanov"]["document_id"] == results["petrov"]["document_id"] == document["id"]
    assert results["ivanov"]["lines"][0]["actual"] == [{"qty": 1, "price_tag_ok": True}]
    assert results["petrov"]["lines"][1]["actual"] == [{"qty": 2, "shelf_price": 120}]
    summary = api.get(f"/api/v1/documents/{document['id']}", tenant.accounting_key).json
    assert summary["state"] == "completed"


def test_a_fractional_extra_line_field_is_kept(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, _petrov = crew
    response = api.push(tenant, "price-check", [doc("P-1")], target={"users": ["ivanov"]})
    instance_id = response.json["documents"][0]["instances"][0]["id"]
    api.claim(ivanov, instance_id)
    actual = [{"line_id": "1", "qty": 1, "shelf_price": 120.5}]
    done = api.complete(ivanov, instance_id, actual, expect=None)
    assert done.status_code == 200, done.json
    (result,) = feed(api, tenant)
    assert result["lines"][0]["actual"] == [{"qty": 1, "shelf_price": Decimal("120.5")}]


def test_a_fractional_declared_line_field_reaches_the_terminal(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, _petrov = crew
    lines = [{"line_id": "1", "product_id": "p-001", "declared_qty": 1, "price": 89.9}]
    response = api.push(
        tenant, "price-check", [doc("P-1", lines=lines)], target={"users": ["ivanov"]}, expect=None
    )
    assert response.status_code == 201, response.json
    instance_id = response.json["documents"][0]["instances"][0]["id"]
    detail = api.get(f"{TERMINAL}/{instance_id}", ivanov.bearer).json
    assert detail["lines"][0]["price"] == Decimal("89.9")


# -- collective work ------------------------------------------------------------------------------


def test_a_collective_stock_count_merges_the_parts(
    api: Client, tenant: TenantKeys, crew: tuple[Terminal, Terminal]
) -> None:
    ivanov, petrov = crew
    document_id, instance_id = push_one(api, tenant, "stock-count", {"groups": ["Склад"]})
    tokens = {}
    for who in (ivanov, petrov):
        joined = api.post(f"{TERMINAL}/{instance_id}/join", who.bearer)
        assert joined.status_code == 200, joined.json
        tokens[who.bearer] = joined.json["claim_token"]
    part = api.complete(
        ivanov,
        instance_id,
        [{"line_id": "1", "qty": 4, "cell": "A-1"}],
        expect=None,
        claim_token=tokens[ivanov.bearer],
        close=False,
    )
    assert part.status_code == 200, part.json
    assert part.json["state"] != "completed"
    assert feed(api, tenant) == []
    closed = api.complete(
        petrov,
        instance_id,
        [{"line_id": "1", "qty": 6, "cell": "A-2"}, {"line_id": "2", "qty": 5}],
        expect=None,
        claim_token=tokens[petrov.bearer],
        close=True,
    )
    assert closed.status_code == 200, closed.json
    assert closed.json["state"] == "completed"
    (result,) = feed(api, tenant)
    assert result["document_id"] == document_id
    assert result["lines"][0]["actual_qty"] == 10
    assert result["lines"][1]["actual_qty"] == 5

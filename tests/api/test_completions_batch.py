"""Many completions in one request (SPEC §9): each stands alone and each is idempotent."""

import uuid
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.helpers import Client, TenantKeys, Terminal, assert_error, doc

BATCH = "/api/v1/terminal/completions"
FULL = [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}]


def push_claimed(api: Client, tenant: TenantKeys, device: Terminal, count: int) -> list[str]:
    """Push ``count`` supplier orders to the device and claim each; return the instance ids."""
    response = api.push(
        tenant,
        "purchase-receipt",
        [doc(f"E-{n}") for n in range(count)],
        target={"pin": device.pin},
    )
    ids = [d["instances"][0]["id"] for d in response.json["documents"]]
    for instance_id in ids:
        api.claim(device, instance_id)
    return ids


def item(
    device: Terminal, instance_id: str, lines: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "id": instance_id,
        "submission_id": extra.pop("submission_id", uuid.uuid4().hex),
        "claim_token": extra.pop("claim_token", device.claims.get(instance_id, "")),
        "lines": lines,
        **extra,
    }


def send(api: Client, who: Terminal, completions: list[Any]) -> TestResponse:
    return api.post(BATCH, who.bearer, {"completions": completions})


def feed(api: Client, tenant: TenantKeys) -> list[dict[str, Any]]:
    response = api.get("/api/v1/results", tenant.accounting_key)
    assert response.status_code == 200, response.json
    return list(response.json["results"])


def state(api: Client, who: Terminal, instance_id: str) -> str:
    response = api.get(f"/api/v1/terminal/documents/{instance_id}", who.bearer)
    assert response.status_code == 200, response.json
    return str(response.json["state"])


def error_code(result: dict[str, Any]) -> str:
    body = result["body"]
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"]
    return str(body["error"]["code"])


@pytest.fixture
def device(api: Client, tenant: TenantKeys) -> Terminal:
    return api.enroll(tenant, serial="SER-1")


def test_each_completion_gets_its_own_answer_and_bad_ones_stop_nothing(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    good_1, invalid, excess, lost, good_2 = push_claimed(api, tenant, device, 5)
    stale = device.claims[lost]
    api.claim(device, lost)  # claimed again: the first token is lost
    unknown = str(uuid.uuid4())
    completions = [
        item(device, good_1, FULL, submission_id="s-good-1"),
        item(device, invalid, [{"line_id": "1", "qty": -1}], submission_id="s-invalid"),
        item(device, excess, [{"line_id": "1", "qty": 11}], submission_id="s-excess"),
        item(device, lost, FULL, submission_id="s-lost", claim_token=stale),
        item(device, unknown, FULL, submission_id="s-unknown", claim_token="relay_clm_x"),
        item(device, good_2, FULL, submission_id="s-good-2", header={"comment": "ok"}),
    ]
    response = send(api, device, completions)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [(r["id"], r["submission_id"]) for r in results] == [
        (c["id"], c["submission_id"]) for c in completions
    ]
    assert [r["status"] for r in results] == [200, 422, 422, 409, 404, 200]
    assert error_code(results[1]) == "validation_failed"
    assert "lines" in results[1]["body"]["error"]["details"]["fields"]
    assert error_code(results[2]) == "quantity_control"
    assert error_code(results[3]) == "claim_lost"
    assert error_code(results[4]) == "document_not_found"
    for ok, instance_id in ((results[0], good_1), (results[5], good_2)):
        assert ok["body"]["id"] == instance_id
        assert ok["body"]["state"] == "completed"
        assert ok["body"]["result_id"]

    stored = feed(api, tenant)
    assert {r["id"] for r in stored} == {
        results[0]["body"]["result_id"],
        results[5]["body"]["result_id"],
    }
    assert {r["instance_id"] for r in stored} == {good_1, good_2}
    for instance_id in (invalid, excess, lost):
        assert state(api, device, instance_id) == "claimed"


def test_retrying_the_whole_batch_applies_nothing_twice(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    first, second, lost = push_claimed(api, tenant, device, 3)
    stale = device.claims[lost]
    api.claim(device, lost)
    completions = [
        item(device, first, FULL),
        item(device, second, [{"line_id": "1", "qty": 4}, {"line_id": "1", "qty": 6}]),
        item(device, lost, FULL, claim_token=stale),
    ]
    once = send(api, device, completions)
    twice = send(api, device, completions)
    assert once.status_code == twice.status_code == 200
    assert twice.json == once.json
    assert [r["status"] for r in twice.json["results"]] == [200, 200, 409]
    results = feed(api, tenant)
    assert len(results) == 2
    assert {r["id"] for r in results} == {
        once.json["results"][0]["body"]["result_id"],
        once.json["results"][1]["body"]["result_id"],
    }
    # The same submissions sent one by one also answer as before.
    single = api.post(
        f"/api/v1/terminal/documents/{first}/complete",
        device.bearer,
        {k: v for k, v in completions[0].items() if k != "id"},
    )
    assert single.status_code == 200, single.json
    assert single.json == once.json["results"][0]["body"]
    assert len(feed(api, tenant)) == 2


def test_a_reused_submission_id_with_another_body_is_refused_in_a_batch(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    first, second = push_claimed(api, tenant, device, 2)
    done = send(api, device, [item(device, first, FULL, submission_id="s-1")])
    assert done.json["results"][0]["status"] == 200
    changed = item(device, first, [{"line_id": "1", "qty": 1}], submission_id="s-1")
    response = send(api, device, [changed, item(device, second, FULL, submission_id="s-2")])
    results = response.json["results"]
    assert results[0]["status"] == 422
    assert error_code(results[0]) == "idempotency_key_reused"
    assert results[1]["status"] == 200
    assert len(feed(api, tenant)) == 2


def test_one_instance_twice_in_a_batch_completes_once(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    (instance_id,) = push_claimed(api, tenant, device, 1)
    same = item(device, instance_id, FULL, submission_id="s-1")
    other = item(device, instance_id, FULL, submission_id="s-2")
    response = send(api, device, [same, same, other])
    results = response.json["results"]
    assert [r["status"] for r in results] == [200, 200, 409]
    assert results[1]["body"] == results[0]["body"]
    assert error_code(results[2]) == "already_completed"
    assert len(feed(api, tenant)) == 1


def test_malformed_items_are_answered_one_by_one(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    (instance_id,) = push_claimed(api, tenant, device, 1)
    no_submission = item(device, instance_id, FULL)
    del no_submission["submission_id"]
    with_state = item(device, instance_id, FULL, state="completed")
    response = send(
        api,
        device,
        ["junk", 42, no_submission, with_state, item(device, instance_id, FULL)],
    )
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [r["status"] for r in results] == [422, 422, 422, 422, 200]
    assert [error_code(r) for r in results[:4]] == ["validation_failed"] * 4
    assert results[0]["id"] is None
    assert results[2]["id"] == instance_id
    assert "submission_id" in results[2]["body"]["error"]["details"]["fields"]
    assert "state" in results[3]["body"]["error"]["details"]["fields"]
    assert len(feed(api, tenant)) == 1


def test_a_batch_cannot_complete_what_is_not_addressed_to_the_device(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    other = api.enroll(tenant, name="Склад-2", serial="SER-2")
    (theirs,) = push_claimed(api, tenant, other, 1)
    token = other.claims[theirs]
    response = send(api, device, [item(device, theirs, FULL, claim_token=token)])
    results = response.json["results"]
    assert results[0]["status"] == 404
    assert error_code(results[0]) == "document_not_found"
    assert feed(api, tenant) == []
    assert state(api, other, theirs) == "claimed"


def test_a_batch_from_an_operator_session(api: Client, tenant: TenantKeys) -> None:
    first = api.enroll(tenant, serial="SER-1")
    api.user(tenant, "ivanov")
    session = api.login(first, "ivanov")
    response = api.push(tenant, "order-picking", [doc("E-1")], target={"users": ["ivanov"]})
    instance_id = response.json["documents"][0]["instances"][0]["id"]
    api.claim(session, instance_id)
    batch = send(api, session, [item(session, instance_id, FULL)])
    assert batch.json["results"][0]["status"] == 200
    (result,) = feed(api, tenant)
    assert result["completed_by"]["login"] == "ivanov"
    assert result["completed_by"]["device_id"] == first.device_id


def test_the_batch_itself_must_be_well_formed(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    assert_error(api.post(BATCH, device.bearer, {"completions": []}), 422, "validation_failed")
    assert_error(api.post(BATCH, device.bearer, {}), 422, "validation_failed")
    assert_error(
        api.post(BATCH, device.bearer, data=b"{not json", content_type="application/json"),
        400,
        "malformed_json",
    )
    assert_error(api.post(BATCH, None, {"completions": [{}]}), 401, "unauthorized")
    assert_error(api.post(BATCH, tenant.accounting_key, {"completions": [{}]}), 403, "forbidden")


def test_a_batch_over_the_cap_is_refused_whole(
    api: Client, tenant: TenantKeys, device: Terminal
) -> None:
    (instance_id,) = push_claimed(api, tenant, device, 1)
    cap = api.client.application.config["BATCH_MAX_COMPLETIONS"]
    completions = [item(device, instance_id, FULL)] + [
        item(device, str(uuid.uuid4()), FULL) for _ in range(cap)
    ]
    error = assert_error(send(api, device, completions), 422, "too_many_completions")
    assert error["details"]["limit"] == cap
    assert feed(api, tenant) == []
    assert state(api, device, instance_id) == "claimed"

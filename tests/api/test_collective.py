"""Collective work through the API: join, submit parts, close, leave, merged or per-part results."""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.helpers import (
    Client,
    TenantKeys,
    Terminal,
    document,
    join,
    kinds,
    operator,
    patch_process,
    results,
    stock_lines,
)

DOCS = "/api/v1/terminal/documents"


@dataclass
class Count:
    document_id: str
    instance_id: str
    a: Terminal
    b: Terminal
    c: Terminal


def push_count(
    api: Client, tenant: TenantKeys, logins: list[str], external_id: str = "ПТ-0001"
) -> tuple[str, str]:
    pushed = api.push(
        tenant,
        "stock-count",
        [
            {
                "external_id": external_id,
                "number": external_id,
                "header": {"warehouse": "Основной склад", "zone": "A", "book_value": 100},
                "lines": stock_lines(),
            }
        ],
        target={"users": logins},
    )
    (doc_out,) = pushed.json["documents"]
    (instance,) = doc_out["instances"]
    return doc_out["id"], instance["id"]


@pytest.fixture
def count(api: Client, tenant: TenantKeys) -> Count:
    a, b, c = (operator(api, tenant, login) for login in ("ivanov", "petrov", "sidorov"))
    document_id, instance_id = push_count(api, tenant, ["ivanov", "petrov", "sidorov"])
    return Count(document_id, instance_id, a, b, c)


def submit(
    api: Client,
    terminal: Terminal,
    instance_id: str,
    lines: list[dict[str, Any]],
    *,
    close: bool,
    expect: int | None = 200,
    **extra: Any,
) -> Any:
    return api.complete(terminal, instance_id, lines, expect=expect, close=close, **extra)


def parts(api: Client, tenant: TenantKeys, document_id: str) -> list[dict[str, Any]]:
    (instance,) = document(api, tenant, document_id)["instances"]
    return list(instance["parts"])


def test_join_answers_the_part_and_its_token(api: Client, tenant: TenantKeys, count: Count) -> None:
    answer = join(api, count.a, count.instance_id).json
    assert answer["id"] == count.instance_id
    assert answer["state"] == "claimed"
    assert answer["claim_token"].startswith("relay_prt")
    uuid.UUID(answer["part_id"])
    (part,) = parts(api, tenant, count.document_id)
    assert part["part_id"] == answer["part_id"]
    assert part["state"] == "open"
    assert part["login"] == "ivanov"
    assert kinds(document(api, tenant, count.document_id))[-1] == "joined"


def test_rejoin_keeps_the_part_and_kills_the_old_token(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    first = join(api, count.a, count.instance_id).json
    again = join(api, count.a, count.instance_id).json
    assert again["part_id"] == first["part_id"]
    assert again["claim_token"] != first["claim_token"]
    assert len(parts(api, tenant, count.document_id)) == 1
    lost = submit(
        api,
        count.a,
        count.instance_id,
        [{"line_id": "1", "qty": 1}],
        close=False,
        claim_token=first["claim_token"],
        expect=409,
    )
    assert lost.json["error"]["code"] == "claim_lost"


def test_claim_of_a_collective_document_is_refused(api: Client, count: Count) -> None:
    refused = api.claim(count.a, count.instance_id, expect=409)
    assert refused.json["error"]["code"] == "collective_document"


def test_join_of_a_document_worked_alone_is_refused(api: Client, tenant: TenantKeys) -> None:
    a = operator(api, tenant, "ivanov")
    pushed = api.push(
        tenant,
        "order-picking",
        [{"external_id": "ЗК-1", "lines": stock_lines()}],
        target={"users": ["ivanov"]},
    )
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    refused = join(api, a, instance_id, expect=409)
    assert refused.json["error"]["code"] == "not_collective"


def test_parts_are_merged_into_one_result_on_close(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    part_a = join(api, count.a, count.instance_id).json["part_id"]
    part_b = join(api, count.b, count.instance_id).json["part_id"]
    first = submit(
        api,
        count.a,
        count.instance_id,
        [{"line_id": "1", "qty": 4}, {"line_id": "2", "qty": 1, "cell": "A-02"}],
        close=False,
    ).json
    assert first == {
        "id": count.instance_id,
        "state": "claimed",
        "part_id": part_a,
        "result_id": None,
    }
    done = submit(
        api,
        count.b,
        count.instance_id,
        [
            {"line_id": "1", "qty": 5, "serial": "SN-1"},
            {"product_id": "p-009", "barcode": "4600000000009", "qty": 2},
        ],
        close=True,
        header={"comment": "зона A пересчитана"},
    ).json
    assert done["state"] == "completed"
    assert done["result_ids"] == [done["result_id"]]

    (result,) = results(api, tenant)
    assert result["id"] == done["result_id"]
    assert result["header"] == {"comment": "зона A пересчитана"}
    line1, line2 = result["lines"]
    assert line1["actual_qty"] == 9
    assert line1["actual"] == [
        {"qty": 4, "part_id": part_a},
        {"qty": 5, "serial": "SN-1", "part_id": part_b},
    ]
    assert line2["actual_qty"] == 1
    assert line2["actual"] == [{"qty": 1, "cell": "A-02", "part_id": part_a}]
    assert result["undeclared"] == [
        {"product_id": "p-009", "barcode": "4600000000009", "qty": 2, "part_id": part_b}
    ]
    doc_out = document(api, tenant, count.document_id)
    assert doc_out["state"] == "completed"
    assert doc_out["result_ids"] == [result["id"]]
    assert kinds(doc_out).count("part_submitted") == 2
    assert {p["state"] for p in doc_out["instances"][0]["parts"]} == {"submitted"}


def test_close_with_open_parts_lists_every_one_and_stores_nothing(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    for terminal in (count.a, count.b, count.c):
        join(api, terminal, count.instance_id)
    before = document(api, tenant, count.document_id)
    submission_id = uuid.uuid4().hex
    refused = submit(
        api,
        count.a,
        count.instance_id,
        [{"line_id": "1", "qty": 3}],
        close=True,
        submission_id=submission_id,
        expect=409,
    )
    error = refused.json["error"]
    assert error["code"] == "parts_open"
    assert sorted(p["login"] for p in error["details"]["parts"]) == ["petrov", "sidorov"]
    assert {p["state"] for p in error["details"]["parts"]} == {"open"}
    assert "petrov" in error["message"]
    assert "sidorov" in error["message"]

    after = document(api, tenant, count.document_id)
    assert after["timeline"] == before["timeline"]
    assert after["instances"] == before["instances"]
    assert {p["state"] for p in after["instances"][0]["parts"]} == {"open"}
    assert results(api, tenant) == []

    # Nothing was stored, so the same submission is applied once the others are done.
    submit(api, count.b, count.instance_id, [{"line_id": "2", "qty": 6}], close=False)
    api.post(f"{DOCS}/{count.instance_id}/release", count.c.bearer)
    done = submit(
        api,
        count.a,
        count.instance_id,
        [{"line_id": "1", "qty": 3}],
        close=True,
        submission_id=submission_id,
    ).json
    assert done["state"] == "completed"
    (result,) = results(api, tenant)
    assert [line["actual_qty"] for line in result["lines"]] == [3, 6]


def test_close_lists_a_part_opened_by_a_device_without_operator(
    api: Client, tenant: TenantKeys
) -> None:
    api.user(tenant, "ivanov")
    device = api.enroll(tenant, name="Склад-7")
    a = api.login(api.enroll(tenant, name="ТСД ivanov"), "ivanov")
    pushed = api.push(
        tenant,
        "stock-count",
        [{"external_id": "ПТ-7", "lines": stock_lines()}],
        target={"pin": device.pin},
    )
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    join(api, device, instance_id)
    # ivanov is not an addressee: the document is not his to see.
    join(api, a, instance_id, expect=404)
    refused = api.post(
        f"/api/v1/documents/{pushed.json['documents'][0]['id']}/close", tenant.accounting_key
    )
    assert refused.status_code == 409
    (part,) = refused.json["error"]["details"]["parts"]
    assert part["pin"] == device.pin
    assert "Склад-7" in refused.json["error"]["message"]


def test_accounting_closes_when_every_part_is_in(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    api.patch(f"/api/v1/admin/devices/{count.b.device_id}", tenant.admin_key, {"mode": "online"})
    join(api, count.a, count.instance_id)
    join(api, count.b, count.instance_id)
    submit(api, count.a, count.instance_id, [{"line_id": "1", "qty": 2}], close=False)

    close = f"/api/v1/documents/{count.document_id}/close"
    refused = api.post(close, tenant.accounting_key)
    assert refused.status_code == 409, refused.json
    assert refused.json["error"]["code"] == "parts_open"
    assert [p["login"] for p in refused.json["error"]["details"]["parts"]] == ["petrov"]
    assert results(api, tenant) == []

    submit(api, count.b, count.instance_id, [{"line_id": "1", "qty": 3}], close=False)
    # A terminal's token is no key to the accounting side's close.
    assert api.post(close, count.a.bearer).status_code in (401, 403)
    closed = api.post(close, tenant.accounting_key)
    assert closed.status_code == 200, closed.json
    assert closed.json["state"] == "completed"
    (result,) = results(api, tenant)
    assert closed.json["result_id"] == result["id"]
    assert result["lines"][0]["actual_qty"] == 5
    # Closed by accounting: the mode is that of the device which submitted the last part.
    assert result["completed_by"]["mode"] == "online"
    doc_out = document(api, tenant, count.document_id)
    completed = [e for e in doc_out["timeline"] if e["kind"] == "completed"]
    assert [e["actor"] for e in completed] == ["accounting"]

    again = api.post(close, tenant.accounting_key)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "document_not_open"


def test_close_with_no_submitted_part(api: Client, tenant: TenantKeys, count: Count) -> None:
    close = f"/api/v1/documents/{count.document_id}/close"
    refused = api.post(close, tenant.accounting_key)
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "no_parts"
    join(api, count.a, count.instance_id)
    api.post(f"{DOCS}/{count.instance_id}/release", count.a.bearer)
    refused = api.post(close, tenant.accounting_key)
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "no_parts"
    assert document(api, tenant, count.document_id)["state"] == "queued"


def test_accounting_close_of_a_document_worked_alone_is_refused(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    pushed = api.push(tenant, "purchase-receipt", [{"external_id": "ЗП-1", "lines": []}])
    refused = api.post(
        f"/api/v1/documents/{pushed.json['documents'][0]['id']}/close", tenant.accounting_key
    )
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "not_collective"
    assert api.inbox(terminal)[0]["state"] == "queued"


def test_leaving_drops_the_part_and_the_last_one_out_requeues(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    join(api, count.a, count.instance_id)
    join(api, count.b, count.instance_id)
    left = api.post(f"{DOCS}/{count.instance_id}/release", count.a.bearer)
    assert left.status_code == 200, left.json
    assert left.json["state"] == "claimed"
    by_login = {p["login"]: p for p in parts(api, tenant, count.document_id)}
    assert list(by_login) == ["petrov"]
    # The part that left is gone with its token.
    lost = submit(
        api, count.a, count.instance_id, [{"line_id": "1", "qty": 1}], close=False, expect=409
    )
    assert lost.json["error"]["code"] == "claim_lost"

    left = api.post(f"{DOCS}/{count.instance_id}/release", count.b.bearer)
    assert left.json["state"] == "queued"
    assert parts(api, tenant, count.document_id) == []
    assert [d["state"] for d in api.inbox(count.c)] == ["queued"]
    assert kinds(document(api, tenant, count.document_id)).count("left") == 2


def test_leaving_keeps_the_document_in_progress_when_a_part_is_submitted(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    join(api, count.a, count.instance_id)
    submit(api, count.a, count.instance_id, [{"line_id": "1", "qty": 1}], close=False)
    join(api, count.b, count.instance_id)
    left = api.post(f"{DOCS}/{count.instance_id}/release", count.b.bearer)
    assert left.json["state"] == "claimed"
    closed = api.post(f"/api/v1/documents/{count.document_id}/close", tenant.accounting_key)
    assert closed.status_code == 200, closed.json
    (result,) = results(api, tenant)
    assert result["lines"][0]["actual_qty"] == 1


def test_a_submitted_part_cannot_be_changed_but_a_new_part_can_be_joined(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    first = join(api, count.a, count.instance_id).json["part_id"]
    submit(api, count.a, count.instance_id, [{"line_id": "1", "qty": 1}], close=False)
    refused = submit(
        api, count.a, count.instance_id, [{"line_id": "1", "qty": 2}], close=False, expect=409
    )
    assert refused.json["error"]["code"] == "part_submitted"
    second = join(api, count.a, count.instance_id).json["part_id"]
    assert second != first
    submit(api, count.a, count.instance_id, [{"line_id": "1", "qty": 2}], close=True)
    (result,) = results(api, tenant)
    assert result["lines"][0]["actual_qty"] == 3
    assert [a["part_id"] for a in result["lines"][0]["actual"]] == [first, second]


def test_a_completed_collective_document_takes_no_more_work(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    join(api, count.a, count.instance_id)
    submit(api, count.a, count.instance_id, [{"line_id": "1", "qty": 1}], close=True)
    refused = join(api, count.b, count.instance_id, expect=409)
    assert refused.json["error"]["code"] == "already_completed"
    late = submit(
        api, count.a, count.instance_id, [{"line_id": "1", "qty": 1}], close=True, expect=409
    )
    assert late.json["error"]["code"] == "already_completed"


def test_unknown_line_in_a_part_is_refused_at_once(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    join(api, count.a, count.instance_id)
    refused = submit(
        api, count.a, count.instance_id, [{"line_id": "99", "qty": 1}], close=False, expect=422
    )
    assert refused.json["error"]["code"] == "unknown_line"
    assert parts(api, tenant, count.document_id)[0]["state"] == "open"


def test_keep_merged_document_false_gives_one_result_per_part(
    api: Client, tenant: TenantKeys
) -> None:
    patch_process(api, tenant, "stock-count", {"keep_merged_document": False})
    a, b = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    document_id, instance_id = push_count(api, tenant, ["ivanov", "petrov"])
    join(api, a, instance_id)
    join(api, b, instance_id)
    submit(api, a, instance_id, [{"line_id": "1", "qty": 4}], close=False, header={"comment": "A"})
    done = submit(
        api,
        b,
        instance_id,
        [{"line_id": "1", "qty": 5}, {"line_id": "2", "qty": 6}],
        close=True,
        header={"comment": "B"},
    ).json
    assert done["state"] == "completed"
    assert done["result_id"] is None
    assert len(done["result_ids"]) == 2

    feed = results(api, tenant)
    assert sorted(r["id"] for r in feed) == sorted(done["result_ids"])
    by_part = {r["header"]["comment"]: r for r in feed}
    assert [line["actual_qty"] for line in by_part["A"]["lines"]] == [4, 0]
    assert by_part["A"]["lines"][0]["actual"] == [{"qty": 4}]
    assert by_part["A"]["completed_by"]["login"] == "petrov"
    assert [line["actual_qty"] for line in by_part["B"]["lines"]] == [5, 6]
    assert sorted(document(api, tenant, document_id)["result_ids"]) == sorted(feed_ids(feed))

    # The instance is processed only when every part's result is acknowledged.
    ack = api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [by_part["A"]["id"]]})
    assert ack.status_code == 200
    assert document(api, tenant, document_id)["state"] == "completed"
    api.post("/api/v1/results/ack", tenant.accounting_key, {"ids": [by_part["B"]["id"]]})
    assert document(api, tenant, document_id)["state"] == "processed"


def feed_ids(feed: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in feed]


def test_quantity_control_is_checked_on_the_merged_totals(api: Client, tenant: TenantKeys) -> None:
    patch_process(api, tenant, "stock-count", {"quantity_control": "exact"})
    a, b = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    document_id, instance_id = push_count(api, tenant, ["ivanov", "petrov"])
    join(api, a, instance_id)
    join(api, b, instance_id)
    # Each part alone is short of the book quantities (10 and 6); together they are exact.
    submit(
        api, a, instance_id, [{"line_id": "1", "qty": 7}, {"line_id": "2", "qty": 2}], close=False
    )
    done = submit(
        api, b, instance_id, [{"line_id": "1", "qty": 3}, {"line_id": "2", "qty": 4}], close=True
    )
    assert done.json["state"] == "completed"
    (result,) = results(api, tenant)
    assert [line["actual_qty"] for line in result["lines"]] == [10, 6]
    assert document(api, tenant, document_id)["state"] == "completed"


def test_quantity_control_refuses_merged_totals_over_and_stores_nothing(
    api: Client, tenant: TenantKeys
) -> None:
    patch_process(api, tenant, "stock-count", {"quantity_control": "exact"})
    a, b = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    document_id, instance_id = push_count(api, tenant, ["ivanov", "petrov"])
    join(api, a, instance_id)
    join(api, b, instance_id)
    # Each part alone is within the book quantities; together line 1 is over and line 2 short.
    submit(
        api, a, instance_id, [{"line_id": "1", "qty": 6}, {"line_id": "2", "qty": 2}], close=False
    )
    before = document(api, tenant, document_id)
    refused = submit(
        api,
        b,
        instance_id,
        [{"line_id": "1", "qty": 6}, {"product_id": "p-009", "qty": 1}],
        close=True,
        expect=422,
    )
    error = refused.json["error"]
    assert error["code"] == "quantity_control"
    assert error["details"]["mode"] == "exact"
    assert [(line["line_id"], line["problem"]) for line in error["details"]["lines"]] == [
        ("1", "excess"),
        ("2", "shortage"),
        (None, "undeclared"),
    ]
    line1 = error["details"]["lines"][0]
    assert (line1["declared_qty"], line1["actual_qty"]) == (10, 12)
    after = document(api, tenant, document_id)
    assert after["timeline"] == before["timeline"]
    assert {p["login"]: p["state"] for p in after["instances"][0]["parts"]} == {
        "ivanov": "submitted",
        "petrov": "open",
    }
    assert results(api, tenant) == []


def test_inbox_shows_the_document_in_progress_to_other_addressees(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    stranger = operator(api, tenant, "kuznetsov")
    join(api, count.a, count.instance_id)
    mine = {d["id"]: d for d in api.inbox(count.a)}[count.instance_id]
    assert (mine["state"], mine["claimed_by_me"], mine["collective"]) == ("claimed", True, True)
    theirs = {d["id"]: d for d in api.inbox(count.b)}[count.instance_id]
    assert (theirs["state"], theirs["claimed_by_me"], theirs["collective"]) == (
        "claimed",
        False,
        True,
    )
    assert api.inbox(stranger) == []
    shown = api.get(f"{DOCS}/{count.instance_id}", count.b.bearer)
    assert shown.status_code == 200
    assert shown.json["claimed_by_me"] is False
    assert [p["login"] for p in shown.json["parts"]] == ["ivanov"]
    assert api.get(f"{DOCS}/{count.instance_id}", stranger.bearer).status_code == 404
    # A second operator can still join while the first is at work.
    join(api, count.b, count.instance_id)
    assert {d["id"]: d for d in api.inbox(count.b)}[count.instance_id]["claimed_by_me"] is True

    submit(api, count.a, count.instance_id, [{"line_id": "1", "qty": 1}], close=False)
    submit(api, count.b, count.instance_id, [{"line_id": "1", "qty": 1}], close=True)
    for terminal in (count.a, count.b, count.c):
        assert count.instance_id not in {d["id"] for d in api.inbox(terminal)}


def test_inbox_etag_changes_for_the_others_when_someone_joins(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    tag = api.get(DOCS, count.b.bearer).headers["ETag"]
    assert api.get(DOCS, count.b.bearer).headers["ETag"] == tag
    join(api, count.a, count.instance_id)
    after = api.get(DOCS, count.b.bearer)
    assert after.status_code == 200
    assert after.headers["ETag"] != tag
    assert after.json["documents"][0]["state"] == "claimed"


def test_the_same_part_submission_twice_is_applied_once(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    join(api, count.a, count.instance_id)
    submission_id = uuid.uuid4().hex
    lines = [{"line_id": "1", "qty": 4, "serial": "SN-1"}]
    first = submit(api, count.a, count.instance_id, lines, close=False, submission_id=submission_id)
    again = submit(api, count.a, count.instance_id, lines, close=False, submission_id=submission_id)
    assert again.json == first.json
    (part,) = parts(api, tenant, count.document_id)
    assert part["state"] == "submitted"
    assert kinds(document(api, tenant, count.document_id)).count("part_submitted") == 1

    changed = submit(
        api,
        count.a,
        count.instance_id,
        [{"line_id": "1", "qty": 5}],
        close=False,
        submission_id=submission_id,
        expect=422,
    )
    assert changed.json["error"]["code"] == "idempotency_key_reused"

    closing_id = uuid.uuid4().hex
    join(api, count.b, count.instance_id)
    done = submit(
        api,
        count.b,
        count.instance_id,
        [{"line_id": "1", "qty": 1}],
        close=True,
        submission_id=closing_id,
    )
    repeat = submit(
        api,
        count.b,
        count.instance_id,
        [{"line_id": "1", "qty": 1}],
        close=True,
        submission_id=closing_id,
    )
    assert repeat.json == done.json
    (result,) = results(api, tenant)
    assert result["lines"][0]["actual_qty"] == 5


def test_batch_upload_of_parts(api: Client, tenant: TenantKeys, count: Count) -> None:
    join(api, count.a, count.instance_id)
    batch = api.post(
        "/api/v1/terminal/completions",
        count.a.bearer,
        {
            "completions": [
                {
                    "id": count.instance_id,
                    "submission_id": uuid.uuid4().hex,
                    "claim_token": count.a.claims[count.instance_id],
                    "close": False,
                    "lines": [{"line_id": "1", "qty": 2}],
                }
            ]
        },
    )
    assert batch.status_code == 200, batch.json
    (item,) = batch.json["results"]
    assert item["status"] == 200, item
    assert item["body"]["state"] == "claimed"
    assert parts(api, tenant, count.document_id)[0]["state"] == "submitted"


def test_per_part_results_name_their_part_in_the_feed(api: Client, tenant: TenantKeys) -> None:
    patch_process(api, tenant, "stock-count", {"keep_merged_document": False})
    a, b = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    _document_id, instance_id = push_count(api, tenant, ["ivanov", "petrov"])
    part_a = join(api, a, instance_id).json["part_id"]
    part_b = join(api, b, instance_id).json["part_id"]
    submit(api, a, instance_id, [{"line_id": "1", "qty": 4}], close=False)
    done = submit(api, b, instance_id, [{"line_id": "1", "qty": 5}], close=True).json
    feed = results(api, tenant)
    assert {r["part_id"] for r in feed} == {part_a, part_b}
    one = api.get(f"/api/v1/results/{done['result_ids'][0]}", tenant.accounting_key).json
    assert one["part_id"] in (part_a, part_b)


def test_joined_participants_see_the_cancellation(
    api: Client, tenant: TenantKeys, count: Count
) -> None:
    # SPEC §7: "the terminal's next sync shows the document as cancelled" (a single holder
    # keeps it with state "cancelled" until it releases it).
    join(api, count.a, count.instance_id)
    cancelled = api.post(f"/api/v1/documents/{count.document_id}/cancel", tenant.accounting_key)
    assert cancelled.status_code == 200
    late = submit(
        api, count.a, count.instance_id, [{"line_id": "1", "qty": 1}], close=False, expect=409
    )
    assert late.json["error"]["code"] == "document_cancelled"
    states = {d["id"]: d["state"] for d in api.inbox(count.a)}
    assert states.get(count.instance_id) == "cancelled"

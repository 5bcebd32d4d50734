"""Stranded work: reroute, admin release, revoked devices, claim limits; tenant isolation."""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from flask import Flask
from sqlalchemy import select, update

from relay.documents import lifecycle
from relay.extensions import db
from relay.models import Instance
from relay.timeutil import utcnow
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
T = TypeVar("T")


def in_app(app: Flask, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a short application context of its own and commit."""
    with app.app_context():
        try:
            out = fn()
            db.session.commit()
            return out
        finally:
            db.session.remove()


def push_to(
    api: Client, tenant: TenantKeys, terminal: Terminal, ext: str = "ЗП-1"
) -> tuple[str, str]:
    pushed = api.push(tenant, "purchase-receipt", [doc(ext)], target={"pin": terminal.pin})
    (out,) = pushed.json["documents"]
    return out["id"], out["instances"][0]["id"]


def reroute(api: Client, key: str, document_id: str, target: dict[str, Any], **extra: Any) -> Any:
    return api.post(f"/api/v1/documents/{document_id}/reroute", key, {"target": target, **extra})


def etag(api: Client, terminal: Terminal) -> str:
    return str(api.get(DOCS, terminal.bearer).headers["ETag"])


@pytest.fixture
def two(api: Client, tenant: TenantKeys) -> tuple[Terminal, Terminal]:
    return api.enroll(tenant, name="Склад-1"), api.enroll(tenant, name="Склад-2")


# -- reroute -----------------------------------------------------------------------------------


def test_reroute_a_queued_document(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    old, new = two
    document_id, instance_id = push_to(api, tenant, old)
    tags = etag(api, old), etag(api, new)
    answer = reroute(api, tenant.accounting_key, document_id, {"pin": new.pin})
    assert answer.status_code == 200, answer.json
    (instance,) = answer.json["instances"]
    assert instance["id"] == instance_id
    assert instance["state"] == "queued"
    assert instance["addressee"]["pin"] == new.pin
    assert api.inbox(old) == []
    assert [d["id"] for d in api.inbox(new)] == [instance_id]
    assert etag(api, old) != tags[0]
    assert etag(api, new) != tags[1]
    assert api.get(f"{DOCS}/{instance_id}", old.bearer).status_code == 404

    event = answer.json["timeline"][-1]
    assert event["kind"] == "rerouted"
    assert event["actor"] == "accounting"
    assert [a["pin"] for a in event["details"]["previous"]] == [old.pin]
    assert [a["pin"] for a in event["details"]["addressees"]] == [new.pin]
    api.claim(new, instance_id)
    api.complete(new, instance_id, [{"line_id": "1", "qty": 1}])
    assert results(api, tenant)[0]["completed_by"]["pin"] == new.pin


def test_reroute_a_claimed_document(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    old, new = two
    document_id, instance_id = push_to(api, tenant, old)
    api.claim(old, instance_id)
    tag = etag(api, old)
    answer = reroute(api, tenant.accounting_key, document_id, {"device_id": new.device_id})
    assert answer.status_code == 200, answer.json
    assert answer.json["instances"][0]["state"] == "queued"
    assert answer.json["instances"][0]["holder"] is None
    assert etag(api, old) != tag
    assert api.inbox(old) == []

    late = api.complete(old, instance_id, [{"line_id": "1", "qty": 1}], expect=409)
    assert late.json["error"]["code"] == "claim_lost"
    released = api.post(f"{DOCS}/{instance_id}/release", old.bearer)
    assert released.status_code in (404, 409)
    assert api.claim(old, instance_id, expect=404).json["error"]["code"] == "document_not_found"

    api.claim(new, instance_id)
    api.complete(new, instance_id, [{"line_id": "1", "qty": 2}])
    (result,) = results(api, tenant)
    assert result["lines"][0]["actual_qty"] == 2
    assert kinds(document(api, tenant, document_id)) == [
        "pushed",
        "claimed",
        "rerouted",
        "claimed",
        "completed",
    ]


def test_reroute_by_the_admin_key_and_to_users(api: Client, tenant: TenantKeys) -> None:
    a = operator(api, tenant, "ivanov")
    b = operator(api, tenant, "petrov")
    pushed = api.push(
        tenant, "order-picking", [doc("ЗК-1", lines=stock_lines())], {"users": ["ivanov"]}
    )
    document_id = pushed.json["documents"][0]["id"]
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    api.group(tenant, "Смена-2", ["petrov"])
    answer = reroute(api, tenant.admin_key, document_id, {"groups": ["Смена-2"]})
    assert answer.status_code == 200, answer.json
    assert answer.json["instances"][0]["addressee"]["type"] == "group"
    assert api.inbox(a) == []
    assert [d["id"] for d in api.inbox(b)] == [instance_id]
    assert answer.json["timeline"][-1]["actor"] == "admin"


def test_reroute_to_an_unknown_pin_changes_nothing(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    old, _new = two
    document_id, instance_id = push_to(api, tenant, old)
    api.claim(old, instance_id)
    before = document(api, tenant, document_id)
    refused = reroute(api, tenant.accounting_key, document_id, {"pin": "98765"})
    assert refused.status_code == 404
    assert refused.json["error"]["code"] == "device_not_found"
    assert "98765" in refused.json["error"]["message"]
    assert document(api, tenant, document_id) == before
    # The holder's claim still stands.
    api.complete(old, instance_id, [{"line_id": "1", "qty": 1}])


def test_reroute_to_a_revoked_device_is_refused(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    old, gone = two
    document_id, _instance_id = push_to(api, tenant, old)
    api.post(f"/api/v1/admin/devices/{gone.device_id}/revoke", tenant.admin_key)
    refused = reroute(api, tenant.accounting_key, document_id, {"pin": gone.pin})
    assert refused.status_code == 404
    assert refused.json["error"]["code"] == "device_not_found"
    refused = reroute(api, tenant.accounting_key, document_id, {"device_id": gone.device_id})
    assert refused.status_code == 404


def test_reroute_follows_the_process_rules(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    old, _new = two
    api.user(tenant, "ivanov")
    document_id, _instance_id = push_to(api, tenant, old)
    refused = reroute(api, tenant.accounting_key, document_id, {"users": ["ivanov"]})
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "target_not_allowed"
    refused = reroute(api, tenant.accounting_key, document_id, {})
    assert refused.status_code == 422
    assert document(api, tenant, document_id)["instances"][0]["addressee"]["pin"] == old.pin


def test_reroute_of_a_completed_document_is_refused(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    old, new = two
    document_id, instance_id = push_to(api, tenant, old)
    api.claim(old, instance_id)
    api.complete(old, instance_id, [{"line_id": "1", "qty": 1}])
    refused = reroute(api, tenant.accounting_key, document_id, {"pin": new.pin})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "document_not_open"
    cancelled_id, _ = push_to(api, tenant, old, "ЗП-2")
    api.post(f"/api/v1/documents/{cancelled_id}/cancel", tenant.accounting_key)
    refused = reroute(api, tenant.accounting_key, cancelled_id, {"pin": new.pin})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "document_not_open"


def test_per_user_copies_need_an_instance_id(api: Client, tenant: TenantKeys) -> None:
    a, b = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    c = operator(api, tenant, "sidorov")
    pushed = api.push(tenant, "price-check", [doc("ЦН-1")], {"users": ["ivanov", "petrov"]})
    document_id = pushed.json["documents"][0]["id"]
    copies = {i["addressee"]["login"]: i["id"] for i in pushed.json["documents"][0]["instances"]}
    refused = reroute(api, tenant.accounting_key, document_id, {"users": ["sidorov"]})
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "instance_required"
    assert sorted(refused.json["error"]["details"]["instance_ids"]) == sorted(copies.values())

    answer = reroute(
        api,
        tenant.accounting_key,
        document_id,
        {"users": ["sidorov"]},
        instance_id=copies["ivanov"],
    )
    assert answer.status_code == 200, answer.json
    assert api.inbox(a) == []
    assert [d["id"] for d in api.inbox(b)] == [copies["petrov"]]
    assert [d["id"] for d in api.inbox(c)] == [copies["ivanov"]]

    # One instance cannot become several copies.
    refused = reroute(
        api,
        tenant.accounting_key,
        document_id,
        {"users": ["ivanov", "sidorov"]},
        instance_id=copies["petrov"],
    )
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "target_not_allowed"
    unknown = reroute(
        api,
        tenant.accounting_key,
        document_id,
        {"users": ["sidorov"]},
        instance_id=str(uuid.uuid4()),
    )
    assert unknown.status_code == 404
    assert unknown.json["error"]["code"] == "instance_not_found"


def test_reroute_of_a_collective_document_keeps_submitted_parts(
    api: Client, tenant: TenantKeys
) -> None:
    a, b = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    c = operator(api, tenant, "sidorov")
    pushed = api.push(
        tenant, "stock-count", [doc("ПТ-1", lines=stock_lines())], {"users": ["ivanov", "petrov"]}
    )
    document_id = pushed.json["documents"][0]["id"]
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    join(api, a, instance_id)
    join(api, b, instance_id)
    api.complete(a, instance_id, [{"line_id": "1", "qty": 4}], close=False)
    answer = reroute(api, tenant.accounting_key, document_id, {"users": ["sidorov"]})
    assert answer.status_code == 200, answer.json
    (instance,) = answer.json["instances"]
    assert instance["state"] == "claimed"
    assert [(p["login"], p["state"]) for p in instance["parts"]] == [("ivanov", "submitted")]
    assert len(answer.json["timeline"][-1]["details"]["dropped_parts"]) == 1
    late = api.complete(b, instance_id, [{"line_id": "1", "qty": 1}], expect=409, close=True)
    assert late.json["error"]["code"] == "claim_lost"
    assert [d["state"] for d in api.inbox(c)] == ["claimed"]
    join(api, c, instance_id)
    api.complete(c, instance_id, [{"line_id": "1", "qty": 5}], close=True)
    (result,) = results(api, tenant)
    assert result["lines"][0]["actual_qty"] == 9


# -- admin release -----------------------------------------------------------------------------


def test_admin_releases_a_claim(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    holder, _other = two
    document_id, instance_id = push_to(api, tenant, holder)
    api.claim(holder, instance_id)
    release = f"/api/v1/documents/{document_id}/release"
    forbidden = api.post(release, tenant.accounting_key)
    assert forbidden.status_code == 403
    assert document(api, tenant, document_id)["instances"][0]["state"] == "claimed"

    answer = api.post(release, tenant.admin_key)
    assert answer.status_code == 200, answer.json
    assert answer.json["instances"][0]["state"] == "queued"
    event = answer.json["timeline"][-1]
    assert (event["kind"], event["actor"]) == ("released", "admin")
    assert event["details"]["holder"]["pin"] == holder.pin
    assert [d["state"] for d in api.inbox(holder)] == ["queued"]

    again = api.post(release, tenant.admin_key)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "not_claimed"
    # The holder claims afresh and finishes.
    old_token = holder.claims[instance_id]
    api.claim(holder, instance_id)
    assert holder.claims[instance_id] != old_token
    api.complete(holder, instance_id, [{"line_id": "1", "qty": 1}])


def test_the_old_holder_after_an_admin_release_gets_claim_lost(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    holder, _other = two
    document_id, instance_id = push_to(api, tenant, holder)
    api.claim(holder, instance_id)
    api.post(f"/api/v1/documents/{document_id}/release", tenant.admin_key)
    late = api.complete(holder, instance_id, [{"line_id": "1", "qty": 1}], expect=409)
    assert late.json["error"]["code"] == "claim_lost"


def test_admin_release_drops_open_collective_parts(api: Client, tenant: TenantKeys) -> None:
    a, b = operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")
    pushed = api.push(
        tenant, "stock-count", [doc("ПТ-1", lines=stock_lines())], {"users": ["ivanov", "petrov"]}
    )
    document_id = pushed.json["documents"][0]["id"]
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    join(api, a, instance_id)
    join(api, b, instance_id)
    api.complete(a, instance_id, [{"line_id": "1", "qty": 4}], close=False)
    answer = api.post(f"/api/v1/documents/{document_id}/release", tenant.admin_key)
    assert answer.status_code == 200, answer.json
    (instance,) = answer.json["instances"]
    assert instance["state"] == "claimed"
    assert [(p["login"], p["state"]) for p in instance["parts"]] == [("ivanov", "submitted")]
    late = api.complete(b, instance_id, [{"line_id": "1", "qty": 1}], expect=409, close=False)
    assert late.json["error"]["code"] == "claim_lost"
    closed = api.post(f"/api/v1/documents/{document_id}/close", tenant.accounting_key)
    assert closed.status_code == 200, closed.json


# -- revoked devices ---------------------------------------------------------------------------


def test_revoke_lists_the_unfinished_documents(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    gone, spare = two
    held_doc, held = push_to(api, tenant, gone, "ЗП-1")
    queued_doc, queued = push_to(api, tenant, gone, "ЗП-2")
    done_doc, done = push_to(api, tenant, gone, "ЗП-3")
    push_to(api, tenant, spare, "ЗП-4")
    api.claim(gone, held)
    api.claim(gone, done)
    api.complete(gone, done, [{"line_id": "1", "qty": 1}])

    answer = api.post(f"/api/v1/admin/devices/{gone.device_id}/revoke", tenant.admin_key)
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "revoked"
    unfinished = sorted(answer.json["unfinished"], key=lambda u: u["external_id"])
    assert unfinished == [
        {
            "instance_id": held,
            "document_id": held_doc,
            "external_id": "ЗП-1",
            "business_process": "purchase-receipt",
            "state": "claimed",
        },
        {
            "instance_id": queued,
            "document_id": queued_doc,
            "external_id": "ЗП-2",
            "business_process": "purchase-receipt",
            "state": "queued",
        },
    ]
    assert api.get(DOCS, gone.token).status_code == 401
    # Each can be sent on from the list.
    for item in unfinished:
        moved = reroute(api, tenant.accounting_key, item["document_id"], {"pin": spare.pin})
        assert moved.status_code == 200, moved.json
    assert sorted(d["external_id"] for d in api.inbox(spare)) == ["ЗП-1", "ЗП-2", "ЗП-4"]
    assert done_doc not in {d["document_id"] for d in api.inbox(spare)}


def test_revoke_lists_documents_held_by_an_operator_on_the_device(
    api: Client, tenant: TenantKeys
) -> None:
    a = operator(api, tenant, "ivanov")
    pushed = api.push(
        tenant, "order-picking", [doc("ЗК-1", lines=stock_lines())], {"users": ["ivanov"]}
    )
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    api.claim(a, instance_id)
    answer = api.post(f"/api/v1/admin/devices/{a.device_id}/revoke", tenant.admin_key)
    assert [u["instance_id"] for u in answer.json["unfinished"]] == [instance_id]
    assert api.get(DOCS, a.bearer).status_code == 401


def test_revoke_lists_collective_documents_the_device_joined(
    api: Client, tenant: TenantKeys
) -> None:
    a = operator(api, tenant, "ivanov")
    operator(api, tenant, "petrov")
    pushed = api.push(
        tenant, "stock-count", [doc("ПТ-1", lines=stock_lines())], {"users": ["ivanov", "petrov"]}
    )
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    join(api, a, instance_id)
    answer = api.post(f"/api/v1/admin/devices/{a.device_id}/revoke", tenant.admin_key)
    assert [u["instance_id"] for u in answer.json["unfinished"]] == [instance_id]


# -- claim limits ------------------------------------------------------------------------------


def move_expiry_back(app: Flask, instance_id: str, by: timedelta = timedelta(minutes=1)) -> None:
    """Pretend the claim limit ran out: its expiry is set into the past."""

    def run() -> None:
        db.session.execute(
            update(Instance)
            .where(Instance.id == uuid.UUID(instance_id))
            .values(claim_expires_at=utcnow() - by)
        )

    in_app(app, run)


def expires_at(api: Client, tenant: TenantKeys, document_id: str) -> datetime | None:
    raw = document(api, tenant, document_id)["instances"][0]["claim_expires_at"]
    return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None


@pytest.fixture
def pickers(api: Client, tenant: TenantKeys) -> tuple[Terminal, Terminal]:
    patch_process(api, tenant, "order-picking", {"claim_limit_minutes": 30})
    return operator(api, tenant, "ivanov"), operator(api, tenant, "petrov")


def push_order(api: Client, tenant: TenantKeys, ext: str = "ЗК-1") -> tuple[str, str]:
    pushed = api.push(
        tenant, "order-picking", [doc(ext, lines=stock_lines())], {"users": ["ivanov", "petrov"]}
    )
    return pushed.json["documents"][0]["id"], pushed.json["documents"][0]["instances"][0]["id"]


EXACT = [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 6}]


def test_no_claim_limit_means_no_expiry(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    holder, _ = two
    document_id, instance_id = push_to(api, tenant, holder)
    api.claim(holder, instance_id)
    assert expires_at(api, tenant, document_id) is None


def test_a_claim_carries_its_expiry(
    api: Client, tenant: TenantKeys, pickers: tuple[Terminal, Terminal]
) -> None:
    a, _b = pickers
    document_id, instance_id = push_order(api, tenant)
    before = utcnow()
    api.claim(a, instance_id)
    expiry = expires_at(api, tenant, document_id)
    assert expiry is not None
    # The wire has milliseconds: allow for the truncation.
    assert before + timedelta(minutes=30) - timedelta(milliseconds=1) <= expiry
    assert expiry <= utcnow() + timedelta(minutes=30)
    # Within the limit the claim holds as ever.
    api.complete(a, instance_id, EXACT)


def test_completing_past_the_limit_is_refused(
    app: Flask, api: Client, tenant: TenantKeys, pickers: tuple[Terminal, Terminal]
) -> None:
    a, _b = pickers
    document_id, instance_id = push_order(api, tenant)
    api.claim(a, instance_id)
    move_expiry_back(app, instance_id)
    late = api.complete(a, instance_id, EXACT, expect=409)
    assert late.json["error"]["code"] == "claim_expired"
    assert "30-minute" in late.json["error"]["message"]
    assert results(api, tenant) == []
    assert document(api, tenant, document_id)["instances"][0]["state"] == "claimed"
    # The holder may claim again (a fresh limit) and finish.
    api.claim(a, instance_id)
    renewed = expires_at(api, tenant, document_id)
    assert renewed is not None
    assert renewed > utcnow() + timedelta(minutes=29)
    api.complete(a, instance_id, EXACT)
    assert kinds(document(api, tenant, document_id)) == [
        "pushed",
        "claimed",
        "claim_expired",
        "claimed",
        "completed",
    ]


def test_another_terminal_takes_over_an_expired_claim(
    app: Flask, api: Client, tenant: TenantKeys, pickers: tuple[Terminal, Terminal]
) -> None:
    a, b = pickers
    document_id, instance_id = push_order(api, tenant)
    api.claim(a, instance_id)
    held = api.claim(b, instance_id, expect=409)
    assert held.json["error"]["code"] == "already_claimed"
    move_expiry_back(app, instance_id)
    api.claim(b, instance_id)
    holder = document(api, tenant, document_id)["instances"][0]["holder"]
    assert holder["login"] == "petrov"
    late = api.complete(a, instance_id, EXACT, expect=409)
    assert late.json["error"]["code"] == "claim_lost"
    api.complete(b, instance_id, EXACT)
    assert results(api, tenant)[0]["completed_by"]["login"] == "petrov"


def test_expire_claims_requeues(
    app: Flask, api: Client, tenant: TenantKeys, pickers: tuple[Terminal, Terminal]
) -> None:
    a, b = pickers
    document_id, instance_id = push_order(api, tenant)
    fresh_doc, fresh = push_order(api, tenant, "ЗК-2")
    api.claim(a, instance_id)
    api.claim(a, fresh)
    assert [d["id"] for d in api.inbox(b)] == []
    move_expiry_back(app, instance_id)
    tag = etag(api, b)

    assert in_app(app, lambda: lifecycle.expire_claims(utcnow())) == 1
    assert in_app(app, lambda: lifecycle.expire_claims(utcnow())) == 0

    doc_out = document(api, tenant, document_id)
    (instance,) = doc_out["instances"]
    assert instance["state"] == "queued"
    assert instance["holder"] is None
    assert instance["claim_expires_at"] is None
    event = doc_out["timeline"][-1]
    assert (event["kind"], event["actor"]) == ("claim_expired", "system")
    assert event["details"]["holder"]["login"] == "ivanov"
    assert etag(api, b) != tag
    assert [d["id"] for d in api.inbox(b)] == [instance_id]
    # The other claim, within its limit, is untouched.
    assert document(api, tenant, fresh_doc)["instances"][0]["state"] == "claimed"

    api.claim(b, instance_id)
    api.complete(b, instance_id, EXACT)


def test_the_old_holder_after_expiry_hears_why(
    app: Flask, api: Client, tenant: TenantKeys, pickers: tuple[Terminal, Terminal]
) -> None:
    a, _b = pickers
    _document_id, instance_id = push_order(api, tenant)
    api.claim(a, instance_id)
    move_expiry_back(app, instance_id)
    in_app(app, lambda: lifecycle.expire_claims(utcnow()))
    late = api.complete(a, instance_id, EXACT, expect=409)
    assert late.json["error"]["code"] in ("claim_expired", "claim_lost")


def test_expire_claims_reaches_every_tenant_and_honours_the_batch_limit(
    app: Flask,
    api: Client,
    tenant: TenantKeys,
    other_tenant: TenantKeys,
    pickers: tuple[Terminal, Terminal],
) -> None:
    a, _b = pickers
    patch_process(api, other_tenant, "order-picking", {"claim_limit_minutes": 5})
    api.user(other_tenant, "ivanov")
    far = api.login(api.enroll(other_tenant), "ivanov")
    ids = [push_order(api, tenant, f"ЗК-{n}")[1] for n in range(3)]
    pushed = api.push(
        other_tenant, "order-picking", [doc("ЗК-9", lines=stock_lines())], {"users": ["ivanov"]}
    )
    ids.append(pushed.json["documents"][0]["instances"][0]["id"])
    for instance_id in ids[:3]:
        api.claim(a, instance_id)
    api.claim(far, ids[3])
    for instance_id in ids:
        move_expiry_back(app, instance_id)
    assert in_app(app, lambda: lifecycle.expire_claims(utcnow(), limit=2)) == 2
    assert in_app(app, lambda: lifecycle.expire_claims(utcnow(), limit=2)) == 2

    def states() -> list[str]:
        return list(
            db.session.scalars(
                select(Instance.state).where(Instance.id.in_([uuid.UUID(i) for i in ids]))
            )
        )

    assert in_app(app, states) == ["queued"] * 4


def test_an_expired_claim_returns_to_the_queue_without_anyone_claiming(
    app: Flask, api: Client, tenant: TenantKeys, pickers: tuple[Terminal, Terminal]
) -> None:
    from relay.cli import cli

    a, b = pickers
    _document_id, instance_id = push_order(api, tenant)
    api.claim(a, instance_id)
    move_expiry_back(app, instance_id)
    assert api.inbox(b) == []
    worker = app.test_cli_runner().invoke(cli, ["worker", "--once"])
    assert worker.exit_code == 0, worker.output
    assert [d["id"] for d in api.inbox(b)] == [instance_id]


def test_the_claim_limit_is_validated(api: Client, tenant: TenantKeys) -> None:
    for bad in (0, -5, "30", 60 * 24 * 31):
        refused = patch_process(api, tenant, "order-picking", {"claim_limit_minutes": bad}, 422)
        assert "claim_limit_minutes" in refused.json["error"]["details"]["fields"]
    assert (
        patch_process(api, tenant, "order-picking", {"claim_limit_minutes": None}).json[
            "claim_limit_minutes"
        ]
        is None
    )


# -- tenants -----------------------------------------------------------------------------------


def test_another_tenant_cannot_touch_the_document(
    api: Client,
    tenant: TenantKeys,
    other_tenant: TenantKeys,
    two: tuple[Terminal, Terminal],
) -> None:
    holder, spare = two
    theirs = api.enroll(other_tenant)
    document_id, instance_id = push_to(api, tenant, holder)
    api.claim(holder, instance_id)
    before = document(api, tenant, document_id)
    attempts = [
        ("reroute", other_tenant.accounting_key, {"target": {"pin": theirs.pin}}),
        ("reroute", other_tenant.admin_key, {"target": {"pin": spare.pin}}),
        ("release", other_tenant.admin_key, {}),
        ("close", other_tenant.accounting_key, {}),
        ("cancel", other_tenant.accounting_key, None),
    ]
    for action, key, body in attempts:
        answer = api.post(f"/api/v1/documents/{document_id}/{action}", key, body)
        assert answer.status_code == 404, (action, answer.json)
        assert answer.json["error"]["code"] == "document_not_found"
    assert document(api, tenant, document_id) == before
    revoke = api.post(f"/api/v1/admin/devices/{holder.device_id}/revoke", other_tenant.admin_key)
    assert revoke.status_code == 404
    api.complete(holder, instance_id, [{"line_id": "1", "qty": 1}])


def test_another_tenants_terminal_cannot_join(
    api: Client, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    operator(api, tenant, "ivanov")
    stranger = operator(api, other_tenant, "ivanov")
    pushed = api.push(
        tenant, "stock-count", [doc("ПТ-1", lines=stock_lines())], {"users": ["ivanov"]}
    )
    instance_id = pushed.json["documents"][0]["instances"][0]["id"]
    assert join(api, stranger, instance_id, expect=404).json["error"]["code"] == (
        "document_not_found"
    )
    assert api.post(f"{DOCS}/{instance_id}/release", stranger.bearer).status_code == 404


def test_an_unchanged_inbox_answers_304(
    api: Client, tenant: TenantKeys, two: tuple[Terminal, Terminal]
) -> None:
    old, _new = two
    push_to(api, tenant, old)
    tag = etag(api, old)
    answer = api.get(DOCS, old.bearer, headers={"If-None-Match": tag})
    assert answer.status_code == 304

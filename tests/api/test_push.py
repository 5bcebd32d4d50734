"""POST /api/v1/documents: routing (SPEC §6 rules 1-6), re-push, limits, refused fields."""

import re
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.helpers import Client, TenantKeys, Terminal, assert_error, doc, list_documents

PROCESSES = "/api/v1/admin/business-processes"


def lines_of(*qtys: int) -> list[dict[str, Any]]:
    return [
        {"line_id": str(i), "product_id": f"p-{i:03}", "declared_qty": q}
        for i, q in enumerate(qtys, start=1)
    ]


def the_document(response: Any) -> dict[str, Any]:
    documents = response.json["documents"]
    assert len(documents) == 1, documents
    return dict(documents[0])


def set_assignees(
    api: Client, tenant: TenantKeys, users: list[str], groups: list[str], key: str = "order-picking"
) -> None:
    response = api.patch(
        f"{PROCESSES}/{key}", tenant.admin_key, {"assignees": {"users": users, "groups": groups}}
    )
    assert response.status_code == 200, response.json


def get_document(api: Client, tenant: TenantKeys, document_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/documents/{document_id}", tenant.accounting_key)
    assert response.status_code == 200, response.json
    return dict(response.json)


# -- Appendix A: the answer to a push ----------------------------------------------------------


def test_push_to_pin_answers_201_with_appendix_a_shape(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant, name="Склад-1")
    response = api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    assert response.status_code == 201
    document = the_document(response)
    assert document["external_id"] == "ЗаказПоставщику-0000-000123"
    assert document["version"] == 1
    assert document["state"] == "queued"
    assert document["status"] == "created"
    assert isinstance(document["id"], str)
    assert document["id"]
    [instance] = document["instances"]
    assert instance["state"] == "queued"
    assert instance["addressee"] == {
        "type": "device",
        "device_id": terminal.device_id,
        "pin": terminal.pin,
        "name": "Склад-1",
    }
    assert [d["id"] for d in api.inbox(terminal)] == [instance["id"]]


def test_push_to_device_id_is_the_same_as_its_pin(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.enroll(tenant, name="Склад-2")
    response = api.push(
        tenant, "purchase-receipt", [doc()], target={"device_id": terminal.device_id}
    )
    [instance] = the_document(response)["instances"]
    assert instance["addressee"]["type"] == "device"
    assert instance["addressee"]["pin"] == terminal.pin


# -- rule 1: assign_to device ------------------------------------------------------------------


def test_rule1_no_target_and_one_active_device_picks_it(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    response = api.push(tenant, "purchase-receipt", [doc()])
    [instance] = the_document(response)["instances"]
    assert instance["addressee"]["device_id"] == terminal.device_id
    assert len(api.inbox(terminal)) == 1


def test_rule1_no_target_and_no_device_is_target_required(api: Client, tenant: TenantKeys) -> None:
    response = api.push(tenant, "purchase-receipt", [doc()], expect=None)
    assert_error(response, 422, "target_required")
    assert list_documents(api, tenant) == []


def test_rule1_no_target_and_several_devices_is_target_required(
    api: Client, tenant: TenantKeys
) -> None:
    api.enroll(tenant, name="Склад-1")
    api.enroll(tenant, name="Склад-2")
    response = api.push(tenant, "purchase-receipt", [doc()], expect=None)
    assert_error(response, 422, "target_required")
    assert list_documents(api, tenant) == []


def test_rule1_revoked_device_does_not_count_as_the_sole_device(
    api: Client, tenant: TenantKeys
) -> None:
    gone = api.enroll(tenant, name="Старый")
    kept = api.enroll(tenant, name="Новый")
    revoke = api.post(f"/api/v1/admin/devices/{gone.device_id}/revoke", tenant.admin_key)
    assert revoke.status_code == 200, revoke.json
    response = api.push(tenant, "purchase-receipt", [doc()])
    assert the_document(response)["instances"][0]["addressee"]["device_id"] == kept.device_id


@pytest.mark.parametrize(
    "target", [{"users": ["ivan"]}, {"groups": ["pickers"]}, {"all": True}], ids=str
)
def test_rule1_users_groups_or_all_are_not_allowed(
    api: Client, tenant: TenantKeys, target: dict[str, Any]
) -> None:
    api.enroll(tenant)
    api.user(tenant, "ivan")
    api.group(tenant, "pickers", ["ivan"])
    response = api.push(tenant, "purchase-receipt", [doc()], target=target, expect=None)
    assert_error(response, 422, "target_not_allowed")
    assert list_documents(api, tenant) == []


# -- rule 2: fixed assignees -------------------------------------------------------------------


@pytest.fixture
def fixed(api: Client, tenant: TenantKeys) -> TenantKeys:
    """order-picking with fixed assignees: user ivan and group pickers (petr)."""
    for login in ("ivan", "petr", "olga"):
        api.user(tenant, login)
    api.group(tenant, "pickers", ["petr"])
    api.group(tenant, "loaders", ["olga"])
    set_assignees(api, tenant, ["ivan"], ["pickers"])
    return tenant


def addressee_keys(instance: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (a["type"], a.get("login") or a.get("name") or "") for a in instance["addressees"]
    )


def test_rule2_no_target_goes_to_the_fixed_assignees(api: Client, fixed: TenantKeys) -> None:
    response = api.push(fixed, "order-picking", [doc(lines=lines_of(3))])
    [instance] = the_document(response)["instances"]
    assert addressee_keys(instance) == [("group", "pickers"), ("user", "ivan")]
    # A shared instance with several addressees has no single addressee.
    assert instance["addressee"] is None


def test_rule2_a_subset_of_the_assignees_is_allowed(api: Client, fixed: TenantKeys) -> None:
    response = api.push(
        fixed, "order-picking", [doc(lines=lines_of(3))], target={"users": ["ivan"]}
    )
    [instance] = the_document(response)["instances"]
    assert instance["addressee"]["type"] == "user"
    assert instance["addressee"]["login"] == "ivan"
    response = api.push(
        fixed, "order-picking", [doc("B-2", lines=lines_of(3))], target={"groups": ["pickers"]}
    )
    [instance] = the_document(response)["instances"]
    assert instance["addressee"] == {
        "type": "group",
        "group_id": instance["addressee"]["group_id"],
        "name": "pickers",
    }


def test_rule2_any_device_is_allowed(api: Client, fixed: TenantKeys) -> None:
    terminal = api.enroll(fixed)
    response = api.push(
        fixed, "order-picking", [doc(lines=lines_of(3))], target={"pin": terminal.pin}
    )
    [instance] = the_document(response)["instances"]
    assert instance["addressee"]["pin"] == terminal.pin


@pytest.mark.parametrize(
    "target",
    [{"users": ["olga"]}, {"groups": ["loaders"]}, {"users": ["ivan", "olga"]}, {"all": True}],
    ids=str,
)
def test_rule2_anyone_else_is_not_allowed(
    api: Client, fixed: TenantKeys, target: dict[str, Any]
) -> None:
    response = api.push(
        fixed, "order-picking", [doc(lines=lines_of(3))], target=target, expect=None
    )
    assert_error(response, 422, "target_not_allowed")
    assert list_documents(api, fixed) == []


def test_rule2_assignees_set_with_put_work_the_same(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "ivan")
    api.user(tenant, "olga")
    current = api.get(f"{PROCESSES}/price-check", tenant.admin_key).json
    body = {**current, "assignees": {"users": ["ivan"], "groups": []}}
    response = api.put(f"{PROCESSES}/price-check", tenant.admin_key, body)
    assert response.status_code == 200, response.json
    pushed = api.push(tenant, "price-check", [doc(lines=[{"product_id": "p-1"}])])
    [instance] = the_document(pushed)["instances"]
    assert instance["addressee"]["login"] == "ivan"
    refused = api.push(tenant, "price-check", [doc("B-2")], target={"users": ["olga"]}, expect=None)
    assert_error(refused, 422, "target_not_allowed")


# -- rule 3: users without fixed assignees -----------------------------------------------------


def test_rule3_no_target_is_target_required(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "ivan")
    response = api.push(tenant, "order-picking", [doc(lines=lines_of(3))], expect=None)
    assert_error(response, 422, "target_required")
    assert list_documents(api, tenant) == []


def test_rule3_device_users_groups_and_all_are_each_allowed(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant, name="ТСД-7")
    api.user(tenant, "ivan", name="Иван Петров")
    api.user(tenant, "petr")
    api.group(tenant, "pickers", ["petr"])

    by_pin = api.push(tenant, "order-picking", [doc("A-1")], target={"pin": terminal.pin})
    assert the_document(by_pin)["instances"][0]["addressee"] == {
        "type": "device",
        "device_id": terminal.device_id,
        "pin": terminal.pin,
        "name": "ТСД-7",
    }
    by_user = api.push(tenant, "order-picking", [doc("A-2")], target={"users": ["ivan"]})
    user = the_document(by_user)["instances"][0]["addressee"]
    assert user["type"] == "user"
    assert user["login"] == "ivan"
    assert user["name"] == "Иван Петров"
    assert user["user_id"]
    by_group = api.push(tenant, "order-picking", [doc("A-3")], target={"groups": ["pickers"]})
    group = the_document(by_group)["instances"][0]["addressee"]
    assert group["type"] == "group"
    assert group["name"] == "pickers"
    by_all = api.push(tenant, "order-picking", [doc("A-4")], target={"all": True})
    assert the_document(by_all)["instances"][0]["addressee"] == {"type": "all"}

    both = api.push(
        tenant, "order-picking", [doc("A-5")], target={"users": ["ivan"], "groups": ["pickers"]}
    )
    [shared] = the_document(both)["instances"]
    assert addressee_keys(shared) == [("group", "pickers"), ("user", "ivan")]


def test_rule3_shared_instance_reaches_group_members_and_everyone(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "ivan")
    api.user(tenant, "petr")
    api.group(tenant, "pickers", ["petr"])
    to_group = the_document(
        api.push(tenant, "order-picking", [doc("A-1")], target={"groups": ["pickers"]})
    )
    to_all = the_document(api.push(tenant, "order-picking", [doc("A-2")], target={"all": True}))
    petr = api.login(terminal, "petr")
    ivan = api.login(terminal, "ivan")
    group_instance = to_group["instances"][0]["id"]
    all_instance = to_all["instances"][0]["id"]
    assert {d["id"] for d in api.inbox(petr)} == {group_instance, all_instance}
    assert {d["id"] for d in api.inbox(ivan)} == {all_instance}
    # The bare device token is no user: it sees neither.
    assert api.inbox(terminal) == []


# -- rule 4: per-user copies -------------------------------------------------------------------


def test_rule4_per_user_copy_gives_one_instance_per_user(api: Client, tenant: TenantKeys) -> None:
    for login in ("anna", "boris", "vera"):
        api.user(tenant, login)
    api.group(tenant, "shop", ["boris", "vera"])
    response = api.push(
        tenant, "price-check", [doc()], target={"users": ["anna", "boris"], "groups": ["shop"]}
    )
    document = the_document(response)
    # boris is named and is a member: still one copy for him.
    assert sorted(i["addressee"]["login"] for i in document["instances"]) == [
        "anna",
        "boris",
        "vera",
    ]
    assert all(i["addressee"]["type"] == "user" for i in document["instances"])
    assert len({i["id"] for i in document["instances"]}) == 3


def test_rule4_per_user_copy_to_all_copies_for_every_active_user(
    api: Client, tenant: TenantKeys
) -> None:
    for login in ("anna", "boris", "gone"):
        api.user(tenant, login)
    assert api.delete("/api/v1/admin/users/gone", tenant.admin_key).status_code == 204
    document = the_document(api.push(tenant, "price-check", [doc()], target={"all": True}))
    assert sorted(i["addressee"]["login"] for i in document["instances"]) == ["anna", "boris"]


def test_rule4_per_user_copy_to_a_device_is_one_instance(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.user(tenant, "anna")
    document = the_document(api.push(tenant, "price-check", [doc()], target={"pin": terminal.pin}))
    [instance] = document["instances"]
    assert instance["addressee"]["type"] == "device"


def test_rule4_each_copy_is_worked_on_its_own(api: Client, tenant: TenantKeys) -> None:
    first, second = api.enroll(tenant, name="ТСД-1"), api.enroll(tenant, name="ТСД-2")
    api.user(tenant, "anna")
    api.user(tenant, "boris")
    document = the_document(
        api.push(tenant, "price-check", [doc()], target={"users": ["anna", "boris"]})
    )
    by_login = {i["addressee"]["login"]: i["id"] for i in document["instances"]}
    anna = api.login(first, "anna")
    boris = api.login(second, "boris")
    assert [d["id"] for d in api.inbox(anna)] == [by_login["anna"]]
    assert [d["id"] for d in api.inbox(boris)] == [by_login["boris"]]
    api.claim(anna, by_login["anna"])
    # Anna's claim does not take Boris's copy.
    assert [d["id"] for d in api.inbox(boris)] == [by_login["boris"]]
    api.claim(boris, by_login["boris"])


def test_without_per_user_copy_users_share_one_instance(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "anna")
    api.user(tenant, "boris")
    document = the_document(
        api.push(tenant, "order-picking", [doc()], target={"users": ["anna", "boris"]})
    )
    assert len(document["instances"]) == 1


# -- rule 5: unknown addressees ----------------------------------------------------------------

NOT_FOUND_1234 = "Device not found by PIN 1234. Documents were not uploaded."


def test_rule5_unknown_pin_is_404_with_the_known_message(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    if terminal.pin == "1234":  # one chance in 9000: move it out of the way
        api.post(f"/api/v1/admin/devices/{terminal.device_id}/new-pin", tenant.admin_key)
    response = api.push(tenant, "purchase-receipt", [doc()], target={"pin": "1234"}, expect=None)
    error = assert_error(response, 404, "device_not_found")
    assert error["message"] == NOT_FOUND_1234
    assert list_documents(api, tenant) == []


def test_rule5_revoked_devices_pin_is_the_same_404(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    revoke = api.post(f"/api/v1/admin/devices/{terminal.device_id}/revoke", tenant.admin_key)
    assert revoke.status_code == 200, revoke.json
    response = api.push(
        tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin}, expect=None
    )
    error = assert_error(response, 404, "device_not_found")
    assert error["message"] == (
        f"Device not found by PIN {terminal.pin}. Documents were not uploaded."
    )
    assert list_documents(api, tenant) == []


def test_rule5_revoked_device_id_is_404(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    api.post(f"/api/v1/admin/devices/{terminal.device_id}/revoke", tenant.admin_key)
    response = api.push(
        tenant, "purchase-receipt", [doc()], target={"device_id": terminal.device_id}, expect=None
    )
    assert_error(response, 404, "device_not_found")


@pytest.mark.parametrize(
    "target",
    [{"users": ["nobody"]}, {"groups": ["nobody"]}, {"users": ["ivan", "nobody"]}],
    ids=str,
)
def test_rule5_unknown_user_or_group_is_unknown_assignee(
    api: Client, tenant: TenantKeys, target: dict[str, Any]
) -> None:
    api.user(tenant, "ivan")
    response = api.push(tenant, "order-picking", [doc()], target=target, expect=None)
    error = assert_error(response, 422, "unknown_assignee")
    assert "nobody" in error["message"]
    assert list_documents(api, tenant) == []


def test_rule5_deleted_user_is_unknown(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "ivan")
    api.delete("/api/v1/admin/users/ivan", tenant.admin_key)
    response = api.push(tenant, "order-picking", [doc()], target={"users": ["ivan"]}, expect=None)
    assert_error(response, 422, "unknown_assignee")


def test_rule5_group_without_members_is_empty_group(api: Client, tenant: TenantKeys) -> None:
    api.group(tenant, "empty", [])
    for process in ("order-picking", "price-check"):
        response = api.push(tenant, process, [doc()], target={"groups": ["empty"]}, expect=None)
        assert_error(response, 422, "empty_group")
    assert list_documents(api, tenant) == []


# -- rule 6: atomic batches --------------------------------------------------------------------


def test_rule6_a_batch_with_an_invalid_third_document_stores_nothing(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    bad = doc("C-3", lines=[{"line_id": "1", "declared_qty": "много"}])
    response = api.push(
        tenant,
        "purchase-receipt",
        [doc("C-1"), doc("C-2"), bad],
        target={"pin": terminal.pin},
        expect=None,
    )
    error = assert_error(response, 422)
    assert "2" in error["details"]["fields"]["documents"]
    assert list_documents(api, tenant) == []
    assert api.inbox(terminal) == []


def test_rule6_a_batch_whose_third_document_breaks_a_rule_stores_nothing(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    bad = doc("C-3", lines=[{"line_id": "1", "product_id": "p-1"}])  # no declared_qty
    response = api.push(
        tenant,
        "purchase-receipt",
        [doc("C-1"), doc("C-2"), bad],
        target={"pin": terminal.pin},
        expect=None,
    )
    assert_error(response, 422)
    assert list_documents(api, tenant) == []
    assert api.inbox(terminal) == []


def test_rule6_a_batch_routed_to_an_unknown_user_stores_nothing(
    api: Client, tenant: TenantKeys
) -> None:
    api.user(tenant, "ivan")
    response = api.push(
        tenant,
        "order-picking",
        [doc("C-1"), doc("C-2"), doc("C-3")],
        target={"users": ["ivan", "ghost"]},
        expect=None,
    )
    assert_error(response, 422, "unknown_assignee")
    assert list_documents(api, tenant) == []


def test_rule6_one_document_in_progress_refuses_the_whole_batch(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    target = {"pin": terminal.pin}
    pushed = api.push(tenant, "purchase-receipt", [doc("D-1"), doc("D-2")], target=target)
    first, second = pushed.json["documents"]
    api.claim(terminal, second["instances"][0]["id"])
    changed = [doc("D-1", lines=lines_of(7)), doc("D-2", lines=lines_of(7)), doc("D-3")]
    response = api.push(tenant, "purchase-receipt", changed, target=target, expect=None)
    error = assert_error(response, 409, "document_in_progress")
    assert error["details"]["external_ids"] == ["D-2"]
    # D-1 was not replaced and D-3 was not created.
    assert sorted(d["external_id"] for d in list_documents(api, tenant)) == ["D-1", "D-2"]
    d1 = get_document(api, tenant, first["id"])
    assert d1["version"] == 1
    assert d1["lines"] == doc("D-1")["lines"]


def test_duplicate_external_id_in_one_push_is_422(api: Client, tenant: TenantKeys) -> None:
    terminal = api.enroll(tenant)
    response = api.push(
        tenant,
        "purchase-receipt",
        [doc("E-1"), doc("E-2"), doc("E-1")],
        target={"pin": terminal.pin},
        expect=None,
    )
    error = assert_error(response, 422, "duplicate_external_id")
    assert "E-1" in error["message"]
    assert list_documents(api, tenant) == []


def test_integer_external_id_equal_to_a_string_one_is_a_duplicate(
    api: Client, tenant: TenantKeys
) -> None:
    terminal = api.enroll(tenant)
    response = api.push(
        tenant,
        "purchase-receipt",
        [doc("77"), {**doc(), "external_id": 77}],
        target={"pin": terminal.pin},
        expect=None,
    )
    assert_error(response, 422, "duplicate_external_id")


# -- re-push -----------------------------------------------------------------------------------


@pytest.fixture
def terminal(api: Client, tenant: TenantKeys) -> Terminal:
    return api.enroll(tenant)


def test_repush_identical_is_200_unchanged_and_no_duplicate(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    first = the_document(
        api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    )
    again = api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin}, expect=200)
    second = the_document(again)
    assert second["status"] == "unchanged"
    assert second["id"] == first["id"]
    assert second["version"] == 1
    assert [i["id"] for i in second["instances"]] == [i["id"] for i in first["instances"]]
    assert second["instances"][0]["addressee"]["pin"] == terminal.pin
    assert len(list_documents(api, tenant)) == 1
    assert len(api.inbox(terminal)) == 1


def test_repush_with_one_new_document_is_201_and_says_which(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    api.push(tenant, "purchase-receipt", [doc("F-1")], target={"pin": terminal.pin})
    response = api.push(
        tenant, "purchase-receipt", [doc("F-1"), doc("F-2")], target={"pin": terminal.pin}
    )
    assert response.status_code == 201
    assert [d["status"] for d in response.json["documents"]] == ["unchanged", "created"]


def test_repush_changed_and_unclaimed_replaces_in_place(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    first = the_document(
        api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    )
    instance_id = first["instances"][0]["id"]
    new_lines = [{"line_id": "1", "product_id": "p-777", "name": "Сыр", "declared_qty": 4}]
    response = api.push(
        tenant, "purchase-receipt", [doc(lines=new_lines)], target={"pin": terminal.pin}
    )
    assert response.status_code == 201
    replaced = the_document(response)
    assert replaced["status"] == "replaced"
    assert replaced["version"] == 2
    assert replaced["id"] == first["id"]
    assert [i["id"] for i in replaced["instances"]] == [instance_id]
    # The terminal still knows the same instance id, now with the new content.
    [item] = api.inbox(terminal)
    assert item["id"] == instance_id
    assert item["version"] == 2
    detail = api.get(f"/api/v1/terminal/documents/{instance_id}", terminal.token)
    assert detail.status_code == 200, detail.json
    assert [(line["product_id"], line["declared_qty"]) for line in detail.json["lines"]] == [
        ("p-777", 4)
    ]
    assert len(list_documents(api, tenant)) == 1
    kinds = [e["kind"] for e in get_document(api, tenant, first["id"])["timeline"]]
    assert kinds == ["pushed", "replaced"]


def test_repush_changed_header_only_is_a_change(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    changed = {**doc(), "header": {"warehouse": "Другой склад"}}
    response = api.push(tenant, "purchase-receipt", [changed], target={"pin": terminal.pin})
    assert the_document(response)["status"] == "replaced"


def test_repush_changed_and_claimed_is_409_and_nothing_changes(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    first = the_document(
        api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    )
    instance_id = first["instances"][0]["id"]
    api.claim(terminal, instance_id)
    before = get_document(api, tenant, first["id"])
    response = api.push(
        tenant,
        "purchase-receipt",
        [doc(lines=lines_of(99))],
        target={"pin": terminal.pin},
        expect=None,
    )
    error = assert_error(response, 409, "document_in_progress")
    assert error["details"]["external_ids"] == [first["external_id"]]
    after = get_document(api, tenant, first["id"])
    assert after == before
    assert after["version"] == 1
    # The holder can still complete with its claim token.
    api.complete(terminal, instance_id, [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}])


def test_repush_changed_after_completion_is_409(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    first = the_document(
        api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    )
    instance_id = first["instances"][0]["id"]
    api.claim(terminal, instance_id)
    api.complete(terminal, instance_id, [{"line_id": "1", "qty": 10}])
    response = api.push(
        tenant,
        "purchase-receipt",
        [doc(lines=lines_of(1))],
        target={"pin": terminal.pin},
        expect=None,
    )
    assert_error(response, 409, "document_in_progress")
    # Identical re-push of a completed document is still just "unchanged".
    same = api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin}, expect=200)
    assert the_document(same)["status"] == "unchanged"
    assert the_document(same)["state"] == "completed"


def test_repush_after_cancel_revives_the_document(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    first = the_document(
        api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    )
    cancel = api.post(f"/api/v1/documents/{first['id']}/cancel", tenant.accounting_key)
    assert cancel.status_code == 200, cancel.json
    assert cancel.json["state"] == "cancelled"
    assert api.inbox(terminal) == []
    response = api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    assert response.status_code == 201
    revived = the_document(response)
    assert revived["status"] == "replaced"
    assert revived["version"] == 2
    assert revived["state"] == "queued"
    assert revived["id"] == first["id"]
    [item] = api.inbox(terminal)
    api.claim(terminal, item["id"])
    assert get_document(api, tenant, first["id"])["state"] == "claimed"


def test_repush_under_another_process_is_another_document(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    api.push(tenant, "purchase-receipt", [doc("G-1")], target={"pin": terminal.pin})
    api.push(tenant, "order-picking", [doc("G-1")], target={"pin": terminal.pin})
    assert sorted(d["business_process"] for d in list_documents(api, tenant)) == [
        "order-picking",
        "purchase-receipt",
    ]


# -- processes ---------------------------------------------------------------------------------


def test_disabled_process_refuses_pushes(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    patch = api.patch(f"{PROCESSES}/purchase-receipt", tenant.admin_key, {"enabled": False})
    assert patch.status_code == 200, patch.json
    response = api.push(
        tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin}, expect=None
    )
    assert_error(response, 422, "business_process_disabled")
    assert list_documents(api, tenant) == []
    api.patch(f"{PROCESSES}/purchase-receipt", tenant.admin_key, {"enabled": True})
    api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})


def test_unknown_process_is_404(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    response = api.push(
        tenant, "no-such-process", [doc()], target={"pin": terminal.pin}, expect=None
    )
    error = assert_error(response, 404, "business_process_not_found")
    assert "no-such-process" in error["message"]
    assert list_documents(api, tenant) == []


def test_each_document_keeps_the_process_version_it_was_pushed_under(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    target = {"pin": terminal.pin}
    old = the_document(api.push(tenant, "purchase-receipt", [doc("H-1")], target=target))
    edit = api.patch(
        f"{PROCESSES}/purchase-receipt",
        tenant.admin_key,
        {"on_load": {"post_after_load": True}, "result_document_type": "Новый тип"},
    )
    assert edit.status_code == 200, edit.json
    assert edit.json["version"] == 2
    new = the_document(api.push(tenant, "purchase-receipt", [doc("H-2")], target=target))
    assert get_document(api, tenant, old["id"])["business_process_version"] == 1
    assert get_document(api, tenant, new["id"])["business_process_version"] == 2

    results = {}
    for pushed in (old, new):
        instance_id = pushed["instances"][0]["id"]
        api.claim(terminal, instance_id)
        done = api.complete(terminal, instance_id, [{"line_id": "1", "qty": 1}])
        result = api.get(f"/api/v1/results/{done.json['result_id']}", tenant.accounting_key)
        assert result.status_code == 200, result.json
        results[pushed["external_id"]] = result.json
    assert results["H-1"]["business_process_version"] == 1
    assert results["H-1"]["result_document_type"] == "Приобретение товаров и услуг"
    assert results["H-1"]["on_load"]["post_after_load"] is False
    assert results["H-2"]["business_process_version"] == 2
    assert results["H-2"]["result_document_type"] == "Новый тип"
    assert results["H-2"]["on_load"]["post_after_load"] is True


def test_document_pushed_before_an_edit_keeps_its_old_quantity_control(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    pushed = the_document(
        api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    )
    api.patch(f"{PROCESSES}/purchase-receipt", tenant.admin_key, {"quantity_control": "exact"})
    instance_id = pushed["instances"][0]["id"]
    api.claim(terminal, instance_id)
    # Under v1 (no_excess) a shortage is fine; v2 (exact) would refuse it.
    api.complete(terminal, instance_id, [{"line_id": "1", "qty": 1}])


# -- limits ------------------------------------------------------------------------------------


def test_more_documents_than_the_limit_is_too_many_documents(
    api: Client, app: Flask, tenant: TenantKeys, terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "PUSH_MAX_DOCUMENTS", 2)
    docs = [doc(f"L-{i}") for i in range(3)]
    response = api.push(tenant, "purchase-receipt", docs, target={"pin": terminal.pin}, expect=None)
    error = assert_error(response, 422, "too_many_documents")
    assert error["details"]["limit"] == 2
    assert list_documents(api, tenant) == []
    api.push(tenant, "purchase-receipt", docs[:2], target={"pin": terminal.pin})


def test_more_lines_than_the_limit_is_too_many_lines(
    api: Client, app: Flask, tenant: TenantKeys, terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_LINES", 3)
    docs = [doc("M-1", lines=lines_of(1, 1, 1)), doc("M-2", lines=lines_of(1, 1, 1, 1))]
    response = api.push(tenant, "purchase-receipt", docs, target={"pin": terminal.pin}, expect=None)
    error = assert_error(response, 422, "too_many_lines")
    assert "M-2" in error["message"]
    assert list_documents(api, tenant) == []


def test_body_over_max_content_length_is_413(
    api: Client, app: Flask, tenant: TenantKeys, terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)
    lines = [{"product_id": f"p-{i}", "name": "x" * 50, "declared_qty": 1} for i in range(100)]
    response = api.push(
        tenant, "purchase-receipt", [doc(lines=lines)], target={"pin": terminal.pin}, expect=None
    )
    assert_error(response, 413, "body_too_large")
    assert list_documents(api, tenant) == []


def test_default_limits_are_the_documented_ones(app: Flask) -> None:
    assert app.config["PUSH_MAX_DOCUMENTS"] == 500
    assert app.config["DOCUMENT_MAX_LINES"] == 10_000
    assert app.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024


# -- refused and derived fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["state", "version", "id", "status", "created_at", "tenant_id", "updated_at"]
)
def test_read_only_document_fields_are_refused_naming_the_field(
    api: Client, tenant: TenantKeys, terminal: Terminal, field: str
) -> None:
    response = api.push(
        tenant, "purchase-receipt", [doc(**{field: "x"})], target={"pin": terminal.pin}, expect=None
    )
    error = assert_error(response, 422)
    assert field in error["message"]
    assert field in error["details"]["fields"]["documents"]["0"]
    assert list_documents(api, tenant) == []


@pytest.mark.parametrize("field", ["tenant_id", "tenant", "version", "state"])
def test_read_only_fields_at_push_level_are_refused(
    api: Client, tenant: TenantKeys, terminal: Terminal, field: str
) -> None:
    body = {
        "business_process": "purchase-receipt",
        "target": {"pin": terminal.pin},
        "documents": [doc()],
        field: 1,
    }
    response = api.post("/api/v1/documents", tenant.accounting_key, body)
    error = assert_error(response, 422)
    assert field in error["details"]["fields"]
    assert list_documents(api, tenant) == []


def test_unknown_document_field_is_refused(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    response = api.push(
        tenant, "purchase-receipt", [doc(colour="red")], target={"pin": terminal.pin}, expect=None
    )
    error = assert_error(response, 422)
    assert "colour" in error["details"]["fields"]["documents"]["0"]


@pytest.mark.parametrize(
    "target",
    [
        {"pin": "1234", "users": ["ivan"]},
        {"pin": "1234", "all": True},
        {"users": ["ivan"], "all": True},
        {"pin": "1234", "device_id": "5a3e7f0e-0000-4000-8000-000000000000"},
    ],
    ids=str,
)
def test_a_target_mixing_kinds_is_422(
    api: Client, tenant: TenantKeys, target: dict[str, Any]
) -> None:
    api.user(tenant, "ivan")
    response = api.push(tenant, "order-picking", [doc()], target=target, expect=None)
    error = assert_error(response, 422)
    assert "target" in error["details"]["fields"]
    assert list_documents(api, tenant) == []


def test_lines_without_line_id_are_numbered_by_position(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    lines = [
        {"product_id": "p-1", "declared_qty": 1},
        {"product_id": "p-2", "declared_qty": 2},
        {"product_id": "p-3", "declared_qty": 3, "cell": "A-01"},
    ]
    pushed = the_document(
        api.push(tenant, "purchase-receipt", [doc(lines=lines)], target={"pin": terminal.pin})
    )
    stored = get_document(api, tenant, pushed["id"])["lines"]
    assert [(line["line_id"], line["product_id"]) for line in stored] == [
        ("1", "p-1"),
        ("2", "p-2"),
        ("3", "p-3"),
    ]
    assert stored[2]["cell"] == "A-01"
    # The terminal completes against those ids.
    instance_id = pushed["instances"][0]["id"]
    api.claim(terminal, instance_id)
    api.complete(terminal, instance_id, [{"line_id": "2", "qty": 2}])


def test_quantity_controlled_process_needs_declared_qty_on_every_line(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    lines = [{"line_id": "1", "product_id": "p-1", "declared_qty": 1}, {"line_id": "2"}]
    response = api.push(
        tenant, "purchase-receipt", [doc(lines=lines)], target={"pin": terminal.pin}, expect=None
    )
    error = assert_error(response, 422)
    assert "declared_qty" in error["message"]
    assert list_documents(api, tenant) == []
    # A null declared_qty is just as missing.
    lines[1]["declared_qty"] = None
    response = api.push(
        tenant, "purchase-receipt", [doc(lines=lines)], target={"pin": terminal.pin}, expect=None
    )
    assert_error(response, 422)


def test_process_without_quantity_control_takes_lines_without_declared_qty(
    api: Client, tenant: TenantKeys
) -> None:
    api.user(tenant, "anna")
    api.push(tenant, "price-check", [doc(lines=[{"product_id": "p-1"}])], target={"all": True})


def test_duplicate_line_id_is_422(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    lines = [{"line_id": "1", "declared_qty": 1}, {"line_id": "1", "declared_qty": 2}]
    response = api.push(
        tenant, "purchase-receipt", [doc(lines=lines)], target={"pin": terminal.pin}, expect=None
    )
    assert_error(response, 422, "duplicate_line_id")


def test_decimal_quantities_keep_their_precision(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    lines = [{"line_id": "1", "product_id": "p-1", "unit": "кг", "declared_qty": 0.001}]
    pushed = the_document(
        api.push(tenant, "purchase-receipt", [doc(lines=lines)], target={"pin": terminal.pin})
    )
    response = api.get(f"/api/v1/documents/{pushed['id']}", tenant.accounting_key)
    # The number comes back as written: 0.001, not 0.0010 or 1e-3 or 0.0010000000000000000208.
    assert str(response.json["lines"][0]["declared_qty"]) == "0.001"
    assert re.search(r'"declared_qty": 0\.001[,}]', response.get_data(as_text=True))


def test_repush_to_another_device_moves_the_document(api: Client, tenant: TenantKeys) -> None:
    old, new = api.enroll(tenant, name="ТСД-1"), api.enroll(tenant, name="ТСД-2")
    first = the_document(api.push(tenant, "purchase-receipt", [doc()], target={"pin": old.pin}))
    response = api.push(tenant, "purchase-receipt", [doc()], target={"pin": new.pin})
    moved = the_document(response)
    assert moved["status"] == "replaced"
    assert moved["version"] == 2
    assert moved["id"] == first["id"]
    assert [i["addressee"]["pin"] for i in moved["instances"]] == [new.pin]
    assert api.inbox(old) == []
    assert [d["id"] for d in api.inbox(new)] == [moved["instances"][0]["id"]]
    old_instance = first["instances"][0]["id"]
    assert api.get(f"/api/v1/terminal/documents/{old_instance}", old.token).status_code == 404


def test_revived_document_keeps_its_whole_timeline(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    first = the_document(
        api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    )
    api.post(f"/api/v1/documents/{first['id']}/cancel", tenant.accounting_key)
    api.push(tenant, "purchase-receipt", [doc()], target={"pin": terminal.pin})
    kinds = [e["kind"] for e in get_document(api, tenant, first["id"])["timeline"]]
    assert kinds == ["pushed", "cancelled", "replaced"]


def test_fixed_assignee_deleted_later_is_reported_not_crashed(
    api: Client, fixed: TenantKeys
) -> None:
    assert api.delete("/api/v1/admin/users/ivan", fixed.admin_key).status_code == 204
    response = api.push(fixed, "order-picking", [doc(lines=lines_of(3))], expect=None)
    assert_error(response, 422, "unknown_assignee")
    assert list_documents(api, fixed) == []


def test_empty_documents_list_is_422(api: Client, tenant: TenantKeys, terminal: Terminal) -> None:
    response = api.push(tenant, "purchase-receipt", [], target={"pin": terminal.pin}, expect=None)
    error = assert_error(response, 422)
    assert "documents" in error["details"]["fields"]


def test_null_target_is_the_process_default(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    body = {"business_process": "purchase-receipt", "target": None, "documents": [doc()]}
    response = api.post("/api/v1/documents", tenant.accounting_key, body)
    assert response.status_code == 201, response.json
    assert the_document(response)["instances"][0]["addressee"]["pin"] == terminal.pin


def test_extra_line_fields_may_be_fractional_numbers(api: Client, tenant: TenantKeys) -> None:
    api.user(tenant, "anna")
    lines = [{"line_id": "1", "product_id": "p-1", "price": 99.9, "shelf_price": 100}]
    pushed = api.push(tenant, "price-check", [doc(lines=lines)], target={"users": ["anna"]})
    stored = get_document(api, tenant, the_document(pushed)["id"])["lines"]
    assert stored[0]["price"] == Decimal("99.9")


def test_extra_line_fields_must_be_scalars(
    api: Client, tenant: TenantKeys, terminal: Terminal
) -> None:
    lines = [{"line_id": "1", "declared_qty": 1, "cells": ["A", "B"]}]
    response = api.push(
        tenant, "purchase-receipt", [doc(lines=lines)], target={"pin": terminal.pin}, expect=None
    )
    error = assert_error(response, 422)
    assert "cells" in error["message"]


def test_rule2_with_per_user_copy_copies_for_each_fixed_assignee(
    api: Client, tenant: TenantKeys
) -> None:
    for login in ("anna", "boris", "vera", "olga"):
        api.user(tenant, login)
    api.group(tenant, "shop", ["boris", "vera"])
    set_assignees(api, tenant, ["anna"], ["shop"], key="price-check")
    document = the_document(api.push(tenant, "price-check", [doc()]))
    assert sorted(i["addressee"]["login"] for i in document["instances"]) == [
        "anna",
        "boris",
        "vera",
    ]
    subset = the_document(
        api.push(tenant, "price-check", [doc("B-2")], target={"groups": ["shop"]})
    )
    assert sorted(i["addressee"]["login"] for i in subset["instances"]) == ["boris", "vera"]

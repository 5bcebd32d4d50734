"""The terminal inbox (SPEC §7, §9, §12, Appendix A): who sees what, ETags, paging."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from relay.api.terminal.schemas import Inbox
from tests.helpers import Client, TenantKeys, Terminal, assert_error, doc

INBOX = "/api/v1/terminal/documents"
PROCESS = "order-picking"  # assign_to: users, no fixed assignees: any target is allowed


@dataclass
class World:
    api: Client
    tenant: TenantKeys
    dev_a: Terminal  # bare device token of terminal A
    dev_b: Terminal  # bare device token of terminal B
    ivanov: Terminal  # ivanov's session on terminal A (member of "Склад")
    petrov: Terminal  # petrov's session on terminal B (member of "Склад")
    sidorov: Terminal  # sidorov's session on terminal C (in no group)

    def push(self, target: dict[str, Any], external_id: str, **extra: Any) -> str:
        """Push one order-picking document; return its only instance id."""
        response = self.api.push(self.tenant, PROCESS, [doc(external_id, **extra)], target=target)
        instances = response.json["documents"][0]["instances"]
        assert len(instances) == 1, instances
        return str(instances[0]["id"])

    def document_id(self, instance_id: str, who: Terminal) -> str:
        response = self.api.get(f"{INBOX}/{instance_id}", who.bearer)
        assert response.status_code == 200, response.json
        return str(response.json["document_id"])


@pytest.fixture
def world(api: Client, tenant: TenantKeys) -> World:
    dev_a = api.enroll(tenant, name="A", serial="SER-A")
    dev_b = api.enroll(tenant, name="B", serial="SER-B")
    dev_c = api.enroll(tenant, name="C", serial="SER-C")
    for login in ("ivanov", "petrov", "sidorov"):
        api.user(tenant, login)
    api.group(tenant, "Склад", ["ivanov", "petrov"])
    return World(
        api=api,
        tenant=tenant,
        dev_a=dev_a,
        dev_b=dev_b,
        ivanov=api.login(dev_a, "ivanov"),
        petrov=api.login(dev_b, "petrov"),
        sidorov=api.login(dev_c, "sidorov"),
    )


def ids(api: Client, who: Terminal) -> set[str]:
    return {d["id"] for d in api.inbox(who)}


def item(api: Client, who: Terminal, instance_id: str) -> dict[str, Any]:
    found = [d for d in api.inbox(who) if d["id"] == instance_id]
    assert len(found) == 1, found
    return found[0]


# -- who sees what ------------------------------------------------------------------------------


def test_inbox_shows_what_is_addressed_to_the_caller(world: World) -> None:
    api = world.api
    to_a = world.push({"pin": world.dev_a.pin}, "E-1")
    to_b = world.push({"pin": world.dev_b.pin}, "E-2")
    to_ivanov = world.push({"users": ["ivanov"]}, "E-3")
    to_sidorov = world.push({"users": ["sidorov"]}, "E-4")
    to_group = world.push({"groups": ["Склад"]}, "E-5")
    to_all = world.push({"all": True}, "E-6")

    assert ids(api, world.dev_a) == {to_a}
    assert ids(api, world.dev_b) == {to_b}
    assert ids(api, world.ivanov) == {to_a, to_ivanov, to_group, to_all}
    assert ids(api, world.petrov) == {to_b, to_group, to_all}
    assert ids(api, world.sidorov) == {to_sidorov, to_all}


def test_inbox_item_fields(world: World) -> None:
    instance_id = world.push({"pin": world.dev_a.pin}, "ЗаказКлиента-0000-000777")
    got = item(world.api, world.dev_a, instance_id)
    assert got["id"] == instance_id
    assert got["document_id"]
    assert got["business_process"] == PROCESS
    assert got["terminal_document_type"] == "Отбор"
    assert got["external_id"] == "ЗаказКлиента-0000-000777"
    assert got["number"] == "000777"
    assert got["state"] == "queued"
    assert got["claimed_by_me"] is False
    assert got["collective"] is False
    assert got["version"] == 1
    detail = world.api.get(f"{INBOX}/{instance_id}", world.dev_a.bearer)
    assert detail.status_code == 200, detail.json
    assert [line["line_id"] for line in detail.json["lines"]] == ["1", "2"]
    assert detail.json["header"]["warehouse"] == "Основной склад"


def test_the_inbox_body_is_exactly_its_documented_schema(world: World) -> None:
    # The inbox is sent as built, without the schema's dump: the two must not drift apart.
    world.push({"pin": world.dev_a.pin}, "E-1")
    world.push({"all": True}, "E-2")
    response = world.api.get(INBOX, world.ivanov.bearer)
    assert response.status_code == 200, response.json
    assert len(response.json["documents"]) == 2
    assert Inbox().dump(response.json) == response.json


def test_the_document_view_sends_only_the_fields_the_process_sends(world: World) -> None:
    api = world.api
    lines = [
        {
            "line_id": "1",
            "product_id": "p-001",
            "barcode": "4601234567890",
            "name": "Молоко 1 л",
            "price": 89,
            "supplier_code": "SUP-1",
        }
    ]
    response = api.push(
        world.tenant,
        "price-check",
        [doc("P-1", header={"store": "Магазин 1", "warehouse": "Основной"}, lines=lines)],
        target={"users": ["ivanov"]},
    )
    instance_id = response.json["documents"][0]["instances"][0]["id"]
    detail = api.get(f"{INBOX}/{instance_id}", world.ivanov.bearer).json
    assert detail["header"] == {"store": "Магазин 1"}
    (line,) = detail["lines"]
    assert line["line_id"] == "1"
    assert line["price"] == 89
    assert line["name"] == "Молоко 1 л"
    assert "supplier_code" not in line


def test_a_stock_count_is_counted_blind(world: World) -> None:
    api = world.api
    response = api.push(world.tenant, "stock-count", [doc("INV-1")], target={"users": ["ivanov"]})
    instance_id = response.json["documents"][0]["instances"][0]["id"]
    detail = api.get(f"{INBOX}/{instance_id}", world.ivanov.bearer).json
    assert [line["line_id"] for line in detail["lines"]] == ["1", "2"]
    assert detail["lines"][0]["product_id"] == "p-001"
    # relay/business_processes/stock-count.yaml: "Book quantities are not shown: operators
    # count blind."
    assert all("declared_qty" not in line for line in detail["lines"]), detail["lines"]


def test_a_device_never_reads_what_is_not_addressed_to_it(world: World) -> None:
    api = world.api
    to_b = world.push({"pin": world.dev_b.pin}, "E-1")
    to_ivanov = world.push({"users": ["ivanov"]}, "E-2")
    to_group = world.push({"groups": ["Склад"]}, "E-3")
    to_all = world.push({"all": True}, "E-4")
    # Terminal A without a session: none of these are for it.
    for instance_id in (to_b, to_ivanov, to_group, to_all):
        assert_error(
            api.get(f"{INBOX}/{instance_id}", world.dev_a.token), 404, "document_not_found"
        )
        assert_error(
            api.post(f"{INBOX}/{instance_id}/claim", world.dev_a.token), 404, "document_not_found"
        )
        assert_error(
            api.post(f"{INBOX}/{instance_id}/release", world.dev_a.token),
            404,
            "document_not_found",
        )
        assert_error(
            api.complete(world.dev_a, instance_id, [], expect=None, claim_token="x"),
            404,
            "document_not_found",
        )
    assert ids(api, world.dev_a) == set()
    # sidorov is in no group and the document to B's PIN is not for ivanov's terminal.
    assert_error(api.get(f"{INBOX}/{to_group}", world.sidorov.bearer), 404, "document_not_found")
    assert_error(api.get(f"{INBOX}/{to_b}", world.ivanov.bearer), 404, "document_not_found")
    # Nothing changed: the documents are still queued for their addressees.
    assert to_b in ids(api, world.dev_b)
    assert {to_ivanov, to_group, to_all} <= ids(api, world.ivanov)


def test_another_tenants_device_sees_nothing(
    world: World, other_tenant: TenantKeys, api: Client
) -> None:
    instance_id = world.push({"pin": world.dev_a.pin}, "E-1")
    stranger = api.enroll(other_tenant)
    assert ids(api, stranger) == set()
    assert_error(api.get(f"{INBOX}/{instance_id}", stranger.token), 404, "document_not_found")
    assert_error(
        api.post(f"{INBOX}/{instance_id}/claim", stranger.token), 404, "document_not_found"
    )


def test_claimed_documents_leave_the_other_addressees_inboxes(world: World) -> None:
    api = world.api
    to_group = world.push({"groups": ["Склад"]}, "E-1")
    to_all = world.push({"all": True}, "E-2")
    api.claim(world.ivanov, to_group)
    api.claim(world.petrov, to_all)

    mine = item(api, world.ivanov, to_group)
    assert mine["state"] == "claimed"
    assert mine["claimed_by_me"] is True
    assert to_all not in ids(api, world.ivanov)
    theirs = item(api, world.petrov, to_all)
    assert theirs["state"] == "claimed"
    assert theirs["claimed_by_me"] is True
    assert to_group not in ids(api, world.petrov)
    assert ids(api, world.sidorov) == set()

    # Released, they come back to everyone they were addressed to.
    assert api.post(f"{INBOX}/{to_group}/release", world.ivanov.bearer).status_code == 200
    assert api.post(f"{INBOX}/{to_all}/release", world.petrov.bearer).status_code == 200
    assert ids(api, world.ivanov) == {to_group, to_all}
    assert ids(api, world.petrov) == {to_group, to_all}
    assert ids(api, world.sidorov) == {to_all}
    assert all(d["state"] == "queued" and not d["claimed_by_me"] for d in api.inbox(world.ivanov))


def test_a_device_claim_shows_claimed_by_me_for_the_device(world: World) -> None:
    api = world.api
    instance_id = world.push({"pin": world.dev_a.pin}, "E-1")
    api.claim(world.dev_a, instance_id)
    got = item(api, world.dev_a, instance_id)
    assert got["state"] == "claimed"
    assert got["claimed_by_me"] is True


# -- ETag -----------------------------------------------------------------------------------------


def etag(api: Client, who: Terminal, query: str = "") -> str:
    response = api.get(INBOX + query, who.bearer)
    assert response.status_code == 200, response.json
    tag = response.headers.get("ETag")
    assert tag
    return str(tag)


def poll(api: Client, who: Terminal, tag: str, query: str = "") -> Any:
    return api.get(INBOX + query, who.bearer, headers={"If-None-Match": tag})


def assert_unchanged(api: Client, who: Terminal, tag: str) -> None:
    """The inbox still carries the same ETag (compared by value, not through a 304)."""
    assert etag(api, who) == tag


def assert_changed(api: Client, who: Terminal, tag: str) -> str:
    """The inbox carries a new ETag, and that new one is stable while nothing else happens."""
    new = etag(api, who)
    assert new != tag, "the inbox changed but its ETag did not"
    assert etag(api, who) == new
    return new


def test_the_etag_is_stable_while_nothing_changes(world: World) -> None:
    api = world.api
    world.push({"pin": world.dev_a.pin}, "E-1")
    world.push({"groups": ["Склад"]}, "E-2")
    for who in (world.dev_a, world.ivanov, world.petrov):
        tag = etag(api, who)
        assert tag.startswith('"')
        assert tag.endswith('"')
        assert etag(api, who) == tag
    # Callers answering for different addressees get different tags.
    assert len({etag(api, w) for w in (world.dev_a, world.ivanov, world.petrov)}) == 3


def test_an_unchanged_inbox_answers_304(world: World) -> None:
    api = world.api
    world.push({"pin": world.dev_a.pin}, "E-1")
    world.push({"groups": ["Склад"]}, "E-2")
    for who in (world.dev_a, world.ivanov, world.petrov):
        tag = etag(api, who)
        response = poll(api, who, tag)
        assert response.status_code == 304, "an unchanged inbox was sent again in full"
        assert response.data == b""
        assert response.headers["ETag"] == tag
        # A list of tags with the current one in it matches too (RFC 9110).
        assert poll(api, who, f'"other", {tag}').status_code == 304


def test_a_stale_etag_gets_the_full_inbox(world: World) -> None:
    api = world.api
    world.push({"groups": ["Склад"]}, "E-1")
    tag = etag(api, world.ivanov)
    world.push({"groups": ["Склад"]}, "E-2")
    for sent in (tag, '"not-the-tag"'):
        response = poll(api, world.ivanov, sent)
        assert response.status_code == 200
        assert len(response.json["documents"]) == 2
        assert response.headers["ETag"] != tag


def test_changes_elsewhere_keep_the_etag(world: World) -> None:
    api = world.api
    tag = etag(api, world.ivanov)
    world.push({"pin": world.dev_b.pin}, "E-1")
    world.push({"users": ["sidorov"]}, "E-2")
    api.claim(world.dev_b, api.inbox(world.dev_b)[0]["id"])
    assert_unchanged(api, world.ivanov, tag)


def test_the_device_tokens_etag_ignores_pushes_to_all(world: World) -> None:
    api = world.api
    tag = etag(api, world.dev_a)
    world.push({"all": True}, "E-1")
    world.push({"users": ["ivanov"]}, "E-2")
    assert_unchanged(api, world.dev_a, tag)


Action = Callable[[World], None]


def _push_to_my_device(w: World) -> None:
    w.push({"pin": w.dev_a.pin}, "E-new")


def _push_to_me(w: World) -> None:
    w.push({"users": ["ivanov"]}, "E-new")


def _push_to_my_group(w: World) -> None:
    w.push({"groups": ["Склад"]}, "E-new")


def _push_to_all(w: World) -> None:
    w.push({"all": True}, "E-new")


@pytest.mark.parametrize(
    "action",
    [_push_to_my_device, _push_to_me, _push_to_my_group, _push_to_all],
    ids=["push-to-my-device", "push-to-me", "push-to-my-group", "push-to-all"],
)
def test_etag_changes_on_a_push_to_me(world: World, action: Action) -> None:
    tag = etag(world.api, world.ivanov)
    action(world)
    assert_changed(world.api, world.ivanov, tag)
    assert len(world.api.inbox(world.ivanov)) == 1


def test_etag_changes_on_a_push_to_my_device_for_the_device_token(world: World) -> None:
    tag = etag(world.api, world.dev_a)
    _push_to_my_device(world)
    assert_changed(world.api, world.dev_a, tag)


def test_etag_changes_when_someone_else_claims_a_shared_document_i_saw(world: World) -> None:
    api = world.api
    instance_id = world.push({"groups": ["Склад"]}, "E-1")
    assert instance_id in ids(api, world.ivanov)
    tag = etag(api, world.ivanov)
    api.claim(world.petrov, instance_id)
    assert_changed(api, world.ivanov, tag)
    assert instance_id not in ids(api, world.ivanov)


def test_etag_changes_on_my_own_claim(world: World) -> None:
    api = world.api
    instance_id = world.push({"all": True}, "E-1")
    tag = etag(api, world.ivanov)
    api.claim(world.ivanov, instance_id)
    assert_changed(api, world.ivanov, tag)
    assert item(api, world.ivanov, instance_id)["claimed_by_me"] is True


def test_etag_changes_on_a_release(world: World) -> None:
    api = world.api
    instance_id = world.push({"groups": ["Склад"]}, "E-1")
    api.claim(world.petrov, instance_id)
    mine, theirs = etag(api, world.ivanov), etag(api, world.petrov)
    assert api.post(f"{INBOX}/{instance_id}/release", world.petrov.bearer).status_code == 200
    assert_changed(api, world.ivanov, mine)
    assert_changed(api, world.petrov, theirs)
    assert instance_id in ids(api, world.ivanov)


def test_etag_changes_on_a_cancel(world: World) -> None:
    api = world.api
    queued = world.push({"users": ["ivanov"]}, "E-1")
    held = world.push({"pin": world.dev_a.pin}, "E-2")
    api.claim(world.ivanov, held)
    for instance_id in (queued, held):
        document_id = world.document_id(instance_id, world.ivanov)
        tag = etag(api, world.ivanov)
        cancelled = api.post(f"/api/v1/documents/{document_id}/cancel", world.tenant.accounting_key)
        assert cancelled.status_code == 200, cancelled.json
        assert_changed(api, world.ivanov, tag)
    assert queued not in ids(api, world.ivanov)
    assert item(api, world.ivanov, held)["state"] == "cancelled"


def test_etag_changes_on_a_completion(world: World) -> None:
    api = world.api
    instance_id = world.push({"users": ["ivanov"]}, "E-1")
    api.claim(world.ivanov, instance_id)
    tag = etag(api, world.ivanov)
    api.complete(
        world.ivanov, instance_id, [{"line_id": "1", "qty": 10}, {"line_id": "2", "qty": 5}]
    )
    assert_changed(api, world.ivanov, tag)
    assert instance_id not in ids(api, world.ivanov)


def test_etag_changes_on_a_repush_that_replaces_content(world: World) -> None:
    api = world.api
    instance_id = world.push({"groups": ["Склад"]}, "E-1")
    mine, theirs = etag(api, world.ivanov), etag(api, world.petrov)
    replaced = api.push(
        world.tenant,
        PROCESS,
        [doc("E-1", header={"warehouse": "Склад №2"})],
        target={"groups": ["Склад"]},
    )
    assert replaced.json["documents"][0]["status"] == "replaced"
    assert_changed(api, world.ivanov, mine)
    assert_changed(api, world.petrov, theirs)
    got = item(api, world.ivanov, replaced.json["documents"][0]["instances"][0]["id"])
    assert got["version"] == 2
    assert got["id"] == instance_id  # same addressees: the instance is kept
    detail = api.get(f"{INBOX}/{instance_id}", world.ivanov.bearer).json
    assert detail["header"]["warehouse"] == "Склад №2"


def test_etag_changes_on_a_repush_to_another_device(world: World) -> None:
    api = world.api
    instance_id = world.push({"pin": world.dev_a.pin}, "E-1")
    tag = etag(api, world.dev_a)
    api.push(world.tenant, PROCESS, [doc("E-1")], target={"pin": world.dev_b.pin})
    assert_changed(api, world.dev_a, tag)
    assert ids(api, world.dev_a) == set()
    assert_error(api.get(f"{INBOX}/{instance_id}", world.dev_a.token), 404, "document_not_found")
    assert len(api.inbox(world.dev_b)) == 1


def test_an_identical_repush_keeps_the_etag(world: World) -> None:
    api = world.api
    world.push({"groups": ["Склад"]}, "E-1")
    tag = etag(api, world.ivanov)
    again = api.push(world.tenant, PROCESS, [doc("E-1")], target={"groups": ["Склад"]}, expect=200)
    assert again.json["documents"][0]["status"] == "unchanged"
    assert_unchanged(api, world.ivanov, tag)


def test_etag_changes_when_i_am_added_to_a_group(world: World) -> None:
    api = world.api
    api.group(world.tenant, "Кладовщики", ["petrov"])
    instance_id = world.push({"groups": ["Кладовщики"]}, "E-1")
    tag = etag(api, world.ivanov)
    patched = api.patch(
        "/api/v1/admin/groups/Кладовщики", world.tenant.admin_key, {"members": ["petrov", "ivanov"]}
    )
    assert patched.status_code == 200, patched.json
    assert_changed(api, world.ivanov, tag)
    assert instance_id in ids(api, world.ivanov)


def test_etag_changes_when_i_am_removed_from_a_group(world: World) -> None:
    api = world.api
    instance_id = world.push({"groups": ["Склад"]}, "E-1")
    tag = etag(api, world.ivanov)
    patched = api.patch(
        "/api/v1/admin/groups/Склад", world.tenant.admin_key, {"members": ["petrov"]}
    )
    assert patched.status_code == 200, patched.json
    assert_changed(api, world.ivanov, tag)
    assert instance_id not in ids(api, world.ivanov)
    assert instance_id in ids(api, world.petrov)


def test_etag_changes_when_my_group_is_deleted(world: World) -> None:
    api = world.api
    instance_id = world.push({"groups": ["Склад"]}, "E-1")
    tag = etag(api, world.ivanov)
    assert api.delete("/api/v1/admin/groups/Склад", world.tenant.admin_key).status_code == 204
    assert_changed(api, world.ivanov, tag)
    assert instance_id not in ids(api, world.ivanov)


# -- paging ---------------------------------------------------------------------------------------


def test_inbox_pages_with_limit_and_next(world: World) -> None:
    api = world.api
    pushed = api.push(
        world.tenant,
        PROCESS,
        [doc(f"E-{n}") for n in range(5)],
        target={"pin": world.dev_a.pin},
    )
    expected = {i["id"] for d in pushed.json["documents"] for i in d["instances"]}
    seen: list[str] = []
    pages = []
    query = "?limit=2"
    while True:
        response = api.get(INBOX + query, world.dev_a.bearer)
        assert response.status_code == 200, response.json
        page = [d["id"] for d in response.json["documents"]]
        pages.append(page)
        seen += page
        cursor = response.json["next"]
        if cursor is None:
            break
        assert len(page) == 2
        query = f"?limit=2&after={cursor}"
    assert [len(p) for p in pages] == [2, 2, 1]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == expected
    # Without a limit, one page holds them all, in the same order.
    whole = api.get(INBOX, world.dev_a.bearer).json
    assert [d["id"] for d in whole["documents"]] == seen
    assert whole["next"] is None


def test_inbox_pages_merge_every_addressee(world: World) -> None:
    api = world.api
    targets: list[dict[str, Any]] = [
        {"pin": world.dev_a.pin},
        {"users": ["ivanov"]},
        {"groups": ["Склад"]},
        {"all": True},
        {"users": ["ivanov"], "groups": ["Склад"]},
        {"all": True},
    ]
    pushed = []
    for n, target in enumerate(targets):
        time.sleep(0.003)  # ids are time-ordered by the millisecond: fix the order
        pushed.append(world.push(target, f"E-{n}"))
    api.claim(world.ivanov, pushed[-1])  # the last one is held, no longer queued
    expected = pushed
    seen: list[str] = []
    query = "?limit=1"
    for _ in range(10):
        body = api.get(INBOX + query, world.ivanov.bearer).json
        seen += [d["id"] for d in body["documents"]]
        if body["next"] is None:
            break
        query = f"?limit=1&after={body['next']}"
    assert seen == expected


def test_each_page_size_has_its_own_etag(world: World) -> None:
    api = world.api
    api.push(
        world.tenant, PROCESS, [doc(f"E-{n}") for n in range(3)], target={"pin": world.dev_a.pin}
    )
    tags = {etag(api, world.dev_a, q) for q in ("", "?limit=1", "?limit=2")}
    assert len(tags) == 3


@pytest.mark.parametrize("query", ["?limit=0", "?limit=501", "?limit=-1"])
def test_inbox_refuses_a_page_size_out_of_range(world: World, query: str) -> None:
    error = assert_error(world.api.get(INBOX + query, world.dev_a.bearer), 422, "validation_failed")
    assert "limit" in error["details"]["fields"]


def test_inbox_refuses_a_cursor_it_did_not_give(world: World) -> None:
    assert_error(world.api.get(INBOX + "?after=garbage", world.dev_a.bearer), 422, "invalid_cursor")


def test_inbox_needs_a_terminal_credential(world: World) -> None:
    api = world.api
    assert_error(api.get(INBOX), 401, "unauthorized")
    assert_error(api.get(INBOX, world.tenant.accounting_key), 403, "forbidden")
    assert_error(api.get(INBOX, world.tenant.admin_key), 403, "forbidden")

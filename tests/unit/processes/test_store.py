"""A tenant's processes: shipped copies, versioned edits, chain checks, importing a directory."""

from pathlib import Path

import pytest
from flask import Flask

from relay.db import transaction
from relay.errors import Invalid, NotFound
from relay.processes import files, schema, store
from relay.processes.files import load_directory, load_file
from tests.factories import SHIPPED_KEYS, process_definition, write_process
from tests.helpers import TenantKeys

SHIPPED = files.SHIPPED_DIR


def test_a_new_tenant_has_the_shipped_processes_at_version_1(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    rows = store.list_current(tenant.id)
    shipped = files.load_directory(files.SHIPPED_DIR)
    assert [r.key for r in rows] == sorted(shipped)
    assert {r.version for r in rows} == {1}
    assert all(r.definition == shipped[r.key] for r in rows)


def test_put_creates_a_process_at_version_1(app_ctx: Flask, tenant: TenantKeys) -> None:
    body = {k: v for k, v in process_definition().items() if k != "key"}
    row = store.save(tenant.id, "cycle-count", body, partial=False)
    assert row.version == 1
    assert row.definition == schema.validate_definition(process_definition())
    assert store.current(tenant.id, "cycle-count").quantity_control == "none"


def test_put_replaces_the_whole_definition_and_bumps_the_version(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    before = store.current(tenant.id, "purchase-receipt")
    assert before.quantity_control == "no_excess"
    body = {**process_definition(), "key": "purchase-receipt", "assign_to": "device"}
    row = store.save(tenant.id, "purchase-receipt", body, partial=False)
    assert row.version == 2
    # What the body leaves out goes back to its default: PUT is a replacement.
    assert row.definition["quantity_control"] == "none"
    assert row.definition["on_load"]["write_after_load"] == "always"
    assert row.definition["name"] == process_definition()["name"]


def test_put_validates_the_whole_body(app_ctx: Flask, tenant: TenantKeys) -> None:
    with pytest.raises(Invalid) as info:
        store.save(tenant.id, "purchase-receipt", {"quantity_control": "exact"}, partial=False)
    assert "assign_to" in info.value.details["fields"]
    assert store.current(tenant.id, "purchase-receipt").version == 1


def test_patch_changes_only_what_it_names(app_ctx: Flask, tenant: TenantKeys) -> None:
    before = store.current(tenant.id, "purchase-receipt").definition
    row = store.save(tenant.id, "purchase-receipt", {"quantity_control": "exact"}, partial=True)
    assert row.version == 2
    assert row.definition == {**before, "quantity_control": "exact"}


def test_patch_merges_nested_objects(app_ctx: Flask, tenant: TenantKeys) -> None:
    before = store.current(tenant.id, "purchase-receipt").definition
    row = store.save(
        tenant.id,
        "purchase-receipt",
        {
            "on_load": {"post_after_load": True},
            "fields": {"header_from_terminal": ["comment", "driver"]},
        },
        partial=True,
    )
    assert row.definition["on_load"] == {**before["on_load"], "post_after_load": True}
    assert row.definition["on_load"]["write_after_load"] == "online_only"
    assert row.definition["fields"] == {
        **before["fields"],
        "header_from_terminal": ["comment", "driver"],
    }


def test_patch_merges_assignees(app_ctx: Flask, tenant: TenantKeys) -> None:
    store.save(tenant.id, "order-picking", {"assignees": {"users": ["anna"]}}, partial=True)
    row = store.save(
        tenant.id, "order-picking", {"assignees": {"groups": ["pickers"]}}, partial=True
    )
    assert row.version == 3
    assert row.definition["assignees"] == {"users": ["anna"], "groups": ["pickers"]}


def test_every_edit_bumps_the_version_and_old_versions_stay(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    for n, mode in enumerate(["exact", "none", "no_excess"], start=2):
        row = store.save(tenant.id, "order-picking", {"quantity_control": mode}, partial=True)
        assert row.version == n
    assert store.at_version(tenant.id, "order-picking", 1).quantity_control == "exact"
    assert store.at_version(tenant.id, "order-picking", 2).quantity_control == "exact"
    assert store.at_version(tenant.id, "order-picking", 3).quantity_control == "none"
    current = store.current(tenant.id, "order-picking")
    assert (current.version, current.quantity_control) == (4, "no_excess")


def test_an_invalid_patch_changes_nothing(app_ctx: Flask, tenant: TenantKeys) -> None:
    with pytest.raises(Invalid) as info:
        store.save(
            tenant.id,
            "order-picking",
            {"per_user_copy": True, "collective_work": True},
            partial=True,
        )
    assert "collective_work" in info.value.details["fields"]
    current = store.current(tenant.id, "order-picking")
    assert (current.version, current.per_user_copy) == (1, False)


def test_patch_of_a_missing_process_is_404(app_ctx: Flask, tenant: TenantKeys) -> None:
    with pytest.raises(NotFound) as info:
        store.save(tenant.id, "nope", {"enabled": False}, partial=True)
    assert (info.value.status, info.value.code) == (404, "business_process_not_found")


@pytest.mark.parametrize("partial", [False, True], ids=["put", "patch"])
def test_a_key_that_does_not_match_the_address_is_refused(
    app_ctx: Flask, tenant: TenantKeys, partial: bool
) -> None:
    body = {**process_definition(), "key": "order-picking"}
    with pytest.raises(Invalid) as info:
        store.save(tenant.id, "price-check", body, partial=partial)
    assert info.value.status == 422
    assert "key" in info.value.details["fields"]
    assert store.current(tenant.id, "price-check").version == 1
    assert store.current(tenant.id, "order-picking").version == 1


def test_a_chain_loop_is_refused(app_ctx: Flask, tenant: TenantKeys) -> None:
    # transfer-shipment → transfer-receipt already; closing the circle is a loop.
    with pytest.raises(Invalid) as info:
        store.save(
            tenant.id,
            "transfer-receipt",
            {"next_business_process": "transfer-shipment"},
            partial=True,
        )
    err = info.value
    assert (err.status, err.code) == (422, "process_chain_loop")
    assert "next_business_process" in err.details["fields"]
    assert "transfer-receipt" in err.message
    assert "transfer-shipment" in err.message
    assert store.current(tenant.id, "transfer-receipt").version == 1


def test_a_longer_chain_loop_is_refused(app_ctx: Flask, tenant: TenantKeys) -> None:
    # stock-count → order-picking → transfer-shipment → transfer-receipt → stock-count
    store.save(
        tenant.id, "order-picking", {"next_business_process": "transfer-shipment"}, partial=True
    )
    store.save(tenant.id, "stock-count", {"next_business_process": "order-picking"}, partial=True)
    with pytest.raises(Invalid) as info:
        store.save(
            tenant.id, "transfer-receipt", {"next_business_process": "stock-count"}, partial=True
        )
    assert info.value.code == "process_chain_loop"


def test_a_chain_to_another_existing_process_is_accepted(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    row = store.save(
        tenant.id, "transfer-receipt", {"next_business_process": "price-check"}, partial=True
    )
    assert row.definition["next_business_process"] == "price-check"


def test_an_unknown_next_process_is_refused(app_ctx: Flask, tenant: TenantKeys) -> None:
    with pytest.raises(Invalid) as info:
        store.save(tenant.id, "price-check", {"next_business_process": "ghost"}, partial=True)
    err = info.value
    assert err.status == 422
    assert "next_business_process" in err.details["fields"]
    assert "ghost" in err.message
    assert store.current(tenant.id, "price-check").version == 1


def test_edits_stay_within_the_tenant(
    app_ctx: Flask, tenant: TenantKeys, other_tenant: TenantKeys
) -> None:
    store.save(tenant.id, "price-check", {"enabled": False}, partial=True)
    assert store.current(other_tenant.id, "price-check").enabled is True
    assert store.current(other_tenant.id, "price-check").version == 1


def versions(tenant_id: int) -> dict[str, int]:
    return {row.key: row.version for row in store.list_current(tenant_id)}


def test_import_keeps_unchanged_and_bumps_changed(
    tenant: TenantKeys, app_ctx: Flask, tmp_path: Path
) -> None:
    definitions = load_directory(SHIPPED)
    with transaction():
        outcome = store.import_definitions(tenant.id, definitions)
    assert outcome == dict.fromkeys(SHIPPED_KEYS, "unchanged")
    assert versions(tenant.id) == dict.fromkeys(SHIPPED_KEYS, 1)

    changed = {
        **definitions,
        "stock-count": {**definitions["stock-count"], "keep_merged_document": False},
    }
    with transaction():
        outcome = store.import_definitions(tenant.id, changed)
    assert outcome["stock-count"] == "updated"
    assert {k for k, v in outcome.items() if v != "unchanged"} == {"stock-count"}
    assert versions(tenant.id) == {**dict.fromkeys(SHIPPED_KEYS, 1), "stock-count": 2}
    assert store.current(tenant.id, "stock-count")["keep_merged_document"] is False
    assert store.at_version(tenant.id, "stock-count", 1)["keep_merged_document"] is True

    # The same files again: nothing changes, the version stays.
    with transaction():
        outcome = store.import_definitions(tenant.id, changed)
    assert set(outcome.values()) == {"unchanged"}
    assert versions(tenant.id)["stock-count"] == 2


def test_import_adds_a_new_chain_at_once(
    tenant: TenantKeys, app_ctx: Flask, tmp_path: Path
) -> None:
    # Keys sort so that the process chaining onward comes first: import must order them.
    write_process(tmp_path, process_definition("a-return", next_business_process="b-restock"))
    write_process(tmp_path, process_definition("b-restock", next_business_process="c-putaway"))
    write_process(
        tmp_path, process_definition("c-putaway", next_business_process="transfer-receipt")
    )
    for key in ("transfer-receipt",):
        (tmp_path / f"{key}.yaml").write_text(
            (SHIPPED / f"{key}.yaml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    with transaction():
        outcome = store.import_definitions(tenant.id, load_directory(tmp_path))
    assert outcome == {
        "transfer-receipt": "unchanged",
        "c-putaway": "created",
        "b-restock": "created",
        "a-return": "created",
    }
    assert store.current(tenant.id, "a-return")["next_business_process"] == "b-restock"
    assert store.current(tenant.id, "c-putaway").version == 1


def test_import_refuses_a_loop_with_the_tenants_own_processes(
    tenant: TenantKeys, app_ctx: Flask
) -> None:
    receipt = load_file(SHIPPED / "transfer-receipt.yaml")
    looping = {**receipt, "next_business_process": "transfer-shipment"}
    with pytest.raises(Invalid) as caught, transaction():
        store.import_definitions(tenant.id, {"transfer-receipt": looping})
    assert caught.value.code == "process_chain_loop"
    assert versions(tenant.id)["transfer-receipt"] == 1

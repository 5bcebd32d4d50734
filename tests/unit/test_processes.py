"""Business processes: the schema, YAML files, the shipped set, and a tenant's edits."""

import textwrap
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from relay.errors import Invalid, NotFound
from relay.processes import files, schema, store
from relay.processes.files import ProcessFileError
from tests.helpers import TenantKeys

MINIMAL: dict[str, Any] = {
    "key": "cycle-count",
    "name": "Выборочный пересчёт",
    "source_document_type": "Пересчёт товаров",
    "terminal_document_type": "Пересчёт",
    "result_document_type": "Пересчёт товаров",
    "assign_to": "users",
}

MINIMAL_YAML = """\
key: {key}
name: Выборочный пересчёт
source_document_type: Пересчёт товаров
terminal_document_type: Пересчёт
result_document_type: Пересчёт товаров
assign_to: users
"""


class AnyText:
    """Equal to any non-empty string."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    def __hash__(self) -> int:
        return 0


def invalid(data: dict[str, Any]) -> Invalid:
    with pytest.raises(Invalid) as info:
        schema.validate_definition(data)
    assert info.value.status == 422
    return info.value


# -- the schema ------------------------------------------------------------------------------


def test_defaults_are_filled_in() -> None:
    definition = schema.validate_definition(MINIMAL)
    assert definition == {
        **MINIMAL,
        "enabled": True,
        "load_into_source_document": False,
        "next_business_process": None,
        "assignees": None,
        "per_user_copy": False,
        "collective_work": False,
        "keep_merged_document": True,
        "quantity_control": "none",
        "on_load": {
            "create_new_document": True,
            "post_after_load": False,
            "write_after_load": "always",
        },
        "fields": {
            "header_to_terminal": None,
            "lines_to_terminal": None,
            "header_from_terminal": ["comment"],
            "lines_from_terminal": [
                "product_id",
                "barcode",
                "name",
                "unit",
                "serial",
                "lot",
                "cell",
                "marking_code",
                "expiry_date",
            ],
        },
        "claim_limit_minutes": None,
    }


def test_nested_defaults_are_filled_in_partly_given_objects() -> None:
    definition = schema.validate_definition(
        {
            **MINIMAL,
            "on_load": {"post_after_load": True},
            "fields": {"lines_to_terminal": ["name"]},
            "assignees": {"users": ["anna"]},
        }
    )
    assert definition["on_load"] == {
        "create_new_document": True,
        "post_after_load": True,
        "write_after_load": "always",
    }
    assert definition["fields"]["lines_to_terminal"] == ["name"]
    assert definition["fields"]["header_from_terminal"] == ["comment"]
    assert definition["assignees"] == {"users": ["anna"], "groups": []}


def test_the_given_input_is_not_changed() -> None:
    data = dict(MINIMAL)
    schema.validate_definition(data)
    assert data == MINIMAL


def test_every_missing_required_field_is_named() -> None:
    err = invalid({})
    assert set(err.details["fields"]) == {
        "key",
        "name",
        "source_document_type",
        "terminal_document_type",
        "result_document_type",
        "assign_to",
    }


def test_every_invalid_field_is_named_in_one_answer() -> None:
    err = invalid(
        {
            **MINIMAL,
            "key": "Bad Key",
            "name": "",
            "enabled": "maybe",
            "assign_to": "robots",
            "quantity_control": "strict",
            "on_load": {"write_after_load": "sometimes"},
            "fields": {"header_to_terminal": ["bad-name"]},
            "claim_limit_minutes": 0,
            "colour": "red",
        }
    )
    fields = err.details["fields"]
    assert set(fields) == {
        "key",
        "name",
        "enabled",
        "assign_to",
        "quantity_control",
        "on_load",
        "fields",
        "claim_limit_minutes",
        "colour",
    }
    assert set(fields["on_load"]) == {"write_after_load"}
    assert set(fields["fields"]) == {"header_to_terminal"}
    assert "field 'key'" in err.message


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"assign_to": "everyone"}, "assign_to"),
        ({"quantity_control": "approx"}, "quantity_control"),
        ({"on_load": {"write_after_load": "maybe"}}, "on_load.write_after_load"),
        ({"on_load": {"post": True}}, "on_load.post"),
        ({"assignees": {"teams": ["a"]}}, "assignees.teams"),
        ({"next_business_process": "Not A Key"}, "next_business_process"),
        ({"claim_limit_minutes": "5"}, "claim_limit_minutes"),
        ({"claim_limit_minutes": 60 * 24 * 30 + 1}, "claim_limit_minutes"),
        ({"key": "x" * 65}, "key"),
        ({"name": "x" * 201}, "name"),
        ({"per_user_copy": "often"}, "per_user_copy"),
    ],
)
def test_the_message_names_the_field(patch: dict[str, Any], field: str) -> None:
    err = invalid({**MINIMAL, **patch})
    assert f"field '{field}'" in err.message


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"assign_to": "device", "assignees": {"users": ["anna"]}}, "assignees"),
        ({"assign_to": "device", "assignees": {"groups": ["pickers"]}}, "assignees"),
        ({"assign_to": "device", "per_user_copy": True}, "per_user_copy"),
        ({"assign_to": "device", "collective_work": True}, "collective_work"),
        ({"per_user_copy": True, "collective_work": True}, "collective_work"),
        ({"next_business_process": "cycle-count"}, "next_business_process"),
    ],
    ids=[
        "device+assignee-users",
        "device+assignee-groups",
        "device+per_user_copy",
        "device+collective",
        "collective+per_user_copy",
        "chain-to-itself",
    ],
)
def test_cross_field_rules(patch: dict[str, Any], field: str) -> None:
    err = invalid({**MINIMAL, **patch})
    assert list(err.details["fields"]) == [field]
    assert f"field '{field}'" in err.message


def test_a_device_process_may_carry_empty_assignees() -> None:
    definition = schema.validate_definition(
        {**MINIMAL, "assign_to": "device", "assignees": {"users": [], "groups": []}}
    )
    assert definition["assign_to"] == "device"


@pytest.mark.parametrize(
    "patch",
    [
        {"per_user_copy": True, "assignees": {"groups": ["pickers"]}},
        {"collective_work": True, "keep_merged_document": False},
        {"next_business_process": "transfer-receipt", "quantity_control": "exact"},
        {"assign_to": "device", "quantity_control": "no_excess", "claim_limit_minutes": 600},
    ],
)
def test_coherent_combinations_pass(patch: dict[str, Any]) -> None:
    definition = schema.validate_definition({**MINIMAL, **patch})
    for name, value in patch.items():
        if name != "assignees":
            assert definition[name] == value


def test_dump_definition_uses_the_schema_order_and_the_fields_name() -> None:
    definition = schema.validate_definition(MINIMAL)
    dumped = schema.dump_definition(dict(reversed(list(definition.items()))))
    assert list(dumped)[:3] == ["key", "name", "enabled"]
    assert "fields" in dumped
    assert dumped == definition


# -- YAML files ------------------------------------------------------------------------------


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def file_error(path: Path) -> str:
    with pytest.raises(ProcessFileError) as info:
        files.load_file(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "cycle-count.yaml", MINIMAL_YAML.format(key="cycle-count"))
    assert files.load_file(path) == schema.validate_definition(MINIMAL)


def test_a_file_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """Windows editors often write UTF-8 with a BOM."""
    path = tmp_path / "cycle-count.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL_YAML.format(key="cycle-count").encode())
    assert files.load_file(path)["name"] == "Выборочный пересчёт"


def test_bad_yaml_syntax_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cycle-count.yaml",
        MINIMAL_YAML.format(key="cycle-count") + "fields: [unclosed\n",
    )
    message = file_error(path)
    assert "YAML" in message
    assert "line 7" in message


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str"), ("", "NoneType")]
)
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    message = file_error(write(tmp_path, "cycle-count.yaml", text))
    assert "mapping" in message
    assert kind in message


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("colour: red\n", "colour"),
        ("quantity_control: approx\n", "quantity_control"),
        ("assign_to_device: true\n", "assign_to_device"),
        ("on_load:\n  write_after_load: sometimes\n", "on_load.write_after_load"),
        ("fields:\n  header_from_terminal: comment\n", "fields.header_from_terminal"),
        ("per_user_copy: true\ncollective_work: true\n", "collective_work"),
    ],
)
def test_a_bad_field_names_the_file_and_the_field(tmp_path: Path, extra: str, field: str) -> None:
    path = write(tmp_path, "cycle-count.yaml", MINIMAL_YAML.format(key="cycle-count") + extra)
    assert f"field '{field}'" in file_error(path)


def test_a_bad_enum_in_an_otherwise_full_file(tmp_path: Path) -> None:
    text = (files.SHIPPED_DIR / "order-picking.yaml").read_text(encoding="utf-8")
    path = write(tmp_path, "order-picking.yaml", text.replace("users", "people", 1))
    message = file_error(path)
    assert "field 'assign_to'" in message
    assert "users, device" in message


def test_a_field_written_twice_is_refused(tmp_path: Path) -> None:
    """An edit that adds quantity_control without removing the old line is a mistake to report."""
    text = (
        MINIMAL_YAML.format(key="cycle-count") + "quantity_control: exact\nquantity_control: none\n"
    )
    assert "quantity_control" in file_error(write(tmp_path, "cycle-count.yaml", text))


def test_the_key_must_match_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "cycle.yaml", MINIMAL_YAML.format(key="cycle-count"))
    message = file_error(path)
    assert "field 'key'" in message
    assert "cycle-count.yaml" in message


def test_a_directory_loads_every_file_by_key(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", MINIMAL_YAML.format(key="a") + "next_business_process: b\n")
    write(tmp_path, "b.yaml", MINIMAL_YAML.format(key="b"))
    write(tmp_path, "notes.txt", "not a process")
    loaded = files.load_directory(tmp_path)
    assert sorted(loaded) == ["a", "b"]
    assert loaded["a"]["next_business_process"] == "b"


def test_a_dangling_chain_names_the_file_and_the_field(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", MINIMAL_YAML.format(key="a"))
    write(tmp_path, "b.yaml", MINIMAL_YAML.format(key="b") + "next_business_process: ghost\n")
    with pytest.raises(ProcessFileError) as info:
        files.load_directory(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "b.yaml") in message
    assert "field 'next_business_process'" in message
    assert "ghost" in message


def test_one_bad_file_fails_the_directory_naming_it(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", MINIMAL_YAML.format(key="a"))
    write(tmp_path, "b.yaml", MINIMAL_YAML.format(key="b") + "quantity_control: lots\n")
    with pytest.raises(ProcessFileError) as info:
        files.load_directory(tmp_path)
    assert str(tmp_path / "b.yaml") in str(info.value)
    assert "field 'quantity_control'" in str(info.value)


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProcessFileError) as info:
        files.load_directory(tmp_path / "nowhere")
    assert "nowhere" in str(info.value)


def test_shipped_directory_can_be_overridden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELAY_BUSINESS_PROCESSES_DIR", raising=False)
    assert files.shipped_directory() == files.SHIPPED_DIR
    monkeypatch.setenv("RELAY_BUSINESS_PROCESSES_DIR", str(tmp_path))
    assert files.shipped_directory() == tmp_path


# -- the shipped processes -------------------------------------------------------------------

SHIPPED_FILES = sorted(files.SHIPPED_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=[p.stem for p in SHIPPED_FILES])
def test_every_shipped_file_loads(path: Path) -> None:
    definition = files.load_file(path)
    assert definition["key"] == path.stem
    assert definition["enabled"] is True


def test_the_shipped_set_covers_the_five_kinds_of_work() -> None:
    shipped = files.load_directory(files.SHIPPED_DIR)
    assert len(shipped) >= 5

    def one(**want: Any) -> dict[str, Any]:
        found = [d for d in shipped.values() if all(d[k] == v for k, v in want.items())]
        assert found, f"no shipped process with {want}"
        return found[0]

    # Purchase receipt from a supplier order, on a device with no excess accepted.
    receipt = one(source_document_type="Заказ поставщику")
    assert receipt["assign_to"] == "device"
    assert receipt["quantity_control"] == "no_excess"
    # Picking of a customer order.
    picking = one(source_document_type="Заказ клиента")
    assert picking["quantity_control"] == "exact"
    # A transfer between warehouses: the shipment chains to the receipt.
    shipment = one(source_document_type="Перемещение товаров", next_business_process=AnyText())
    assert shipped[shipment["next_business_process"]]["source_document_type"] == (
        "Перемещение товаров"
    )
    # A stock count, worked collectively into one merged result.
    count = one(collective_work=True)
    assert count["keep_merged_document"] is True
    assert count["assign_to"] == "users"
    # A price check.
    prices = one(terminal_document_type="Проверка ценников")
    assert prices["assign_to"] == "users"


# -- a tenant's copies: store.save ------------------------------------------------------


def test_a_new_tenant_has_the_shipped_processes_at_version_1(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    rows = store.list_current(tenant.id)
    shipped = files.load_directory(files.SHIPPED_DIR)
    assert [r.key for r in rows] == sorted(shipped)
    assert {r.version for r in rows} == {1}
    assert all(r.definition == shipped[r.key] for r in rows)


def test_put_creates_a_process_at_version_1(app_ctx: Flask, tenant: TenantKeys) -> None:
    body = {k: v for k, v in MINIMAL.items() if k != "key"}
    row = store.save(tenant.id, "cycle-count", body, partial=False)
    assert row.version == 1
    assert row.definition == schema.validate_definition(MINIMAL)
    assert store.current(tenant.id, "cycle-count").quantity_control == "none"


def test_put_replaces_the_whole_definition_and_bumps_the_version(
    app_ctx: Flask, tenant: TenantKeys
) -> None:
    before = store.current(tenant.id, "purchase-receipt")
    assert before.quantity_control == "no_excess"
    body = {**MINIMAL, "key": "purchase-receipt", "assign_to": "device"}
    row = store.save(tenant.id, "purchase-receipt", body, partial=False)
    assert row.version == 2
    # What the body leaves out goes back to its default: PUT is a replacement.
    assert row.definition["quantity_control"] == "none"
    assert row.definition["on_load"]["write_after_load"] == "always"
    assert row.definition["name"] == MINIMAL["name"]


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
    body = {**MINIMAL, "key": "order-picking"}
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

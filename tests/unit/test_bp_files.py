"""Business processes as YAML files: reading a directory, writing YAML, importing into a tenant."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

from relay.db import transaction
from relay.errors import Invalid
from relay.processes import files, schema, store
from relay.processes.files import ProcessFileError, load_directory, load_file, to_yaml
from tests.helpers import TenantKeys

SHIPPED = files.SHIPPED_DIR
KEYS = [
    "order-picking",
    "price-check",
    "purchase-receipt",
    "stock-count",
    "transfer-receipt",
    "transfer-shipment",
]


def minimal(key: str, **extra: Any) -> dict[str, Any]:
    return {
        "key": key,
        "name": f"Процесс {key}",
        "source_document_type": "Заказ",
        "terminal_document_type": "Сборка",
        "result_document_type": "Расход",
        "assign_to": "users",
        **extra,
    }


def write(directory: Path, definition: dict[str, Any], name: str | None = None) -> Path:
    path = directory / f"{name or definition['key']}.yaml"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_directory_is_valid() -> None:
    definitions = load_directory(SHIPPED)
    assert sorted(definitions) == KEYS
    assert definitions["transfer-shipment"]["next_business_process"] == "transfer-receipt"
    assert definitions["stock-count"]["collective_work"] is True


def test_a_loop_names_the_file_and_the_field(tmp_path: Path) -> None:
    write(tmp_path, minimal("a", next_business_process="b"))
    write(tmp_path, minimal("b", next_business_process="c"))
    write(tmp_path, minimal("c", next_business_process="a"))
    with pytest.raises(ProcessFileError) as caught:
        load_directory(tmp_path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "a.yaml") + ":")
    assert "field 'next_business_process'" in message
    assert "a → b → c → a" in message
    assert "loops" in message


def test_a_chain_to_a_missing_process_names_the_file_and_the_field(tmp_path: Path) -> None:
    write(tmp_path, minimal("a"))
    write(tmp_path, minimal("b", next_business_process="nowhere"))
    with pytest.raises(ProcessFileError) as caught:
        load_directory(tmp_path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "b.yaml") + ":")
    assert "field 'next_business_process'" in message
    assert "'nowhere'" in message


def test_a_chain_without_a_loop_is_accepted(tmp_path: Path) -> None:
    write(tmp_path, minimal("a", next_business_process="b"))
    write(tmp_path, minimal("b", next_business_process="c"))
    write(tmp_path, minimal("c"))
    assert sorted(load_directory(tmp_path)) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity_control": "lots"}, "quantity_control"),
        ({"assign_to": "robots"}, "assign_to"),
        ({"on_load": {"write_after_load": "sometimes"}}, "on_load.write_after_load"),
        ({"fields": {"header_to_terminal": ["bad name"]}}, "fields.header_to_terminal.0"),
        ({"claim_limit_minutes": 0}, "claim_limit_minutes"),
        ({"colour": "red"}, "colour"),
        ({"name": None}, "name"),
    ],
)
def test_a_bad_field_names_the_file_and_the_field(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    write(tmp_path, minimal("good"))
    write(tmp_path, {**minimal("bad"), **change})
    with pytest.raises(ProcessFileError) as caught:
        load_directory(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'bad.yaml'}: field '{field}'")


def test_a_rule_across_fields_names_the_file_and_the_field(tmp_path: Path) -> None:
    write(tmp_path, minimal("bad", per_user_copy=True, collective_work=True))
    with pytest.raises(ProcessFileError) as caught:
        load_directory(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'bad.yaml'}: field 'collective_work'")


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    definition = minimal("bad")
    del definition["result_document_type"]
    path = write(tmp_path, definition)
    with pytest.raises(ProcessFileError) as caught:
        load_file(path)
    assert str(caught.value).startswith(f"{path}: field 'result_document_type'")


def test_the_file_must_be_named_after_its_key(tmp_path: Path) -> None:
    path = write(tmp_path, minimal("real-key"), name="other-name")
    with pytest.raises(ProcessFileError) as caught:
        load_file(path)
    assert str(caught.value).startswith(f"{path}: field 'key'")
    assert "real-key.yaml" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "what"),
    [("key: [unclosed\n", "cannot read YAML"), ("- a\n- b\n", "expected a mapping")],
)
def test_a_file_that_is_not_a_definition(tmp_path: Path, text: str, what: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProcessFileError) as caught:
        load_directory(tmp_path)
    assert str(caught.value).startswith(f"{path}: {what}")


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ProcessFileError, match="not a directory"):
        load_directory(tmp_path / "missing")


@pytest.mark.parametrize("key", KEYS)
def test_to_yaml_round_trips_through_load_file(tmp_path: Path, key: str) -> None:
    definition = load_file(SHIPPED / f"{key}.yaml")
    text = to_yaml(definition)
    # Cyrillic stays readable and the fields come in the schema's order.
    assert definition["name"] in text
    assert "\\u" not in text
    assert list(yaml.safe_load(text)) == list(schema.dump_definition(definition))
    assert list(yaml.safe_load(text))[:2] == ["key", "name"]
    path = tmp_path / f"{key}.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_file(path) == definition


def test_to_yaml_keeps_every_optional_value(tmp_path: Path) -> None:
    definition = load_file(write(tmp_path, minimal("full")))
    definition.update(
        claim_limit_minutes=90,
        assignees={"users": ["ivanov"], "groups": ["Общая"]},
        fields={**definition["fields"], "lines_to_terminal": ["product_id"]},
    )
    path = tmp_path / "full.yaml"
    path.write_text(to_yaml(definition), encoding="utf-8")
    assert load_file(path) == definition


# -- import into a tenant -------------------------------------------------------------------


def versions(tenant_id: int) -> dict[str, int]:
    return {row.key: row.version for row in store.list_current(tenant_id)}


def test_import_keeps_unchanged_and_bumps_changed(
    tenant: TenantKeys, app_ctx: Flask, tmp_path: Path
) -> None:
    definitions = load_directory(SHIPPED)
    with transaction():
        outcome = store.import_definitions(tenant.id, definitions)
    assert outcome == dict.fromkeys(KEYS, "unchanged")
    assert versions(tenant.id) == dict.fromkeys(KEYS, 1)

    changed = {
        **definitions,
        "stock-count": {**definitions["stock-count"], "keep_merged_document": False},
    }
    with transaction():
        outcome = store.import_definitions(tenant.id, changed)
    assert outcome["stock-count"] == "updated"
    assert {k for k, v in outcome.items() if v != "unchanged"} == {"stock-count"}
    assert versions(tenant.id) == {**dict.fromkeys(KEYS, 1), "stock-count": 2}
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
    write(tmp_path, minimal("a-return", next_business_process="b-restock"))
    write(tmp_path, minimal("b-restock", next_business_process="c-putaway"))
    write(tmp_path, minimal("c-putaway", next_business_process="transfer-receipt"))
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

"""Business processes as YAML files: one file, a directory, writing YAML, the shipped set."""

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from relay.processes import files, schema
from relay.processes.files import ProcessFileError, load_directory, load_file, to_yaml
from tests.factories import SHIPPED_KEYS, process_definition, process_yaml, write_process
from tests.helpers import AnyText

SHIPPED = files.SHIPPED_DIR


def test_the_shipped_directory_is_valid() -> None:
    definitions = load_directory(SHIPPED)
    assert sorted(definitions) == SHIPPED_KEYS
    assert definitions["transfer-shipment"]["next_business_process"] == "transfer-receipt"
    assert definitions["stock-count"]["collective_work"] is True


def test_a_loop_names_the_file_and_the_field(tmp_path: Path) -> None:
    write_process(tmp_path, process_definition("a", next_business_process="b"))
    write_process(tmp_path, process_definition("b", next_business_process="c"))
    write_process(tmp_path, process_definition("c", next_business_process="a"))
    with pytest.raises(ProcessFileError) as caught:
        load_directory(tmp_path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "a.yaml") + ":")
    assert "field 'next_business_process'" in message
    assert "a → b → c → a" in message
    assert "loops" in message


def test_a_chain_to_a_missing_process_names_the_file_and_the_field(tmp_path: Path) -> None:
    write_process(tmp_path, process_definition("a"))
    write_process(tmp_path, process_definition("b", next_business_process="nowhere"))
    with pytest.raises(ProcessFileError) as caught:
        load_directory(tmp_path)
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "b.yaml") + ":")
    assert "field 'next_business_process'" in message
    assert "'nowhere'" in message


def test_a_chain_without_a_loop_is_accepted(tmp_path: Path) -> None:
    write_process(tmp_path, process_definition("a", next_business_process="b"))
    write_process(tmp_path, process_definition("b", next_business_process="c"))
    write_process(tmp_path, process_definition("c"))
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
    write_process(tmp_path, process_definition("good"))
    write_process(tmp_path, {**process_definition("bad"), **change})
    with pytest.raises(ProcessFileError) as caught:
        load_directory(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'bad.yaml'}: field '{field}'")


def test_a_rule_across_fields_names_the_file_and_the_field(tmp_path: Path) -> None:
    write_process(tmp_path, process_definition("bad", per_user_copy=True, collective_work=True))
    with pytest.raises(ProcessFileError) as caught:
        load_directory(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path / 'bad.yaml'}: field 'collective_work'")


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    definition = process_definition("bad")
    del definition["result_document_type"]
    path = write_process(tmp_path, definition)
    with pytest.raises(ProcessFileError) as caught:
        load_file(path)
    assert str(caught.value).startswith(f"{path}: field 'result_document_type'")


def test_the_file_must_be_named_after_its_key(tmp_path: Path) -> None:
    path = write_process(tmp_path, process_definition("real-key"), name="other-name")
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


@pytest.mark.parametrize("key", SHIPPED_KEYS)
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
    definition = load_file(write_process(tmp_path, process_definition("full")))
    definition.update(
        claim_limit_minutes=90,
        assignees={"users": ["ivanov"], "groups": ["Общая"]},
        fields={**definition["fields"], "lines_to_terminal": ["product_id"]},
    )
    path = tmp_path / "full.yaml"
    path.write_text(to_yaml(definition), encoding="utf-8")
    assert load_file(path) == definition


# -- one file, read alone -------------------------------------------------------------------


def write_text(directory: Path, name: str, text: str) -> Path:
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
    path = write_text(tmp_path, "cycle-count.yaml", process_yaml("cycle-count"))
    assert files.load_file(path) == schema.validate_definition(process_definition())


def test_a_file_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """Windows editors often write UTF-8 with a BOM."""
    path = tmp_path / "cycle-count.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + process_yaml("cycle-count").encode())
    assert files.load_file(path)["name"] == "Выборочный пересчёт"


def test_bad_yaml_syntax_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write_text(
        tmp_path,
        "cycle-count.yaml",
        process_yaml("cycle-count") + "fields: [unclosed\n",
    )
    message = file_error(path)
    assert "YAML" in message
    assert "line 7" in message


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str"), ("", "NoneType")]
)
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    message = file_error(write_text(tmp_path, "cycle-count.yaml", text))
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
def test_a_bad_field_of_one_file_names_the_file_and_the_field(
    tmp_path: Path, extra: str, field: str
) -> None:
    path = write_text(tmp_path, "cycle-count.yaml", process_yaml("cycle-count") + extra)
    assert f"field '{field}'" in file_error(path)


def test_a_bad_enum_in_an_otherwise_full_file(tmp_path: Path) -> None:
    text = (files.SHIPPED_DIR / "order-picking.yaml").read_text(encoding="utf-8")
    path = write_text(tmp_path, "order-picking.yaml", text.replace("users", "people", 1))
    message = file_error(path)
    assert "field 'assign_to'" in message
    assert "users, device" in message


def test_a_field_written_twice_is_refused(tmp_path: Path) -> None:
    """An edit that adds quantity_control without removing the old line is a mistake to report."""
    text = process_yaml("cycle-count") + "quantity_control: exact\nquantity_control: none\n"
    assert "quantity_control" in file_error(write_text(tmp_path, "cycle-count.yaml", text))


def test_the_key_must_match_the_file_name(tmp_path: Path) -> None:
    path = write_text(tmp_path, "cycle.yaml", process_yaml("cycle-count"))
    message = file_error(path)
    assert "field 'key'" in message
    assert "cycle-count.yaml" in message


def test_a_directory_loads_every_file_by_key(tmp_path: Path) -> None:
    write_text(tmp_path, "a.yaml", process_yaml("a") + "next_business_process: b\n")
    write_text(tmp_path, "b.yaml", process_yaml("b"))
    write_text(tmp_path, "notes.txt", "not a process")
    loaded = files.load_directory(tmp_path)
    assert sorted(loaded) == ["a", "b"]
    assert loaded["a"]["next_business_process"] == "b"


def test_a_dangling_chain_names_the_file_and_the_field(tmp_path: Path) -> None:
    write_text(tmp_path, "a.yaml", process_yaml("a"))
    write_text(tmp_path, "b.yaml", process_yaml("b") + "next_business_process: ghost\n")
    with pytest.raises(ProcessFileError) as info:
        files.load_directory(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "b.yaml") in message
    assert "field 'next_business_process'" in message
    assert "ghost" in message


def test_one_bad_file_fails_the_directory_naming_it(tmp_path: Path) -> None:
    write_text(tmp_path, "a.yaml", process_yaml("a"))
    write_text(tmp_path, "b.yaml", process_yaml("b") + "quantity_control: lots\n")
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

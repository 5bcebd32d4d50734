"""The process schema: defaults, every invalid field named, cross-field rules, dumping."""

from typing import Any

import pytest

from relay.errors import Invalid
from relay.processes import schema
from tests.factories import process_definition


def invalid(data: dict[str, Any]) -> Invalid:
    with pytest.raises(Invalid) as info:
        schema.validate_definition(data)
    assert info.value.status == 422
    return info.value


def test_defaults_are_filled_in() -> None:
    definition = schema.validate_definition(process_definition())
    assert definition == {
        **process_definition(),
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
            **process_definition(),
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
    data = dict(process_definition())
    schema.validate_definition(data)
    assert data == process_definition()


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
            **process_definition(),
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
    err = invalid({**process_definition(), **patch})
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
    err = invalid({**process_definition(), **patch})
    assert list(err.details["fields"]) == [field]
    assert f"field '{field}'" in err.message


def test_a_device_process_may_carry_empty_assignees() -> None:
    definition = schema.validate_definition(
        {**process_definition(), "assign_to": "device", "assignees": {"users": [], "groups": []}}
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
    definition = schema.validate_definition({**process_definition(), **patch})
    for name, value in patch.items():
        if name != "assignees":
            assert definition[name] == value


def test_dump_definition_uses_the_schema_order_and_the_fields_name() -> None:
    definition = schema.validate_definition(process_definition())
    dumped = schema.dump_definition(dict(reversed(list(definition.items()))))
    assert list(dumped)[:3] == ["key", "name", "enabled"]
    assert "fields" in dumped
    assert dumped == definition

"""Business processes as YAML files: the shipped directory, strict loading, writing back."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import marshmallow as ma
import yaml

from relay.errors import first_field_error
from relay.processes.schema import _schema, chain_loop, dump_definition

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "business_processes"


class ProcessFileError(Exception):
    """A YAML file that is not a valid business process; the message names file and field."""


class _StrictLoader(yaml.SafeLoader):
    """YAML without silent surprises: a field written twice is an error, not the last wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"field {key!r} is written twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_file(path: Path) -> dict[str, Any]:
    """Read and validate one YAML definition; its file name must be ``<key>.yaml``."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ProcessFileError(f"{path}: cannot read YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ProcessFileError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    try:
        definition = dict(_schema.load(raw))
    except ma.ValidationError as err:
        raise ProcessFileError(f"{path}: {(first_field_error(err.messages) or 'invalid')}") from err
    if path.name != f"{definition['key']}.yaml":
        raise ProcessFileError(
            f"{path}: field 'key': is {definition['key']!r}, but the file must be named "
            f"after its key ({definition['key']}.yaml)"
        )
    return definition


def load_directory(
    directory: Path | str, *, complete_chains: bool = True
) -> dict[str, dict[str, Any]]:
    """Read every ``*.yaml`` in a directory; fail on the first bad file or a broken chain.

    With ``complete_chains`` False, a next_business_process outside the directory is left to
    be checked against the tenant when the files are imported.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ProcessFileError(f"{directory}: not a directory")
    definitions: dict[str, dict[str, Any]] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        definition = load_file(path)
        definitions[definition["key"]] = definition
    for key, definition in definitions.items():
        nxt = definition.get("next_business_process")
        if nxt and nxt not in definitions and complete_chains:
            raise ProcessFileError(
                f"{directory / (key + '.yaml')}: field 'next_business_process': "
                f"no process {nxt!r} in {directory}"
            )
        loop = chain_loop(
            key,
            lambda name: (
                definitions[name].get("next_business_process") if name in definitions else None
            ),
        )
        if loop:
            raise ProcessFileError(
                f"{directory / (key + '.yaml')}: field 'next_business_process': the chain "
                + " → ".join(loop)
                + " loops"
            )
    return definitions


def to_yaml(definition: Mapping[str, Any]) -> str:
    """A definition as a YAML file, fields in the schema's order, Cyrillic as-is."""
    return yaml.safe_dump(
        dump_definition(definition), allow_unicode=True, sort_keys=False, width=100
    )


def shipped_directory() -> Path:
    """Where the shipped definitions are (RELAY_BUSINESS_PROCESSES_DIR overrides)."""
    return Path(os.environ.get("RELAY_BUSINESS_PROCESSES_DIR") or SHIPPED_DIR)

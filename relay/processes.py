"""Business processes: the schema every definition must pass, shipped files, tenant copies."""

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import marshmallow as ma
import yaml
from flask import current_app
from marshmallow import validate
from sqlalchemy import select

from relay.errors import Invalid, NotFound, first_field_error
from relay.extensions import db
from relay.models import BusinessProcess, BusinessProcessVersion
from relay.timeutil import utcnow

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "business_processes"
KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"

# Line fields every terminal receives and may send, whatever the process says. The declared
# quantity goes only where lines_to_terminal lists it (or sends everything): a stock count is
# counted blind.
LINE_FIELDS_ALWAYS_SENT = ("line_id",)
LINE_FIELDS_ALWAYS_ACCEPTED = ("line_id", "qty")


class _Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class OnLoadSchema(_Strict):
    create_new_document = ma.fields.Boolean(load_default=True)
    post_after_load = ma.fields.Boolean(load_default=False)
    write_after_load = ma.fields.String(
        load_default="always", validate=validate.OneOf(["always", "online_only", "never"])
    )


class AssigneesSchema(_Strict):
    users = ma.fields.List(ma.fields.String(validate=validate.Length(1, 64)), load_default=list)
    groups = ma.fields.List(ma.fields.String(validate=validate.Length(1, 100)), load_default=list)


_FIELD_NAME = ma.fields.String(validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"))


class FieldsSchema(_Strict):
    """Which fields travel: ``null`` (the default for what goes to terminals) means all."""

    header_to_terminal = ma.fields.List(_FIELD_NAME, allow_none=True, load_default=None)
    lines_to_terminal = ma.fields.List(_FIELD_NAME, allow_none=True, load_default=None)
    header_from_terminal = ma.fields.List(_FIELD_NAME, load_default=lambda: ["comment"])
    lines_from_terminal = ma.fields.List(
        _FIELD_NAME,
        load_default=lambda: [
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
    )


class ProcessSchema(_Strict):
    """A business process as written in YAML and as sent to the admin API."""

    key = ma.fields.String(required=True, validate=validate.Regexp(KEY_PATTERN))
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    enabled = ma.fields.Boolean(load_default=True)
    source_document_type = ma.fields.String(required=True, validate=validate.Length(1, 200))
    terminal_document_type = ma.fields.String(required=True, validate=validate.Length(1, 200))
    result_document_type = ma.fields.String(required=True, validate=validate.Length(1, 200))
    load_into_source_document = ma.fields.Boolean(load_default=False)
    next_business_process = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(KEY_PATTERN)
    )
    assign_to = ma.fields.String(required=True, validate=validate.OneOf(["users", "device"]))
    assignees = ma.fields.Nested(AssigneesSchema, load_default=None, allow_none=True)
    per_user_copy = ma.fields.Boolean(load_default=False)
    collective_work = ma.fields.Boolean(load_default=False)
    keep_merged_document = ma.fields.Boolean(load_default=True)
    quantity_control = ma.fields.String(
        load_default="none", validate=validate.OneOf(["none", "no_excess", "exact"])
    )
    on_load = ma.fields.Nested(OnLoadSchema, load_default=lambda: OnLoadSchema().load({}))
    # Named apart from Schema.fields; read and written as "fields".
    field_rules = ma.fields.Nested(
        FieldsSchema,
        data_key="fields",
        attribute="fields",
        load_default=lambda: FieldsSchema().load({}),
    )
    claim_limit_minutes = ma.fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(1, 60 * 24 * 30)
    )

    @ma.validates_schema
    def _coherent(self, data: dict[str, Any], *, partial: Any = None, **_kwargs: Any) -> None:
        if partial:
            return  # a PATCH: the merged whole is validated again before it is saved
        assignees = data.get("assignees")
        if data["assign_to"] == "device":
            if assignees and (assignees["users"] or assignees["groups"]):
                raise ma.ValidationError(
                    "Fixed assignees need assign_to: users; a device process is sent to a device.",
                    "assignees",
                )
            if data["per_user_copy"]:
                raise ma.ValidationError(
                    "per_user_copy needs assign_to: users; a device has no users to copy for.",
                    "per_user_copy",
                )
            if data["collective_work"]:
                raise ma.ValidationError(
                    "collective_work needs assign_to: users; users join a collective document.",
                    "collective_work",
                )
        if data["per_user_copy"] and data["collective_work"]:
            raise ma.ValidationError(
                "A process is either worked together (collective_work) or copied per user "
                "(per_user_copy), not both.",
                "collective_work",
            )
        if data.get("key") and data.get("next_business_process") == data["key"]:
            raise ma.ValidationError("A process cannot chain to itself.", "next_business_process")


_schema = ProcessSchema()


@dataclass(frozen=True)
class Process:
    """A validated definition, typed for the rules that read it."""

    key: str
    version: int
    definition: Mapping[str, Any]

    @property
    def enabled(self) -> bool:
        return bool(self.definition["enabled"])

    @property
    def assign_to(self) -> str:
        return str(self.definition["assign_to"])

    @property
    def fixed_users(self) -> list[str]:
        return list((self.definition.get("assignees") or {}).get("users") or [])

    @property
    def fixed_groups(self) -> list[str]:
        return list((self.definition.get("assignees") or {}).get("groups") or [])

    @property
    def has_fixed_assignees(self) -> bool:
        return bool(self.fixed_users or self.fixed_groups)

    @property
    def per_user_copy(self) -> bool:
        return bool(self.definition["per_user_copy"])

    @property
    def collective_work(self) -> bool:
        return bool(self.definition["collective_work"])

    @property
    def quantity_control(self) -> str:
        return str(self.definition["quantity_control"])

    @property
    def fields(self) -> Mapping[str, Any]:
        rules: Mapping[str, Any] = self.definition["fields"]
        return rules

    def __getitem__(self, name: str) -> Any:
        return self.definition[name]


def validate_definition(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the definition with defaults filled in, or raise ``Invalid`` naming each field."""
    try:
        return dict(_schema.load(data))
    except ma.ValidationError as err:
        raise Invalid(
            "The business process is not valid: " + (first_field_error(err.messages) or "invalid"),
            details={"fields": err.messages},
        ) from err


def dump_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Return a definition in the key order of the schema (for YAML and answers)."""
    names = [field.data_key or name for name, field in _schema.fields.items()]
    return {name: definition[name] for name in names if name in definition}


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
        chain = [key]
        while nxt and nxt in definitions:
            if nxt in chain:
                raise ProcessFileError(
                    f"{directory / (key + '.yaml')}: field 'next_business_process': the chain "
                    + " → ".join([*chain, nxt])
                    + " loops"
                )
            chain.append(nxt)
            nxt = definitions[nxt].get("next_business_process")
    return definitions


def to_yaml(definition: Mapping[str, Any]) -> str:
    """A definition as a YAML file, fields in the schema's order, Cyrillic as-is."""
    return yaml.safe_dump(
        dump_definition(definition), allow_unicode=True, sort_keys=False, width=100
    )


def import_definitions(
    tenant_id: int, definitions: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Store definitions read from files as new versions; return what became of each key.

    Unchanged processes keep their version. Processes are saved in chain order (a process
    before the one that chains to it), so a directory may add a whole chain at once.
    """
    outcome: dict[str, str] = {}
    pending = dict(definitions)
    while pending:
        ready = [
            key
            for key, d in pending.items()
            if d.get("next_business_process") not in pending
            or d.get("next_business_process") == key
        ]
        for key in sorted(ready):
            definition = dict(pending.pop(key))
            existing = db.session.get(BusinessProcess, (tenant_id, key))
            if existing is not None and existing.definition == validate_definition(definition):
                outcome[key] = "unchanged"
                continue
            save(tenant_id, key, definition, partial=False)
            outcome[key] = "created" if existing is None else "updated"
    return outcome


def shipped_directory() -> Path:
    """Where the shipped definitions are (RELAY_BUSINESS_PROCESSES_DIR overrides)."""
    return Path(os.environ.get("RELAY_BUSINESS_PROCESSES_DIR") or SHIPPED_DIR)


# -- the tenant's copies ---------------------------------------------------------------------


def install(tenant_id: int, definitions: Iterable[Mapping[str, Any]]) -> None:
    """Add each definition to a tenant as version 1 (used when a tenant is created)."""
    for definition in definitions:
        _write(tenant_id, dict(definition), version=1, current=None)


def get(tenant_id: int, key: str, *, for_update: bool = False) -> BusinessProcess:
    """Return the tenant's current process ``key`` or raise 404."""
    stmt = select(BusinessProcess).where(
        BusinessProcess.tenant_id == tenant_id, BusinessProcess.key == key
    )
    if for_update:
        stmt = stmt.with_for_update()
    row = db.session.scalars(stmt).first()
    if row is None:
        raise NotFound(
            f"There is no business process {key!r}. The list is at "
            "GET /api/v1/admin/business-processes.",
            code="business_process_not_found",
            details={"business_process": key},
        )
    return row


def current(tenant_id: int, key: str) -> Process:
    """Return the current version of a process, typed."""
    row = get(tenant_id, key)
    return Process(key=row.key, version=row.version, definition=row.definition)


# A stored version never changes, so each worker keeps the ones it has read: claim, complete,
# the inbox and the results feed all need the process of the document at hand.
_VERSIONS_KEPT = 1024


def _versions() -> dict[tuple[int, str, int], Process]:
    return current_app.extensions.setdefault("relay.process_versions", {})


def at_version(tenant_id: int, key: str, version: int) -> Process:
    """Return a process as it was at ``version`` (what a document was pushed under)."""
    kept = _versions()
    process = kept.get((tenant_id, key, version))
    if process is None:
        row = db.session.get(BusinessProcessVersion, (tenant_id, key, version))
        if row is None:  # the foreign key from documents makes this unreachable
            raise NotFound(f"Business process {key!r} has no version {version}.")
        process = Process(key=row.key, version=row.version, definition=row.definition)
        if len(kept) >= _VERSIONS_KEPT:
            kept.clear()
        kept[(tenant_id, key, version)] = process
    return process


def list_current(tenant_id: int) -> list[BusinessProcess]:
    """Return the tenant's processes by key."""
    return list(
        db.session.scalars(
            select(BusinessProcess)
            .where(BusinessProcess.tenant_id == tenant_id)
            .order_by(BusinessProcess.key)
        )
    )


def save(tenant_id: int, key: str, data: Mapping[str, Any], *, partial: bool) -> BusinessProcess:
    """Validate and store a new version of ``key`` (PUT creates it when missing)."""
    if "key" in data and data["key"] != key:
        raise Invalid(
            f"The body names process {data['key']!r} but the address names {key!r}; "
            "a process key cannot be changed.",
            details={"fields": {"key": ["Must match the key in the address."]}},
        )
    existing = db.session.scalars(
        select(BusinessProcess)
        .where(BusinessProcess.tenant_id == tenant_id, BusinessProcess.key == key)
        .with_for_update()
    ).first()
    if partial:
        if existing is None:
            get(tenant_id, key)  # raises the 404
        assert existing is not None
        merged = {**existing.definition, **data}
        # Nested objects are merged one level deep, so PATCH {"on_load": {"post_after_load": true}}
        # keeps the other load instructions.
        for name in ("on_load", "fields", "assignees"):
            if isinstance(data.get(name), Mapping) and isinstance(
                existing.definition.get(name), Mapping
            ):
                merged[name] = {**existing.definition[name], **data[name]}
    else:
        merged = dict(data)
    merged["key"] = key
    definition = validate_definition(merged)
    check_chain(tenant_id, definition)
    if existing is None:
        return _write(tenant_id, definition, version=1, current=None)
    return _write(tenant_id, definition, version=existing.version + 1, current=existing)


def check_chain(tenant_id: int, definition: Mapping[str, Any]) -> None:
    """Refuse a ``next_business_process`` that does not exist or would make a loop."""
    key = definition["key"]
    nxt = definition.get("next_business_process")
    seen = [key]
    while nxt:
        if nxt in seen:
            raise Invalid(
                "This chain of processes would loop: " + " → ".join([*seen, nxt]) + ".",
                code="process_chain_loop",
                details={"fields": {"next_business_process": ["Would make a loop."]}},
            )
        row = db.session.get(BusinessProcess, (tenant_id, nxt))
        if row is None:
            raise Invalid(
                f"next_business_process names {nxt!r}, which this tenant does not have.",
                details={"fields": {"next_business_process": ["Unknown process."]}},
            )
        seen.append(nxt)
        nxt = row.definition.get("next_business_process")


def _write(
    tenant_id: int,
    definition: dict[str, Any],
    *,
    version: int,
    current: BusinessProcess | None,
) -> BusinessProcess:
    now = utcnow()
    # A version number taken by a transaction that rolled back may be written again.
    _versions().pop((tenant_id, definition["key"], version), None)
    db.session.add(
        BusinessProcessVersion(
            tenant_id=tenant_id,
            key=definition["key"],
            version=version,
            definition=definition,
            created_at=now,
        )
    )
    if current is None:
        current = BusinessProcess(
            tenant_id=tenant_id, key=definition["key"], version=version, definition=definition
        )
        db.session.add(current)
    else:
        current.version = version
        current.definition = definition
    current.updated_at = now
    db.session.flush()
    return current

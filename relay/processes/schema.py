"""The schema every business-process definition must pass, and the typed ``Process``."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from marshmallow import validate

from relay.errors import N_, Invalid, first_field_error
from relay.patterns import Pattern

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


_FIELD_NAME = ma.fields.String(validate=Pattern(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"))


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

    key = ma.fields.String(required=True, validate=Pattern(KEY_PATTERN))
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    enabled = ma.fields.Boolean(load_default=True)
    source_document_type = ma.fields.String(required=True, validate=validate.Length(1, 200))
    terminal_document_type = ma.fields.String(required=True, validate=validate.Length(1, 200))
    result_document_type = ma.fields.String(required=True, validate=validate.Length(1, 200))
    load_into_source_document = ma.fields.Boolean(load_default=False)
    next_business_process = ma.fields.String(
        load_default=None, allow_none=True, validate=Pattern(KEY_PATTERN)
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
        found = disagreement(data)
        if found:
            raise ma.ValidationError(found[1], found[0])


# The fields of a process that must agree with each other, and what is said when they do not.
DEVICE_WITH_ASSIGNEES = (
    "Fixed assignees need assign_to: users; a device process is sent to a device."
)
DEVICE_WITH_COPIES = "per_user_copy needs assign_to: users; a device has no users to copy for."
DEVICE_WITH_COLLECTIVE = "collective_work needs assign_to: users; users join a collective document."
COPIES_AND_COLLECTIVE = (
    "A process is either worked together (collective_work) or copied per user "
    "(per_user_copy), not both."
)
CHAIN_TO_ITSELF = "A process cannot chain to itself."
DISAGREEMENTS = frozenset(
    {DEVICE_WITH_ASSIGNEES, DEVICE_WITH_COPIES, DEVICE_WITH_COLLECTIVE, COPIES_AND_COLLECTIVE}
)


def disagreement(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first field that disagrees with another one, and why; None when they agree."""
    assignees = data.get("assignees")
    if data["assign_to"] == "device":
        if assignees and (assignees["users"] or assignees["groups"]):
            return "assignees", DEVICE_WITH_ASSIGNEES
        if data["per_user_copy"]:
            return "per_user_copy", DEVICE_WITH_COPIES
        if data["collective_work"]:
            return "collective_work", DEVICE_WITH_COLLECTIVE
    if data["per_user_copy"] and data["collective_work"]:
        return "collective_work", COPIES_AND_COLLECTIVE
    if data.get("key") and data.get("next_business_process") == data["key"]:
        return "next_business_process", CHAIN_TO_ITSELF
    return None


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
            N_(
                "The business process is not valid: %(reason)s",
                reason=first_field_error(err.messages) or N_("invalid"),
            ),
            code=_code_of(err.messages),
            details={"fields": err.messages},
        ) from err


def _code_of(messages: Any) -> str:
    """A code apart for fields that disagree, which each field's own schema cannot tell.

    Schema-level rules run only once every field is valid on its own, so such an error is
    alone in ``messages``.
    """
    said = (
        {text for texts in messages.values() for text in texts if isinstance(text, str)}
        if isinstance(messages, dict) and all(isinstance(v, list) for v in messages.values())
        else set()
    )
    if said == {CHAIN_TO_ITSELF}:
        return "process_chain_loop"
    if said and said <= DISAGREEMENTS:
        return "process_fields_disagree"
    return "validation_failed"


def dump_definition(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Return a definition in the key order of the schema (for YAML and answers)."""
    names = [field.data_key or name for name, field in _schema.fields.items()]
    return {name: definition[name] for name in names if name in definition}


def chain_loop(key: str, next_of: Callable[[str], str | None]) -> list[str] | None:
    """Follow ``next_business_process`` from ``key``; return the keys of a loop, or None.

    ``next_of`` names the process after a key (None where the chain ends); the loop returned
    ends with the key met twice, e.g. ``["a", "b", "a"]``.
    """
    seen = [key]
    nxt = next_of(key)
    while nxt:
        if nxt in seen:
            return [*seen, nxt]
        seen.append(nxt)
        nxt = next_of(nxt)
    return None

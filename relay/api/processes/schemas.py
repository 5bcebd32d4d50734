"""Business processes as the API shows them: the YAML's fields as JSON, flat, plus version."""

from typing import Any

import marshmallow as ma
from marshmallow import validate

from relay.api.base import ExplainsUnknown, Schema
from relay.api.fields import Timestamp
from relay.patterns import Pattern
from relay.processes.schema import KEY_PATTERN, Process, ProcessSchema

VERSION = ma.fields.Integer(
    strict=True,
    validate=validate.Range(1),
    metadata={
        "description": "The version this edit starts from, as GET gave it: another version "
        "gets 409 version_conflict. Optional (If-Match with the ETag works the same)."
    },
)
UPDATED_AT = ma.fields.String(
    metadata={"description": "Read-only: accepted when sent back unchanged, refused if changed."}
)


class ProcessOut(ProcessSchema):
    """A business process: the fields of its YAML file, flat, with its version."""

    version = ma.fields.Integer(metadata={"description": "Bumped by every edit."})
    updated_at = Timestamp()

    @ma.pre_dump
    def _flat(self, row: Any, **_kwargs: Any) -> dict[str, Any]:
        return {
            **row.definition,
            "key": row.key,
            "version": row.version,
            "updated_at": row.updated_at,
        }


class ProcessList(Schema):
    business_processes = ma.fields.List(ma.fields.Nested(ProcessOut))


class ProcessIn(ExplainsUnknown, ProcessSchema):
    """A whole business process (PUT): the fields of a YAML file, as JSON, or a GET's body."""

    # The address names the process; the body may repeat its key.
    key = ma.fields.String(validate=Pattern(KEY_PATTERN))
    version = VERSION
    updated_at = UPDATED_AT

    def _coherent(self, *_args: Any, **_kwargs: Any) -> None:
        """Not at parsing: the body may leave out the key, which the address gives. The domain
        checks the whole process once the key is in, and names a disagreement by its code
        (process_fields_disagree, process_chain_loop)."""


class ProcessPatch(ExplainsUnknown, ProcessSchema):
    """Some fields of a business process (PATCH); nested objects merge one level deep."""

    version = VERSION
    updated_at = UPDATED_AT


class PickerAssignees(Schema):
    users = ma.fields.List(ma.fields.String())
    groups = ma.fields.List(ma.fields.String())


class PickerOut(Schema):
    key = ma.fields.String()
    name = ma.fields.String()
    enabled = ma.fields.Boolean(metadata={"description": "A disabled process refuses pushes."})
    assign_to = ma.fields.String(
        validate=validate.OneOf(["users", "device"]),
        metadata={
            "description": "device: push to a PIN or device id (GET /api/v1/devices); users: "
            "to users, groups or everyone."
        },
    )
    assignees = ma.fields.Nested(
        PickerAssignees,
        metadata={
            "description": "Fixed users and groups: with any, a push may name only a subset of "
            "them (or a device), or nothing (then they get it)."
        },
    )
    per_user_copy = ma.fields.Boolean()
    collective_work = ma.fields.Boolean()
    version = ma.fields.Integer()

    @ma.pre_dump
    def _choices(self, row: Any, **_kwargs: Any) -> dict[str, Any]:
        process = Process(key=row.key, version=row.version, definition=row.definition)
        return {
            "key": row.key,
            "name": row.definition["name"],
            "enabled": process.enabled,
            "assign_to": process.assign_to,
            "assignees": {"users": process.fixed_users, "groups": process.fixed_groups},
            "per_user_copy": process.per_user_copy,
            "collective_work": process.collective_work,
            "version": row.version,
        }


class PickerList(Schema):
    business_processes = ma.fields.List(ma.fields.Nested(PickerOut))

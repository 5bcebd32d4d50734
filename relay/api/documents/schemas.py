"""Push and read documents (accounting side)."""

from datetime import UTC
from typing import Any

import marshmallow as ma
from marshmallow import validate

from relay.api.base import PageArgs, Schema
from relay.api.fields import DocumentDate, Identifier, OpenLine, Quantity, Timestamp
from relay.documents.routing import Addressee
from relay.models.document import INSTANCE_STATES
from relay.patterns import Pattern


class TargetSchema(Schema):
    pin = ma.fields.String(validate=Pattern(r"^[0-9]{1,12}$", error="A PIN is digits only."))
    device_id = ma.fields.UUID()
    # Empty lists are allowed (1C sends them when nobody is picked): no users and no groups at
    # all is the same as no target.
    users = ma.fields.List(
        ma.fields.String(validate=validate.Length(1, 64)), validate=validate.Length(max=1000)
    )
    groups = ma.fields.List(
        ma.fields.String(validate=validate.Length(1, 100)),
        validate=validate.Length(max=1000),
    )
    all = ma.fields.Boolean()

    @ma.validates_schema
    def _one_kind(self, data: dict[str, Any], **_kwargs: Any) -> None:
        kinds = [
            name
            for name, present in (
                ("pin", "pin" in data),
                ("device_id", "device_id" in data),
                ("users/groups", bool(data.get("users") or data.get("groups"))),
                ("all", bool(data.get("all"))),
            )
            if present
        ]
        if len(kinds) > 1:
            raise ma.ValidationError(
                "A target is one of: a PIN, a device_id, users and/or groups, or all: "
                f"got {', '.join(kinds)}."
            )


class LineIn(OpenLine):
    """A declared line; fields beyond the known ones are kept and sent on (scalars only)."""

    line_id = Identifier(max_length=64)
    product_id = ma.fields.String(validate=validate.Length(max=200))
    barcode = ma.fields.String(validate=validate.Length(max=200))
    name = ma.fields.String(validate=validate.Length(max=500))
    unit = ma.fields.String(validate=validate.Length(max=50))
    declared_qty = Quantity(allow_none=True)


class DocumentIn(Schema):
    external_id = Identifier(
        required=True,
        max_length=200,
        metadata={"description": "The accounting side's id of the document."},
    )
    number = ma.fields.String(validate=validate.Length(max=64), load_default="")
    date = DocumentDate(load_default=None, allow_none=True)
    header = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(1, 64)), load_default=dict
    )
    lines = ma.fields.List(ma.fields.Nested(LineIn), load_default=list)

    @ma.post_load
    def _number_lines(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        # Lines without a line_id are numbered by position, as 1C numbers table rows.
        for index, line in enumerate(data["lines"], start=1):
            line.setdefault("line_id", str(index))
        return data


class PushIn(Schema):
    business_process = ma.fields.String(required=True, validate=validate.Length(1, 64))
    target = ma.fields.Nested(TargetSchema, load_default=None, allow_none=True)
    next_target = ma.fields.Nested(
        TargetSchema,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Where the document chained from each of these goes when it completes "
            "(the process's next_business_process); without it, that process's "
            "own defaults."
        },
    )
    documents = ma.fields.List(
        ma.fields.Nested(DocumentIn), required=True, validate=validate.Length(min=1)
    )


class AddresseeOut(Schema):
    type = ma.fields.String(metadata={"description": "device, user, group or all"})
    device_id = ma.fields.String()
    pin = ma.fields.String(allow_none=True)
    user_id = ma.fields.String()
    group_id = ma.fields.String()
    login = ma.fields.String()
    name = ma.fields.String(allow_none=True)

    @ma.pre_dump
    def _describe(self, addressee: Addressee, **_kwargs: Any) -> dict[str, object]:
        return addressee.describe()


class InstanceOut(Schema):
    """Dumps a ``push.Addressed``, or a ``reading.Followed`` with holder, expiry and parts."""

    id = ma.fields.String(attribute="instance.id")
    state = ma.fields.String(attribute="instance.state")
    addressee = ma.fields.Nested(
        AddresseeOut, allow_none=True, metadata={"description": "The addressee, when there is one."}
    )
    addressees = ma.fields.List(ma.fields.Nested(AddresseeOut))
    holder = ma.fields.Dict(allow_none=True)
    claim_expires_at = Timestamp(allow_none=True)
    parts = ma.fields.List(ma.fields.Dict(), metadata={"description": "Collective work."})


class PushedDocumentOut(Schema):
    id = ma.fields.String()
    external_id = ma.fields.String()
    business_process = ma.fields.String()
    version = ma.fields.Integer()
    state = ma.fields.String()
    status = ma.fields.String(metadata={"description": "created, unchanged or replaced"})
    instances = ma.fields.List(ma.fields.Nested(InstanceOut), attribute="addressed")


class PushOut(Schema):
    documents = ma.fields.List(ma.fields.Nested(PushedDocumentOut))


class DocumentQuery(PageArgs):
    business_process = ma.fields.String(validate=validate.Length(1, 64))
    external_id = ma.fields.String(validate=validate.Length(1, 200))
    state = ma.fields.String(validate=validate.OneOf(INSTANCE_STATES))
    device_id = ma.fields.UUID(
        metadata={"description": "Documents addressed to or held by this device."}
    )
    pin = ma.fields.String(
        validate=Pattern(r"^[0-9]{1,12}$", error="A PIN is digits."),
        metadata={"description": "The same, by the device's PIN (an active device)."},
    )
    user = ma.fields.String(
        validate=validate.Length(1, 64),
        metadata={"description": "Documents addressed to or held by this user (login)."},
    )
    group = ma.fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "Documents addressed to this group (name)."},
    )
    updated_since = ma.fields.AwareDateTime(
        default_timezone=UTC,
        metadata={
            "description": "Documents changed at or after this time (ISO 8601; UTC if no "
            "offset): pushed again, claimed, completed, cancelled, acknowledged…"
        },
    )


class DocumentSummary(Schema):
    id = ma.fields.String()
    external_id = ma.fields.String()
    business_process = ma.fields.String()
    business_process_version = ma.fields.Integer()
    number = ma.fields.String()
    date = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()
    state = ma.fields.String()
    created_at = Timestamp()
    updated_at = Timestamp()


class DocumentList(Schema):
    documents = ma.fields.List(ma.fields.Nested(DocumentSummary))
    next = ma.fields.String(allow_none=True)


class EventOut(Schema):
    at = Timestamp()
    kind = ma.fields.String()
    actor = ma.fields.String()
    instance_id = ma.fields.String(allow_none=True)
    device_id = ma.fields.String(allow_none=True)
    user_id = ma.fields.String(allow_none=True)
    details = ma.fields.Dict()


class DocumentOut(DocumentSummary):
    header = ma.fields.Dict()
    lines = ma.fields.List(ma.fields.Dict())
    target = ma.fields.Dict(allow_none=True)
    next_target = ma.fields.Dict(allow_none=True)
    chained_from_result_id = ma.fields.String(allow_none=True)
    instances = ma.fields.List(ma.fields.Nested(InstanceOut))
    result_ids = ma.fields.List(ma.fields.String())
    timeline = ma.fields.List(ma.fields.Nested(EventOut))


class RerouteIn(Schema):
    target = ma.fields.Nested(TargetSchema, required=True)
    instance_id = ma.fields.UUID(
        load_default=None,
        metadata={
            "description": "Which instance, when the document has several open (per-user copies)."
        },
    )


class InstanceChoice(Schema):
    instance_id = ma.fields.UUID(
        load_default=None,
        metadata={
            "description": "Which instance, when the document has several open (per-user copies)."
        },
    )


class ClosedOut(Schema):
    id = ma.fields.String()
    state = ma.fields.String()
    result_id = ma.fields.String(allow_none=True)
    result_ids = ma.fields.List(ma.fields.String())

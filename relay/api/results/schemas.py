"""The results feed and acknowledgement."""

import marshmallow as ma
from marshmallow import validate

from relay.api.base import PageArgs, Schema, cursor
from relay.results import feed


class ResultQuery(PageArgs):
    after = cursor(feed.CURSOR_PATTERN)


class CompletedBy(Schema):
    login = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True)
    device_id = ma.fields.String(allow_none=True)
    pin = ma.fields.String(allow_none=True)
    device_name = ma.fields.String(allow_none=True)
    mode = ma.fields.String()


class ChainOut(Schema):
    state = ma.fields.String(validate=validate.OneOf(["started", "failed"]))
    business_process = ma.fields.String(metadata={"description": "The next process."})
    next_document_id = ma.fields.String(metadata={"description": "When started."})
    code = ma.fields.String(metadata={"description": "When failed: the routing error's code."})
    reason = ma.fields.String(
        metadata={"description": "When failed: why, in a sentence (e.g. target_required)."}
    )


class ResultOut(Schema):
    id = ma.fields.String()
    document_id = ma.fields.String()
    instance_id = ma.fields.String()
    external_id = ma.fields.String()
    number = ma.fields.String()
    business_process = ma.fields.String()
    business_process_version = ma.fields.Integer()
    source_document_type = ma.fields.String()
    result_document_type = ma.fields.String()
    load_into_source_document = ma.fields.Boolean()
    on_load = ma.fields.Dict()
    completed_at = ma.fields.String()
    completed_by = ma.fields.Nested(CompletedBy)
    header = ma.fields.Dict()
    lines = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Declared lines with actual_qty (derived) and the actual lines bound "
            "to each, kept apart."
        },
    )
    undeclared = ma.fields.List(
        ma.fields.Dict(),
        metadata={"description": "Goods the terminal found that were not declared."},
    )
    part_id = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "For collective work returned one result per part: the part this "
            "result is."
        },
    )
    next_document_id = ma.fields.String(
        allow_none=True,
        metadata={"description": "The document chained from this result, if one was started."},
    )
    chain = ma.fields.Nested(
        ChainOut,
        allow_none=True,
        metadata={
            "description": "When the process chains to a next one: whether the next document "
            "was started, or why it could not be (null for a process that does not chain)."
        },
    )
    processed_at = ma.fields.String(allow_none=True)


class ResultList(Schema):
    results = ma.fields.List(ma.fields.Nested(ResultOut))
    next = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Cursor of the next page of this reading, or null. Poll again from the "
            "start (no `after`) after acknowledging: results never get skipped."
        },
    )


class AckIn(Schema):
    ids = ma.fields.List(ma.fields.UUID(), required=True, validate=validate.Length(1, 1000))


class AckOut(Schema):
    processed = ma.fields.List(ma.fields.String())
    already_processed = ma.fields.List(ma.fields.String())

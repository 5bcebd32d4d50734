"""Business processes as the admin API shows them: the YAML's fields as JSON, plus version."""

import marshmallow as ma
from marshmallow import validate

from relay.api.base import ExplainsUnknown, Schema
from relay.api.fields import DerivedDict, Timestamp
from relay.processes.schema import KEY_PATTERN, ProcessSchema, dump_definition


class ProcessOut(Schema):
    key = ma.fields.String()
    version = ma.fields.Integer()
    updated_at = Timestamp()
    definition = DerivedDict(
        lambda row: dump_definition(row.definition),
        metadata={"description": "The process's fields (see SPEC §5)."},
    )


class ProcessList(Schema):
    business_processes = ma.fields.List(ma.fields.Nested(ProcessOut))


class ProcessIn(ExplainsUnknown, ProcessSchema):
    """A whole business process (PUT): the fields of a YAML file, as JSON."""

    # The address names the process; the body may repeat its key.
    key = ma.fields.String(validate=validate.Regexp(KEY_PATTERN))


class ProcessPatch(ExplainsUnknown, ProcessSchema):
    """Some fields of a business process (PATCH); nested objects merge one level deep."""

"""Business processes as the admin API shows them: the YAML's fields as JSON, plus version."""

import marshmallow as ma
from marshmallow import validate

from relay.api.base import ExplainsUnknown, Schema
from relay.processes.schema import KEY_PATTERN, ProcessSchema


class ProcessOut(Schema):
    key = ma.fields.String()
    version = ma.fields.Integer()
    updated_at = ma.fields.String()
    definition = ma.fields.Dict(metadata={"description": "The process's fields (see SPEC §5)."})


class ProcessList(Schema):
    business_processes = ma.fields.List(ma.fields.Nested(ProcessOut))


class ProcessIn(ExplainsUnknown, ProcessSchema):
    """A whole business process (PUT): the fields of a YAML file, as JSON."""

    # The address names the process; the body may repeat its key.
    key = ma.fields.String(validate=validate.Regexp(KEY_PATTERN))


class ProcessPatch(ExplainsUnknown, ProcessSchema):
    """Some fields of a business process (PATCH); nested objects merge one level deep."""

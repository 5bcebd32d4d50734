"""Business processes as the admin API shows them: the YAML's fields as JSON, plus version."""

import marshmallow as ma

from relay.api.base import Schema
from relay.processes import ProcessSchema


class ProcessOut(Schema):
    key = ma.fields.String()
    version = ma.fields.Integer()
    updated_at = ma.fields.String()
    definition = ma.fields.Dict(metadata={"description": "The process's fields (see SPEC §5)."})


class ProcessList(Schema):
    business_processes = ma.fields.List(ma.fields.Nested(ProcessOut))


class ProcessIn(ProcessSchema):
    """A whole business process (PUT): the fields of a YAML file, as JSON."""


class ProcessPatch(ProcessSchema):
    """Some fields of a business process (PATCH); nested objects merge one level deep."""

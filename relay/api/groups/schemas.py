"""User groups (Appendix A)."""

import marshmallow as ma
from marshmallow import validate

from relay.api.base import SPACE, PageArgs, Schema
from relay.api.fields import DerivedList, Timestamp
from relay.directory import users
from relay.patterns import Pattern

NAME = Pattern(
    rf"^[^{SPACE}/][^/]{{0,98}}[^{SPACE}/]$|^[^{SPACE}/]$",
    error="1 to 100 characters, no '/' and no spaces at the ends.",
)


class GroupIn(Schema):
    name = ma.fields.String(required=True, validate=NAME)
    members = ma.fields.List(
        ma.fields.String(), load_default=list, validate=validate.Length(max=10_000)
    )


class GroupPatch(Schema):
    name = ma.fields.String(validate=NAME)
    members = ma.fields.List(ma.fields.String(), validate=validate.Length(max=10_000))


class GroupOut(Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    members = DerivedList(lambda group: [u.login for u in users.members(group)], ma.fields.String())
    created_at = Timestamp()


class GroupList(Schema):
    groups = ma.fields.List(ma.fields.Nested(GroupOut))
    next = ma.fields.String(allow_none=True)


class GroupQuery(PageArgs):
    pass


class GroupPickerOut(Schema):
    name = ma.fields.String()
    members = DerivedList(
        lambda group: [u.login for u in users.members(group)],
        ma.fields.String(),
        metadata={"description": "Their logins."},
    )


class GroupPickerList(Schema):
    groups = ma.fields.List(ma.fields.Nested(GroupPickerOut))
    next = ma.fields.String(allow_none=True)

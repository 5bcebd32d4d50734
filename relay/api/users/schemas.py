"""Operators (Appendix A)."""

import marshmallow as ma
from flask import current_app
from marshmallow import validate

from relay.api.base import SPACE, PageArgs, Schema
from relay.api.fields import DerivedList, DerivedTimestamp, Timestamp
from relay.directory import throttle, users
from relay.patterns import Pattern

LOGIN = Pattern(
    rf"^[^{SPACE}/][^/]{{0,62}}[^{SPACE}/]$|^[^{SPACE}/]$",
    error="1 to 64 characters, no '/' and no spaces at the ends.",
)
PASSWORD = validate.Length(4, 200, error="A password is 4 to 200 characters.")


class UserIn(Schema):
    login = ma.fields.String(required=True, validate=LOGIN)
    name = ma.fields.String(load_default="", validate=validate.Length(max=200))
    password = ma.fields.String(required=True, load_only=True, validate=PASSWORD)


class UserPatch(Schema):
    name = ma.fields.String(validate=validate.Length(max=200))
    password = ma.fields.String(load_only=True, validate=PASSWORD)


class UserOut(Schema):
    id = ma.fields.String()
    login = ma.fields.String()
    name = ma.fields.String()
    groups = DerivedList(users.group_names, ma.fields.String())
    created_at = Timestamp()
    locked_until = DerivedTimestamp(
        lambda user: throttle.locked_until(
            user.tenant_id, user.login, int(current_app.config["LOGIN_LOCKOUT_FAILURES"])
        ),
        allow_none=True,
        metadata={"description": "When the last lockout of this login, on any terminal, ends."},
    )


class UserList(Schema):
    users = ma.fields.List(ma.fields.Nested(UserOut))
    next = ma.fields.String(allow_none=True)


class UserQuery(PageArgs):
    pass


class UserPickerOut(Schema):
    login = ma.fields.String()
    name = ma.fields.String()


class UserPickerList(Schema):
    users = ma.fields.List(ma.fields.Nested(UserPickerOut))
    next = ma.fields.String(allow_none=True)

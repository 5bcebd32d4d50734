"""Devices for the accounting side's picker and for admins."""

import marshmallow as ma
from marshmallow import validate

from relay.api.base import PageArgs, Schema
from relay.api.fields import Timestamp


class DeviceOut(Schema):
    id = ma.fields.String()
    pin = ma.fields.String(allow_none=True)
    name = ma.fields.String()
    model = ma.fields.String()
    serial = ma.fields.String()
    mode = ma.fields.String(
        metadata={"description": "online: results go by webhook; offline: accounting pulls them"}
    )
    last_seen_at = Timestamp(allow_none=True)


class AdminDeviceOut(DeviceOut):
    status = ma.fields.String()
    last_pin = ma.fields.String(allow_none=True)
    created_at = Timestamp()
    revoked_at = Timestamp(allow_none=True)


class DeviceList(Schema):
    devices = ma.fields.List(ma.fields.Nested(DeviceOut))
    next = ma.fields.String(allow_none=True)


class AdminDeviceList(Schema):
    devices = ma.fields.List(ma.fields.Nested(AdminDeviceOut))
    next = ma.fields.String(allow_none=True)


class AdminDeviceQuery(PageArgs):
    status = ma.fields.String(validate=validate.OneOf(["active", "revoked"]))


class DevicePatch(Schema):
    name = ma.fields.String(validate=validate.Length(1, 100))
    mode = ma.fields.String(validate=validate.OneOf(["online", "offline"]))


class RevokedOut(AdminDeviceOut):
    unfinished = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Documents the device held or was sent (instance_id, document_id, "
            "external_id, business_process, state): reroute them with "
            "POST /api/v1/documents/{id}/reroute."
        },
    )

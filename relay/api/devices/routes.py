"""Devices: the accounting side's picker, and what admins do to devices."""

from typing import Any

from flask.views import MethodView

from relay.api.base import (
    Blueprint,
    PageArgs,
    authenticated,
    identity,
    page_limit,
    path_id,
)
from relay.api.devices.schemas import (
    AdminDeviceList,
    AdminDeviceOut,
    AdminDeviceQuery,
    DeviceList,
    DevicePatch,
    RevokedOut,
)
from relay.api.fields import Empty
from relay.db import transaction
from relay.directory import devices
from relay.models import Device
from relay.paging import id_after

blp = Blueprint(
    "devices",
    __name__,
    url_prefix="/api/v1/devices",
    description="Active terminals, to pick one instead of typing its PIN (accounting key).",
)
admin_blp = Blueprint(
    "admin_devices",
    __name__,
    url_prefix="/api/v1/admin/devices",
    description="Rename, switch mode, re-issue PINs, revoke (admin key).",
)


def _page(args: dict[str, Any], status: str | None) -> dict[str, Any]:
    found = devices.list_devices(
        identity().tenant_id,
        status=status,
        after=id_after(args["after"]),
        limit=page_limit(args["limit"]),
    )
    return {"devices": found.rows, "next": found.next}


@blp.route("")
class DevicesView(MethodView):
    @authenticated("accounting")
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, DeviceList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List active devices with their PINs."""
        return _page(args, "active")


@admin_blp.route("")
class AdminDevicesView(MethodView):
    @authenticated("admin")
    @admin_blp.arguments(AdminDeviceQuery, location="query")
    @admin_blp.response(200, AdminDeviceList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List devices, active and revoked."""
        return _page(args, args.get("status"))


@admin_blp.route("/<device_id>")
class AdminDeviceView(MethodView):
    @authenticated("admin")
    @admin_blp.response(200, AdminDeviceOut)
    def get(self, device_id: str) -> Device:
        """Read one device."""
        return devices.get(identity().tenant_id, path_id(device_id, "device"))

    @authenticated("admin")
    @admin_blp.arguments(DevicePatch)
    @admin_blp.response(200, AdminDeviceOut)
    def patch(self, data: dict[str, Any], device_id: str) -> Device:
        """Rename a device or switch its mode (online / offline)."""
        with transaction():
            device = devices.get(identity().tenant_id, path_id(device_id, "device"))
            devices.update_device(device, name=data.get("name"), mode=data.get("mode"))
        return device


@admin_blp.route("/<device_id>/revoke")
class RevokeView(MethodView):
    @authenticated("admin")
    @admin_blp.arguments(Empty)
    @admin_blp.response(200, RevokedOut)
    def post(self, _data: dict[str, Any], device_id: str) -> devices.Revoked:
        """Revoke a device: its PIN is freed, its token dies; its unfinished work is listed."""
        with transaction():
            device = devices.get(identity().tenant_id, path_id(device_id, "device"))
            return devices.revoke(device)


@admin_blp.route("/<device_id>/new-pin")
class NewPinView(MethodView):
    @authenticated("admin")
    @admin_blp.arguments(Empty)
    @admin_blp.response(200, AdminDeviceOut)
    def post(self, _data: dict[str, Any], device_id: str) -> Device:
        """Give a device a new PIN (the old one stops addressing it)."""
        with transaction():
            device = devices.get(identity().tenant_id, path_id(device_id, "device"))
            devices.new_pin(device)
        return device

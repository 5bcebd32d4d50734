"""Devices (rename, mode, new PIN, revoke with a reroute of what they leave) and enrollment."""

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, redirect, request, url_for
from flask_babel import gettext
from markupsafe import Markup

from relay.db import transaction
from relay.directory import devices
from relay.errors import Invalid, RelayError
from relay.web.admin.base import (
    PAGE_SIZE,
    audit,
    bp,
    done,
    failed,
    render,
    signed,
    uuid_arg,
)


@bp.route("/devices")
def devices_list() -> Any:
    """Devices, active first by default; keyset pages."""
    status = request.args.get("status", "active")
    found = devices.list_devices(
        signed().tenant_id,
        status=status if status in ("active", "revoked") else None,
        after=uuid_arg(request.args.get("after")),
        limit=PAGE_SIZE,
    )
    return render("admin/devices/list.html", rows=found.rows, status=status, next=found.next)


@bp.route("/devices/<device_id>")
def device(device_id: str) -> Any:
    """One device: rename, mode, new PIN, revoke; its unfinished documents."""
    found = devices.get(signed().tenant_id, uuid_arg(device_id))
    return render(
        "admin/devices/detail.html",
        device=found,
        unfinished=devices.unfinished_instances(found),
    )


@bp.route("/devices/<device_id>", methods=["POST"])
def device_save(device_id: str) -> Any:
    """Rename a device or switch its mode."""
    who = signed()
    name = request.form.get("name", "").strip()
    mode = request.form.get("mode", "")
    try:
        if not 1 <= len(name) <= 100:
            raise Invalid("A device name is 1 to 100 characters.")
        if mode not in ("online", "offline"):
            raise Invalid("The mode is online or offline.")
        with transaction():
            found = devices.get(who.tenant_id, uuid_arg(device_id))
            devices.update_device(found, name=name, mode=mode)
            audit("device.save", found.name, {"mode": mode, "id": str(found.id)})
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.device", device_id=device_id))
    done(gettext("Saved."))
    return redirect(url_for("admin.device", device_id=device_id))


@bp.route("/devices/<device_id>/new-pin", methods=["POST"])
def device_new_pin(device_id: str) -> Any:
    """Give the device a new PIN."""
    who = signed()
    try:
        with transaction():
            found = devices.get(who.tenant_id, uuid_arg(device_id))
            devices.new_pin(found)
            audit("device.new_pin", found.name, {"pin": found.pin, "id": str(found.id)})
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.device", device_id=device_id))
    done(gettext("New PIN: %(pin)s.", pin=found.pin))
    return redirect(url_for("admin.device", device_id=device_id))


@bp.route("/devices/<device_id>/revoke", methods=["POST"])
def device_revoke(device_id: str) -> Any:
    """Revoke a device; the page then lists its unfinished documents to reroute."""
    who = signed()
    with transaction():
        found = devices.get(who.tenant_id, uuid_arg(device_id))
        devices.revoke(found)
        audit("device.revoke", found.name, {"pin": found.last_pin, "id": str(found.id)})
    done(gettext("Device revoked: its PIN is free and its token no longer works."))
    return redirect(url_for("admin.device", device_id=device_id))


# -- enrollment codes ------------------------------------------------------------------------


def public_url() -> str:
    """The address terminals are told to use: RELAY_PUBLIC_URL, else the one the admin used."""
    configured = str(current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return configured or request.host_url.rstrip("/")


def is_loopback(url: str) -> bool:
    """Whether a URL names this machine only (a terminal on Wi-Fi could not reach it)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@bp.route("/enrollment")
def enrollment_codes() -> Any:
    """Active enrollment codes (only their hashes are kept: a code is shown once)."""
    rows = devices.active_enrollment_codes(signed().tenant_id, limit=200)
    return render(
        "admin/enrollment/list.html",
        rows=rows,
        defaults={
            "uses": current_app.config["ENROLLMENT_CODE_USES"],
            "hours": int(current_app.config["ENROLLMENT_CODE_TTL_SECONDS"]) // 3600,
        },
    )


@bp.route("/enrollment", methods=["POST"])
def enrollment_create() -> Any:
    """Create a code and show the printable page with its QR (the only time it is shown)."""
    who = signed()
    uses_text = request.form.get("uses", "").strip()
    hours_text = request.form.get("hours", "").strip()
    try:
        if not uses_text.isdigit() or not hours_text.isdigit():
            raise Invalid("Enter whole numbers for the uses and the hours.")
        with transaction():
            code, row = devices.create_enrollment_code(
                who.tenant_id, uses=int(uses_text), ttl_seconds=int(hours_text) * 3600
            )
            audit("enrollment.create", str(row.id), {"uses": row.uses_left})
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.enrollment_codes"))
    base_url = public_url()
    payload = devices.qr_payload(code, base_url)
    return render(
        "admin/enrollment/print.html",
        code=code,
        row=row,
        base_url=base_url,
        loopback=is_loopback(base_url),
        # segno's SVG: generated here from our own payload, no client text in it.
        qr=Markup(devices.qr_svg(payload, scale=6)),  # noqa: S704
    )


@bp.route("/enrollment/<code_id>/revoke", methods=["POST"])
def enrollment_revoke(code_id: str) -> Any:
    """Revoke a code: no terminal can enroll with it any more."""
    who = signed()
    with transaction():
        row = devices.revoke_enrollment_code(who.tenant_id, uuid_arg(code_id))
        if row is not None:
            audit("enrollment.revoke", str(row.id))
    done(gettext("Code revoked."))
    return redirect(url_for("admin.enrollment_codes"))

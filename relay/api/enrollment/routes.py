"""Admins create enrollment codes, as text and as a QR code a terminal scans."""

import logging
from typing import Any

from flask import current_app, request
from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, identity
from relay.api.enrollment.schemas import EnrollmentCodeIn, EnrollmentCodeOut
from relay.db import transaction
from relay.directory import devices

log = logging.getLogger(__name__)

blp = Blueprint(
    "admin_enrollment",
    __name__,
    url_prefix="/api/v1/admin/enrollment-codes",
    description="Codes terminals enroll with (admin key).",
)


@blp.route("")
class EnrollmentCodesView(MethodView):
    @authenticated("admin")
    @blp.arguments(EnrollmentCodeIn)
    @blp.response(201, EnrollmentCodeOut)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create an enrollment code (single use and valid 24 h unless told otherwise)."""
        config = current_app.config
        uses = data["uses"] if data["uses"] is not None else config["ENROLLMENT_CODE_USES"]
        ttl = (
            data["ttl_seconds"]
            if data["ttl_seconds"] is not None
            else config["ENROLLMENT_CODE_TTL_SECONDS"]
        )
        with transaction():
            code, row = devices.create_enrollment_code(
                identity().tenant_id, uses=uses, ttl_seconds=ttl
            )
        base_url = config.get("PUBLIC_URL") or request.host_url.rstrip("/")
        payload = devices.qr_payload(code, base_url)
        warning = devices.loopback_warning(base_url)
        if warning:
            log.warning(warning)
        return {
            "code": code,
            "row": row,
            "qr_payload": payload,
            "qr_svg": devices.qr_svg(payload),
            "warning": warning,
        }

"""Enrollment codes (admin)."""

import marshmallow as ma
from marshmallow import validate

from relay.api.base import Schema
from relay.api.fields import Timestamp


class EnrollmentCodeIn(Schema):
    uses = ma.fields.Integer(
        load_default=None,
        strict=True,
        validate=validate.Range(1, 1000),
        metadata={"description": "How many terminals may use it (default 1)."},
    )
    ttl_seconds = ma.fields.Integer(
        load_default=None,
        strict=True,
        validate=validate.Range(60, 30 * 24 * 3600),
        metadata={"description": "Lifetime in seconds, a minute to 30 days (default 86400: 24 h)."},
    )


class EnrollmentCodeOut(Schema):
    """Dumps {"code", "row": the EnrollmentCode, "qr_payload", "qr_svg"}."""

    code = ma.fields.String(metadata={"description": "Shown once; stored only hashed."})
    expires_at = Timestamp(attribute="row.expires_at")
    uses_left = ma.fields.Integer(attribute="row.uses_left")
    qr_payload = ma.fields.String(
        metadata={
            "description": "What the QR code holds: JSON with the relay's address and the code."
        }
    )
    qr_svg = ma.fields.String(metadata={"description": "The QR code as an SVG image."})
    warning = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Set when the address in the QR code is a loopback address "
            "(RELAY_PUBLIC_URL unset and the admin reached the relay through localhost)."
        },
    )

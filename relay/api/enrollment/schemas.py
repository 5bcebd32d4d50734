"""Enrollment codes (admin)."""

import marshmallow as ma

from relay.api.base import Schema
from relay.api.fields import Timestamp


class EnrollmentCodeIn(Schema):
    uses = ma.fields.Integer(
        load_default=None,
        strict=True,
        metadata={"description": "How many terminals may use it (default 1)."},
    )
    ttl_seconds = ma.fields.Integer(
        load_default=None, strict=True, metadata={"description": "Lifetime (default 86400: 24 h)."}
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

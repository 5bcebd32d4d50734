"""Online mode: the tenant's webhook, its test ping, and dead letters (admin key)."""

import marshmallow as ma
from marshmallow import validate

from relay.api.base import PageArgs, Schema


class WebhookIn(Schema):
    url = ma.fields.String(
        required=True,
        validate=validate.Length(1, 2000),
        metadata={
            "description": "Where results of online devices are POSTed: http(s). Addresses that "
            "resolve to loopback, private or link-local networks are refused unless the relay "
            "runs with RELAY_WEBHOOK_ALLOW_PRIVATE (a LAN deployment)."
        },
    )
    enabled = ma.fields.Boolean(
        load_default=True,
        metadata={
            "description": "false pauses deliveries: results wait in the outbox without using "
            "attempts, and stay in the results feed."
        },
    )


class OutboxCounts(Schema):
    pending = ma.fields.Integer(metadata={"description": "Deliveries waiting or being retried."})
    dead = ma.fields.Integer(
        metadata={"description": "Dead letters: see /api/v1/admin/dead-letters."}
    )


class WebhookOut(Schema):
    url = ma.fields.String()
    enabled = ma.fields.Boolean()
    disabled_reason = ma.fields.String(
        allow_none=True,
        metadata={"description": 'Why the relay disabled the endpoint, e.g. after "410 Gone".'},
    )
    secret = ma.fields.String(
        metadata={
            "description": "The signing secret (whsec_…). Present only in the answer that set it "
            "(the first PUT) or rotated it: keep it then."
        }
    )
    previous_secret_valid_until = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "After a rotation, the old secret also signs (a second signature in "
            "webhook-signature) until this time."
        },
    )
    created_at = ma.fields.String()
    updated_at = ma.fields.String()
    outbox = ma.fields.Nested(OutboxCounts)


class PingOut(Schema):
    webhook_id = ma.fields.String(metadata={"description": "The webhook-id the ping carried."})
    delivered = ma.fields.Boolean(metadata={"description": "The receiver answered 2xx."})
    status = ma.fields.Integer(
        allow_none=True, metadata={"description": "The receiver's HTTP status, if it answered."}
    )
    error = ma.fields.String(
        allow_none=True,
        metadata={"description": "Why it failed: time-out, refused connection, the status…"},
    )
    seconds = ma.fields.Float(metadata={"description": "How long the attempt took."})


class DeadLetterOut(Schema):
    id = ma.fields.String(metadata={"description": "The webhook-id every attempt carried."})
    state = ma.fields.String(metadata={"description": "dead, or pending once replayed."})
    result_id = ma.fields.String()
    document_id = ma.fields.String()
    external_id = ma.fields.String()
    business_process = ma.fields.String()
    attempts = ma.fields.Integer()
    last_status = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    last_attempt_at = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()


class DeadLetterList(Schema):
    dead_letters = ma.fields.List(ma.fields.Nested(DeadLetterOut))
    next = ma.fields.String(allow_none=True)


class DeadLetterQuery(PageArgs):
    pass


class ReplayAllOut(Schema):
    replayed = ma.fields.Integer(metadata={"description": "Dead letters sent back to the outbox."})

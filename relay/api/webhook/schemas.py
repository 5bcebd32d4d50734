"""Online mode: the tenant's webhook, its test ping, and dead letters (admin key)."""

import marshmallow as ma
from marshmallow import validate

from relay.api.base import UUID_PATTERN, PageArgs, Schema, cursor
from relay.api.fields import DerivedNested, DerivedString, DerivedTimestamp, Timestamp, WhenSet
from relay.online import outbox, webhook
from relay.timeutil import utcnow


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
    """Dumps {"endpoint": WebhookEndpoint, "secret": the new secret or None}."""

    url = DerivedString(
        lambda out: webhook.shown_url(out["endpoint"].url),
        metadata={"description": "The URL, with a user name and password in it masked (***)."},
    )
    enabled = ma.fields.Boolean(attribute="endpoint.enabled")
    disabled_reason = ma.fields.String(
        attribute="endpoint.disabled_reason",
        allow_none=True,
        metadata={"description": 'Why the relay disabled the endpoint, e.g. after "410 Gone".'},
    )
    secret = WhenSet(
        metadata={
            "description": "The signing secret (whsec_…). Present only in the answer that set it "
            "(the first PUT) or rotated it: keep it then."
        }
    )
    previous_secret_valid_until = DerivedTimestamp(
        lambda shown: webhook.grace_until(shown["endpoint"], utcnow()),
        allow_none=True,
        metadata={
            "description": "After a rotation, the old secret also signs (a second signature in "
            "webhook-signature) until this time."
        },
    )
    created_at = Timestamp(attribute="endpoint.created_at")
    updated_at = Timestamp(attribute="endpoint.updated_at")
    outbox = DerivedNested(lambda shown: outbox.counts(shown["endpoint"].tenant_id), OutboxCounts)


class PingOut(Schema):
    """Dumps {"webhook_id": the ping's webhook-id, "attempt": send.Attempt}."""

    webhook_id = ma.fields.String(metadata={"description": "The webhook-id the ping carried."})
    delivered = ma.fields.Boolean(
        attribute="attempt.ok", metadata={"description": "The receiver answered 2xx."}
    )
    status = ma.fields.Integer(
        attribute="attempt.status",
        allow_none=True,
        metadata={"description": "The receiver's HTTP status, if it answered."},
    )
    error = ma.fields.String(
        attribute="attempt.error",
        allow_none=True,
        metadata={"description": "Why it failed: time-out, refused connection, the status…"},
    )
    seconds = ma.fields.Float(
        attribute="attempt.seconds", metadata={"description": "How long the attempt took."}
    )


class DeadLetterOut(Schema):
    """Dumps an ``outbox.DeadLetter``: the entry, its result and the result's document."""

    id = ma.fields.String(
        attribute="entry.webhook_id",
        metadata={"description": "The webhook-id every attempt carried."},
    )
    state = ma.fields.String(
        attribute="entry.state", metadata={"description": "dead, or pending once replayed."}
    )
    result_id = ma.fields.String(attribute="result.id")
    document_id = ma.fields.String(attribute="document.id")
    external_id = ma.fields.String(attribute="document.external_id")
    business_process = ma.fields.String(attribute="result.business_process")
    attempts = ma.fields.Integer(attribute="entry.attempts")
    last_status = ma.fields.Integer(attribute="entry.last_status", allow_none=True)
    last_error = ma.fields.String(attribute="entry.last_error", allow_none=True)
    last_attempt_at = Timestamp(attribute="entry.last_attempt_at", allow_none=True)
    created_at = Timestamp(attribute="entry.created_at")


class DeadLetterList(Schema):
    dead_letters = ma.fields.List(ma.fields.Nested(DeadLetterOut))
    next = ma.fields.String(allow_none=True)


class DeadLetterQuery(PageArgs):
    after = cursor(f"^(msg_[0-9a-f]{{32}}|{UUID_PATTERN[1:-1]})$")


class ReplayAllOut(Schema):
    replayed = ma.fields.Integer(metadata={"description": "Dead letters sent back to the outbox."})

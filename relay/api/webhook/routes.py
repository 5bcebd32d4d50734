"""Admins set the tenant's webhook, rotate its secret, ping it, and replay dead letters."""

from typing import Any

from flask import current_app
from flask.views import MethodView

from relay.api.base import Blueprint, authenticated, identity, page_limit
from relay.api.fields import Empty
from relay.api.webhook.schemas import (
    DeadLetterList,
    DeadLetterOut,
    DeadLetterQuery,
    PingOut,
    ReplayAllOut,
    WebhookIn,
    WebhookOut,
)
from relay.db import transaction
from relay.errors import Invalid
from relay.models import Document, OutboxEntry, Result, WebhookEndpoint
from relay.online import outbox, send, webhook
from relay.results import delivery
from relay.timeutil import iso, utcnow

blp = Blueprint(
    "admin_webhook",
    __name__,
    url_prefix="/api/v1/admin/webhook",
    description="Online mode: where results of online devices are delivered, signed per "
    "Standard Webhooks (admin key).",
)
dead_blp = Blueprint(
    "admin_dead_letters",
    __name__,
    url_prefix="/api/v1/admin/dead-letters",
    description="Deliveries that failed every scheduled attempt; replay them (admin key).",
)


def _settings() -> send.Settings:
    return send.Settings.from_config(current_app.config)


def webhook_out(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "url": webhook.shown_url(endpoint.url),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_valid_until": iso(webhook.grace_until(endpoint, utcnow())),
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
        "outbox": outbox.counts(endpoint.tenant_id),
    }
    if secret is not None:
        out["secret"] = secret
    return out


def dead_letter_out(entry: OutboxEntry, result: Result, document: Document) -> dict[str, Any]:
    return {
        "id": entry.webhook_id,
        "state": entry.state,
        "result_id": str(result.id),
        "document_id": str(document.id),
        "external_id": document.external_id,
        "business_process": result.business_process,
        "attempts": entry.attempts,
        "last_status": entry.last_status,
        "last_error": entry.last_error,
        "last_attempt_at": iso(entry.last_attempt_at),
        "created_at": iso(entry.created_at),
    }


@blp.route("")
class WebhookView(MethodView):
    @authenticated("admin")
    @blp.response(200, WebhookOut)
    def get(self) -> dict[str, Any]:
        """Read the webhook settings (the secret is never shown again)."""
        return webhook_out(webhook.get_endpoint(identity().tenant_id))

    @authenticated("admin")
    @blp.arguments(WebhookIn)
    @blp.response(200, WebhookOut)
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Set the webhook URL and switch deliveries on or off; the first PUT shows the secret."""
        with transaction():
            endpoint, secret = webhook.put_endpoint(
                identity().tenant_id,
                url=data["url"],
                enabled=data["enabled"],
                allow_private=_settings().allow_private,
                keys=_settings().keys,
            )
        return webhook_out(endpoint, secret)


@blp.route("/rotate-secret")
class RotateView(MethodView):
    @authenticated("admin")
    @blp.arguments(Empty)
    @blp.response(200, WebhookOut)
    def post(self, _data: dict[str, Any]) -> dict[str, Any]:
        """Issue a new secret, shown once; the old one keeps signing through the grace period."""
        with transaction():
            endpoint, secret = webhook.rotate_secret(
                identity().tenant_id, _settings().rotation_grace, _settings().keys
            )
        return webhook_out(endpoint, secret)


@blp.route("/test")
class PingView(MethodView):
    @authenticated("admin")
    @blp.arguments(Empty)
    @blp.response(200, PingOut)
    def post(self, _data: dict[str, Any]) -> dict[str, Any]:
        """Send a signed {"type": "ping"} now and report what the receiver answered."""
        # The transaction ends before the POST: no database lock is held while it waits.
        with transaction():
            ping = delivery.ping_for(
                identity().tenant_id, identity().tenant_name, utcnow(), _settings()
            )
        attempt = delivery.send_ping(ping, _settings())
        return {
            "webhook_id": ping.webhook_id,
            "delivered": attempt.ok,
            "status": attempt.status,
            "error": attempt.error,
            "seconds": attempt.seconds,
        }


@dead_blp.route("")
class DeadLettersView(MethodView):
    @authenticated("admin")
    @dead_blp.arguments(DeadLetterQuery, location="query")
    @dead_blp.response(200, DeadLetterList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List dead letters, oldest first; their results are still in the results feed."""
        limit = page_limit(args["limit"])
        after = None
        if args["after"] is not None:
            after = outbox.parse_id(args["after"])
            if after is None:
                raise Invalid(
                    "The cursor is not one this list gave out; start again without 'after'.",
                    code="invalid_cursor",
                    details={"fields": {"after": ["Unknown cursor."]}},
                )
        rows = outbox.dead_letters(identity().tenant_id, after=after, limit=limit + 1)
        page = rows[:limit]
        return {
            "dead_letters": [dead_letter_out(*row) for row in page],
            "next": page[-1][0].webhook_id if len(rows) > limit else None,
        }


@dead_blp.route("/<entry_id>/replay")
class ReplayView(MethodView):
    @authenticated("admin")
    @dead_blp.arguments(Empty)
    @dead_blp.response(200, DeadLetterOut)
    def post(self, _data: dict[str, Any], entry_id: str) -> dict[str, Any]:
        """Send a dead letter again from the first attempt, with the same webhook-id."""
        with transaction():
            entry = outbox.replay(outbox.get(identity().tenant_id, entry_id, for_update=True))
            described = outbox.describe(entry)
        return dead_letter_out(*described)


@dead_blp.route("/replay-all")
class ReplayAllView(MethodView):
    @authenticated("admin")
    @dead_blp.arguments(Empty)
    @dead_blp.response(200, ReplayAllOut)
    def post(self, _data: dict[str, Any]) -> dict[str, Any]:
        """Send every dead letter again (after fixing the receiver, say)."""
        with transaction():
            replayed = outbox.replay_all(identity().tenant_id)
        return {"replayed": replayed}

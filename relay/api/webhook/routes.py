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
from relay.online import outbox, send, webhook
from relay.results import delivery
from relay.timeutil import utcnow

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


@blp.route("")
class WebhookView(MethodView):
    @authenticated("admin")
    @blp.response(200, WebhookOut)
    def get(self) -> dict[str, Any]:
        """Read the webhook settings (the secret is never shown again)."""
        return {"endpoint": webhook.get_endpoint(identity().tenant_id)}

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
        return {"endpoint": endpoint, "secret": secret}


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
        return {"endpoint": endpoint, "secret": secret}


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
        return {"webhook_id": ping.webhook_id, "attempt": attempt}


@dead_blp.route("")
class DeadLettersView(MethodView):
    @authenticated("admin")
    @dead_blp.arguments(DeadLetterQuery, location="query")
    @dead_blp.response(200, DeadLetterList)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List dead letters, oldest first; their results are still in the results feed."""
        found = outbox.dead_letters(
            identity().tenant_id, after=args["after"], limit=page_limit(args["limit"])
        )
        return {"dead_letters": found.rows, "next": found.next}


@dead_blp.route("/<entry_id>/replay")
class ReplayView(MethodView):
    @authenticated("admin")
    @dead_blp.arguments(Empty)
    @dead_blp.response(200, DeadLetterOut)
    def post(self, _data: dict[str, Any], entry_id: str) -> outbox.DeadLetter:
        """Send a dead letter again from the first attempt, with the same webhook-id."""
        with transaction():
            entry = outbox.replay(outbox.get(identity().tenant_id, entry_id, for_update=True))
            return outbox.describe(entry)


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

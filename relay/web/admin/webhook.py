"""The webhook: URL, on/off, a test ping with the receiver's answer, secret rotation."""

from typing import Any

from flask import current_app, redirect, request, url_for
from flask_babel import gettext

from relay.db import transaction
from relay.errors import RelayError
from relay.online import outbox, send, webhook
from relay.results import delivery
from relay.timeutil import utcnow
from relay.web.admin.base import audit, bp, done, failed, render, signed


def _settings() -> send.Settings:
    return send.Settings.from_config(current_app.config)


def _page(**extra: Any) -> Any:
    tenant_id = signed().tenant_id
    endpoint = webhook.find_endpoint(tenant_id)
    return render(
        "admin/webhook/index.html",
        endpoint=endpoint,
        grace_until=webhook.grace_until(endpoint, utcnow()) if endpoint else None,
        counts=outbox.counts(tenant_id),
        shown_url=webhook.shown_url,
        **extra,
    )


@bp.route("/webhook")
def webhook_page() -> Any:
    """The webhook settings."""
    return _page()


@bp.route("/webhook", methods=["POST"])
def webhook_save() -> Any:
    """Set the URL and switch deliveries on or off; the first save shows the secret once."""
    who = signed()
    url = request.form.get("url", "").strip()
    enabled = request.form.get("enabled") == "on"
    try:
        with transaction():
            _endpoint, secret = webhook.put_endpoint(
                who.tenant_id,
                url=url,
                enabled=enabled,
                allow_private=_settings().allow_private,
                keys=_settings().keys,
            )
            audit("webhook.save", webhook.shown_url(url), {"enabled": enabled})
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.webhook_page"))
    if secret:
        return _page(secret=secret)
    done(gettext("Saved."))
    return redirect(url_for("admin.webhook_page"))


@bp.route("/webhook/rotate", methods=["POST"])
def webhook_rotate() -> Any:
    """Issue a new secret, shown once; the old one keeps signing through the grace period."""
    who = signed()
    try:
        with transaction():
            _endpoint, secret = webhook.rotate_secret(
                who.tenant_id, _settings().rotation_grace, _settings().keys
            )
            audit("webhook.rotate")
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.webhook_page"))
    return _page(secret=secret)


@bp.route("/webhook/test", methods=["POST"])
def webhook_test() -> Any:
    """Send a signed ping now and show what the receiver answered."""
    who = signed()
    try:
        # The transaction ends before the POST: no database lock is held while it waits.
        with transaction():
            ping = delivery.ping_for(who.tenant_id, who.tenant_name, utcnow(), _settings())
        attempt = delivery.send_ping(ping, _settings())
    except RelayError as err:
        failed(err)
        return redirect(url_for("admin.webhook_page"))
    return _page(ping=attempt, ping_id=ping.webhook_id)

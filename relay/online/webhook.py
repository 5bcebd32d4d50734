"""The tenant's webhook endpoint (SPEC §8): URL, enabled, secrets and their rotation."""

from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select

from relay.errors import N_, NotFound
from relay.extensions import db
from relay.models import WebhookEndpoint
from relay.online.guard import check_url
from relay.online.sealing import Keys
from relay.online.signing import new_secret
from relay.timeutil import utcnow

# -- the endpoint ------------------------------------------------------------------------------


def find_endpoint(tenant_id: int, *, for_update: bool = False) -> WebhookEndpoint | None:
    """Return the tenant's webhook endpoint, if one is set."""
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
    if for_update:
        stmt = stmt.with_for_update()
    return db.session.scalars(stmt).first()


def get_endpoint(tenant_id: int, *, for_update: bool = False) -> WebhookEndpoint:
    """Return the tenant's webhook endpoint or raise 404."""
    endpoint = find_endpoint(tenant_id, for_update=for_update)
    if endpoint is None:
        raise NotFound(
            N_("No webhook is set for this tenant: set one with PUT /api/v1/admin/webhook."),
            code="webhook_not_configured",
        )
    return endpoint


def put_endpoint(
    tenant_id: int, *, url: str, enabled: bool, allow_private: bool, keys: Keys
) -> tuple[WebhookEndpoint, str | None]:
    """Set the tenant's webhook URL; return the endpoint and its secret when it is new.

    The first PUT generates the signing secret and is the only answer that shows it (besides a
    rotation). Enabling clears the reason the relay disabled the endpoint for.
    """
    check_url(url, allow_private=allow_private)
    now = utcnow()
    endpoint = find_endpoint(tenant_id, for_update=True)
    if endpoint is None:
        secret = new_secret()
        endpoint = WebhookEndpoint(
            tenant_id=tenant_id,
            url=url,
            enabled=enabled,
            secret=keys.seal(secret),
            created_at=now,
            updated_at=now,
        )
        db.session.add(endpoint)
        return endpoint, secret
    endpoint.url = kept_credentials(url, endpoint.url)
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_reason = None
    endpoint.updated_at = now
    return endpoint, None


def rotate_secret(tenant_id: int, grace: timedelta, keys: Keys) -> tuple[WebhookEndpoint, str]:
    """Replace the signing secret; the old one keeps signing alongside it for ``grace``.

    Only one old secret is kept: rotating again within the grace period drops the oldest.
    """
    endpoint = get_endpoint(tenant_id, for_update=True)
    now = utcnow()
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + grace
    endpoint.secret = keys.seal(secret)
    endpoint.updated_at = now
    return endpoint, secret


def disable(endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop deliveries to an endpoint until an admin enables it again."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:500]
    endpoint.updated_at = utcnow()


def grace_until(endpoint: WebhookEndpoint, now: datetime) -> datetime | None:
    """Until when the previous secret still signs, if it does."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        return expires
    return None


def signing_secrets(endpoint: WebhookEndpoint, now: datetime, keys: Keys) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its grace."""
    if grace_until(endpoint, now) is not None and endpoint.previous_secret:
        return [keys.open(endpoint.secret), keys.open(endpoint.previous_secret)]
    return [keys.open(endpoint.secret)]


def reseal_all(keys: Keys) -> int:
    """Seal every tenant's secrets under the current key (after RELAY_SECRET_KEY changed)."""
    count = 0
    for endpoint in db.session.scalars(select(WebhookEndpoint).with_for_update()):
        endpoint.secret = keys.reseal(endpoint.secret)
        if endpoint.previous_secret:
            endpoint.previous_secret = keys.reseal(endpoint.previous_secret)
        count += 1
    return count


def kept_credentials(url: str, stored: str) -> str:
    """A URL sent back as it was shown (``***@host``) keeps the stored user and password."""
    parts, old = urlsplit(url), urlsplit(stored)
    if not parts.netloc.startswith("***@") or "@" not in old.netloc:
        return url
    userinfo = old.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc[4:]}"))


def shown_url(url: str) -> str:
    """The URL as answers show it: a user name and password in it are masked."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))

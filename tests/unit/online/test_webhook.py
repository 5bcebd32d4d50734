"""The tenant endpoint's secrets: which ones sign during a rotation."""

from datetime import UTC, datetime, timedelta

from relay.models import WebhookEndpoint
from relay.online import webhook
from tests.factories import KEYS

NOW = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)


def test_signing_secrets_include_the_previous_one_only_within_the_grace() -> None:
    endpoint = WebhookEndpoint(
        secret=KEYS.seal("whsec_new"),
        previous_secret=KEYS.seal("whsec_old"),
        previous_secret_expires_at=NOW,
    )
    assert webhook.signing_secrets(endpoint, NOW - timedelta(seconds=1), KEYS) == [
        "whsec_new",
        "whsec_old",
    ]
    assert webhook.signing_secrets(endpoint, NOW, KEYS) == ["whsec_new"]
    assert webhook.grace_until(endpoint, NOW) is None

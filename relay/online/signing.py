"""Webhook signing (Standard Webhooks): secrets and the ``webhook-signature`` header.

The signature is ``v1,<base64 HMAC-SHA256>`` of ``"{webhook-id}.{webhook-timestamp}.{body}"``,
keyed with the base64 part of the ``whsec_`` secret. During a rotation's grace period both
secrets sign, space-separated, so a receiver holding either one verifies."""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime

USER_AGENT = "relay-webhooks/1"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret


# -- signing -----------------------------------------------------------------------------------


def new_secret() -> str:
    """Return a new signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secrets_: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: one ``v1,<base64>`` per secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets_
    )


def headers(secrets_: Sequence[str], msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """The headers of one attempt; the timestamp is fresh each time, the id never changes."""
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets_, msg_id, timestamp, body),
    }

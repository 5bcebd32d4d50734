"""Webhook signatures (Standard Webhooks): secrets, headers, verification during a rotation."""

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from relay.online import signing

NOW = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)


def test_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert signing.new_secret() != secret


def test_signature_verifies_with_the_standardwebhooks_library() -> None:
    secret = signing.new_secret()
    body = '{"type":"result.completed","data":{"name":"Молоко 1 л","qty":0.001}}'.encode()
    headers = signing.headers([secret], "msg_1", body, datetime.now(UTC))
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["data"]["name"] == "Молоко 1 л"


def test_a_tampered_body_or_another_secret_fails_verification() -> None:
    secret = signing.new_secret()
    body = b'{"a":1}'
    headers = signing.headers([secret], "msg_1", body, datetime.now(UTC))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"a":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    body = b'{"a":1}'
    headers = signing.headers([new, old], "msg_1", body, datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == {"a": 1}
    assert Webhook(new).verify(body, headers) == {"a": 1}


def test_the_timestamp_header_is_the_unix_time_of_the_attempt() -> None:
    headers = signing.headers(["whsec_" + "A" * 44], "msg_1", b"{}", NOW)
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))

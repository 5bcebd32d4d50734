"""Signing, the retry schedule, Retry-After, and the address guard, without HTTP or database."""

import base64
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from relay.errors import Invalid
from relay.models import WebhookEndpoint
from relay.online import guard, send, signing, webhook
from relay.online.sealing import Keys

NOW = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
KEYS = Keys.of("unit-test-secret-key")
SETTINGS = send.Settings(
    connect_timeout=1.0,
    read_timeout=2.0,
    retry_schedule=(5.0, 30.0, 120.0),
    rotation_grace=timedelta(hours=24),
    allow_private=False,
    lease_margin=3.0,
    keys=KEYS,
)


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


def test_the_timestamp_header_is_the_unix_time_of_the_attempt() -> None:
    headers = signing.headers(["whsec_" + "A" * 44], "msg_1", b"{}", NOW)
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))


@pytest.mark.parametrize(("attempts", "step"), [(1, 5.0), (2, 30.0), (3, 120.0)])
def test_retry_delay_follows_the_schedule_with_jitter(attempts: int, step: float) -> None:
    delays = [send.retry_delay(attempts, SETTINGS.retry_schedule) for _ in range(200)]
    assert all(d is not None and step * 0.8 <= d <= step * 1.2 for d in delays)
    assert len(set(delays)) > 1


def test_after_the_last_scheduled_retry_there_is_none() -> None:
    assert send.retry_delay(4, SETTINGS.retry_schedule) is None
    assert send.retry_delay(0, SETTINGS.retry_schedule) is None


def test_retry_after_is_a_floor_not_a_ceiling() -> None:
    assert send.retry_delay(1, SETTINGS.retry_schedule, retry_after=600) == 600
    delay = send.retry_delay(3, SETTINGS.retry_schedule, retry_after=1)
    assert delay is not None
    assert delay >= 96


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Fri, 20 Nov 2026 10:16:00 GMT", 60.0),
        ("Fri, 20 Nov 2026 10:00:00 GMT", 0.0),
        ("Sat, 20 Nov 2027 10:15:00 GMT", float(send.RETRY_AFTER_MAX_SECONDS)),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert send.parse_retry_after(value, NOW) == seconds


def test_the_lease_covers_both_timeouts_and_the_margin() -> None:
    assert SETTINGS.lease == timedelta(seconds=6)


def test_settings_read_the_configuration() -> None:
    config: dict[str, Any] = {
        "WEBHOOK_CONNECT_TIMEOUT": 5,
        "WEBHOOK_READ_TIMEOUT": 15,
        "WEBHOOK_RETRY_SCHEDULE": [5, 30],
        "WEBHOOK_ROTATION_GRACE_SECONDS": 3600,
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "WEBHOOK_LEASE_MARGIN_SECONDS": 30,
        "SECRET_KEY": "new-key",
        "SECRET_KEY_FALLBACKS": ["old-key"],
    }
    settings = send.Settings.from_config(config)
    assert settings.keys == Keys("new-key", ("old-key",))
    assert settings.retry_schedule == (5.0, 30.0)
    assert settings.allow_private is True
    assert settings.rotation_grace == timedelta(hours=1)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.10", "a private address"),
        ("fd00::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 - an address to classify
        ("::", "an unspecified address"),
        ("100.64.0.1", "a reserved address"),
        ("240.0.0.1", "a reserved address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
    ],
)
def test_address_classification(address: str, reason: str | None) -> None:
    assert guard.refusal(address) == reason


def _resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(guard.socket, "getaddrinfo", fake)


def test_check_url_refuses_a_host_with_any_private_address(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving_to(monkeypatch, "93.184.216.34", "10.0.0.5")
    with pytest.raises(Invalid) as caught:
        guard.check_url("https://1c.example.com/hooks", allow_private=False)
    assert caught.value.code == "webhook_url_not_allowed"
    assert "10.0.0.5" in caught.value.message
    assert "RELAY_WEBHOOK_ALLOW_PRIVATE" in caught.value.message


def test_check_url_accepts_a_public_host(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving_to(monkeypatch, "93.184.216.34")
    guard.check_url("https://1c.example.com/hooks", allow_private=False)


def test_check_url_refuses_loopback_literals() -> None:
    for url in ("http://127.0.0.1:8080/x", "http://[::1]/x", "http://localhost/x"):
        with pytest.raises(Invalid) as caught:
            guard.check_url(url, allow_private=False)
        assert caught.value.code == "webhook_url_not_allowed"


def test_check_url_allows_private_addresses_on_a_lan_deployment() -> None:
    guard.check_url("http://192.168.1.10/hs/relay", allow_private=True)
    guard.check_url("http://1c-server.local/hs/relay", allow_private=True)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "example.com/x", "http://", "http://a:x/"]
)
def test_check_url_wants_http_or_https_with_a_host(url: str) -> None:
    with pytest.raises(Invalid) as caught:
        guard.check_url(url, allow_private=True)
    assert caught.value.code == "invalid_webhook_url"


def test_check_url_refuses_a_host_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(guard.socket, "getaddrinfo", fail)
    with pytest.raises(Invalid) as caught:
        guard.check_url("https://nowhere.invalid/x", allow_private=False)
    assert caught.value.code == "webhook_url_unresolvable"


def test_the_guarded_session_refuses_a_loopback_peer_before_sending() -> None:
    """Even when the URL got past the check (DNS changed since), the connection is refused."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/x"
        session = guard.new_session(allow_private=False)
        try:
            attempt = send.send(session, url, "msg_1", b"{}", [signing.new_secret()], SETTINGS)
        finally:
            session.close()
    assert attempt.status is None
    assert attempt.error is not None
    assert "127.0.0.1, a loopback address" in attempt.error
    assert "object at 0x" not in attempt.error


def test_a_refused_connection_is_reported_not_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    session = guard.new_session(allow_private=True)
    try:
        attempt = send.send(
            session, f"http://127.0.0.1:{port}/", "msg_1", b"{}", [signing.new_secret()], SETTINGS
        )
    finally:
        session.close()
    assert not attempt.ok
    assert attempt.error is not None
    assert attempt.error.startswith("Could not deliver")
    assert "refused" in attempt.error.lower()


def test_sessions_ignore_proxies_from_the_environment() -> None:
    session = guard.new_session(allow_private=False)
    try:
        assert session.trust_env is False
        assert isinstance(session.get_adapter("https://x"), guard.GuardedAdapter)
    finally:
        session.close()
    plain = guard.new_session(allow_private=True)
    try:
        assert not isinstance(plain.get_adapter("https://x"), guard.GuardedAdapter)
        assert isinstance(plain.get_adapter("https://x"), requests.adapters.HTTPAdapter)
    finally:
        plain.close()

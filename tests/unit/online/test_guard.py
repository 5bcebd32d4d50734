"""The address guard: private addresses refused, before connecting and at connect time."""

import socket
from typing import Any

import pytest
import requests

from relay.errors import Invalid
from relay.online import guard, send, signing
from tests.factories import send_settings

SETTINGS = send_settings()


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

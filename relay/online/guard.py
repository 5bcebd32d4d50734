"""The address guard: webhooks may not reach inside the network the relay runs in.

It refuses URLs that reach loopback, private, link-local and other non-public addresses
(unless the deployment allows them: a LAN box next to the 1C server). It checks the URL when
an admin sets it, and again on every connection: the guarded session checks the address it
actually connected to, so a DNS answer that changed since (or changes between a check and the
connect) cannot steer a delivery inside the network."""

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from relay.errors import N_, Invalid

# -- the address guard -------------------------------------------------------------------------


def refusal(address: str) -> str | None:
    """Say why an IP address may not receive webhooks (None when it is a public address)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return N_("an unspecified address")
    if ip.is_loopback:
        return N_("a loopback address")
    if ip.is_link_local:
        return N_("a link-local address")
    if ip.is_multicast:
        return N_("a multicast address")
    if ip.is_reserved:
        return N_("a reserved address")
    if ip.is_private:
        return N_("a private address")
    if not ip.is_global:
        return N_("a reserved address")
    return None


def _refused_message(host: str, address: str, reason: str) -> str:
    return N_(
        "%(host)s resolves to %(address)s, %(reason)s; the relay does not send webhooks inside "
        "its own network unless RELAY_WEBHOOK_ALLOW_PRIVATE is set (a LAN deployment).",
        host=host,
        address=address,
        reason=reason,
    )


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse a webhook URL that is not http(s), or that resolves to a non-public address."""

    def invalid(message: str, code: str = "invalid_webhook_url") -> Invalid:
        return Invalid(message, code=code, details={"fields": {"url": [message]}})

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise invalid(N_("The URL is malformed: %(reason)s.", reason=str(err))) from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(N_("The webhook URL must be an http:// or https:// address with a host."))
    if allow_private:
        return
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise invalid(
            N_(
                "The host %(host)s cannot be resolved, so the relay cannot check it is a "
                "public address; check the spelling.",
                host=host,
            ),
            code="webhook_url_unresolvable",
        ) from err
    for info in infos:
        address = str(info[4][0])
        reason = refusal(address)
        if reason:
            raise invalid(_refused_message(host, address, reason), code="webhook_url_not_allowed")


class AddressRefused(NewConnectionError):
    """The connection reached an address the guard refuses; it was closed before sending."""


def _guard(conn: HTTPConnection, sock: socket.socket) -> socket.socket:
    address = str(sock.getpeername()[0])
    reason = refusal(address)
    if reason:
        sock.close()
        raise AddressRefused(conn, _refused_message(conn.host, address, reason))
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _guard(self, super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _guard(self, super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connections check the peer address before sending anything."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def new_session(*, allow_private: bool) -> requests.Session:
    """Return a requests session for deliveries; close it when done."""
    session = requests.Session()
    # Straight to the receiver: an HTTP(S)_PROXY from the environment would make the address
    # the guard sees the proxy's, not the receiver's.
    session.trust_env = False
    if not allow_private:
        adapter = GuardedAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session

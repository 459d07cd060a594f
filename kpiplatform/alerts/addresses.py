"""Outgoing webhooks reach public addresses only (no server-side request forgery).

A company types the URL, the server makes the request: without this check a URL could make
the platform call its own database, metadata service or internal network. The host is
resolved and every address must be public; the request then connects to the address that
was checked (not a second lookup), so a DNS answer that changes in between (rebinding) is
harmless. ``KPI_ALERTS_ALLOW_PRIVATE_TARGETS`` lets an operator (and the tests) reach
private, loopback and link-local receivers.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class TargetRefused(ValueError):
    """The URL is not an http(s) URL of a public address; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query
    address: str  # the checked IP address to connect to


def _private_allowed() -> bool:
    return bool(getattr(settings, "KPI_ALERTS_ALLOW_PRIVATE_TARGETS", False))


def _refused_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why the address is not public ("" when it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private or address.is_reserved or address.is_unspecified:
        return "a private address"
    if address.is_multicast or not address.is_global:
        return "not a public address"
    return ""


def check_url(url: str) -> Target:
    """Parse and resolve ``url``; raise :class:`TargetRefused` unless it may be called."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise TargetRefused("The URL is not valid.") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("The URL must start with http:// or https://.")
    host = parts.hostname
    if not host:
        raise TargetRefused("The URL has no host.")
    if parts.username or parts.password:
        raise TargetRefused("The URL must not contain a user name or password.")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(f"The host {host} cannot be resolved.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not _private_allowed():
        for text in addresses:
            kind = _refused_kind(ipaddress.ip_address(text.split("%")[0]))
            if kind:
                raise TargetRefused(
                    f"{host} resolves to {text}, {kind}: webhooks may only call public addresses."
                )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses[0])


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with the certificate checked against the host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


@dataclass(frozen=True)
class Response:
    status: int
    body: str


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> Response:
    """POST ``body`` to ``url`` after checking it again (at send time, against rebinding),
    connected to the checked address. Redirects are not followed."""
    target = check_url(url)
    if target.scheme == "https":
        connection = _PinnedHTTPSConnection(target, timeout)
    else:
        connection = _PinnedHTTPConnection(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(2000).decode("utf-8", errors="replace")
        return Response(response.status, text)
    finally:
        connection.close()

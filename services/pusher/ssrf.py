"""Where a webhook may go: refuse anything but http(s) to public addresses, and pin the address.

The host is resolved on every attempt and refused unless every address it resolves to is
global (no loopback, private, link-local, CGNAT, metadata, multicast, reserved, or an IPv6 form
that embeds one of those). The request then goes to the checked address itself, with the
``Host`` header and TLS SNI set to the name, so a second DNS answer cannot redirect it.
Host names in the allow list (tests, development) skip the address check, not the pinning.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class RefusedDestination(Exception):
    """The webhook URL may not be called (the message says why)."""


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address the host name resolves to."""
        ...


class SystemResolver:
    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal_reason(address: IPAddress) -> str | None:
    """Why a webhook must not connect to this address, or None when it is a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            inner = refusal_reason(embedded)
            return f"embeds {embedded}, which is {inner}" if inner else None
        if address.teredo is not None:
            return "a Teredo tunnel address"
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local (cloud metadata lives here)"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "shared address space (CGNAT)"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally reachable"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    return None


@dataclass(frozen=True)
class Destination:
    """A checked webhook URL and the one address the request will be sent to."""

    scheme: str
    host: str
    port: int
    target: str  # path and query
    address: IPAddress

    @property
    def pinned_url(self) -> str:
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{host}:{self.port}{self.target}"

    @property
    def host_header(self) -> str:
        return self.host if self.port == _DEFAULT_PORTS[self.scheme] else f"{self.host}:{self.port}"


async def check_destination(url: str, resolver: Resolver, allow_hosts: Collection[str] = ()) -> Destination:
    """The destination to connect to, or ``RefusedDestination`` saying why not."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise RefusedDestination(f"scheme {scheme or '(none)'!r} is not http or https")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise RefusedDestination("the URL has no host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError as error:
        raise RefusedDestination(f"invalid port: {error}") from error
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            resolved = await resolver.resolve(host, port)
        except OSError as error:
            raise RefusedDestination(f"{host} does not resolve: {error}") from error
        addresses = [ipaddress.ip_address(address.split("%")[0]) for address in resolved]
    if not addresses:
        raise RefusedDestination(f"{host} resolves to no address")
    if host not in {h.lower() for h in allow_hosts}:
        for address in addresses:
            reason = refusal_reason(address)
            if reason:
                raise RefusedDestination(f"{host} resolves to {address}, which is {reason}")
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return Destination(scheme, host, port, target, addresses[0])

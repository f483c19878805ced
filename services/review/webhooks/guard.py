"""Where outgoing webhooks may connect: the address rules, name resolution and an httpx transport.

A webhook must never become a way into the network review runs in (Redis, Kafka, cloud
metadata, anything on loopback). The rule is checked twice:

- at creation (:func:`check_url`): every address the host resolves to must be public;
- at delivery (:class:`GuardedTransport`): the host is resolved again, every address is
  checked, and the connection is made to a checked address, so a DNS answer that changes
  between the two (DNS rebinding) gains nothing. TLS still verifies the URL's host name
  (SNI and certificate) and the Host header is the URL's.

``PR_REVIEW_WEBHOOK_ALLOW_NETS`` admits named networks (an internal receiver, the tests'
loopback receivers).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

CGNAT = ipaddress.ip_network("100.64.0.0/10")
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the last 32 bits are an IPv4 address
RESOLVE_TIMEOUT = 5.0


class AddressRefused(ValueError):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def parse_networks(text: str | None) -> tuple[Network, ...]:
    """``"10.1.0.0/16, fd00::/8"`` as networks; ValueError naming the bad entry."""
    nets = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part))
        except ValueError as exc:
            raise ValueError(f"{part!r} is not a CIDR network ({exc})") from None
    return tuple(nets)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # These IPv6 forms carry an IPv4 address that the packet really goes to.
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def address_problem(ip: IPAddress, allow_nets: Sequence[Network] = ()) -> str | None:
    """Why a webhook may not connect to ``ip`` (e.g. ``"loopback"``); None when it may."""
    if any(ip.version == net.version and ip in net for net in allow_nets):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return address_problem(inner, allow_nets)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata lives there)"
    if ip in CGNAT:
        return "CGNAT (100.64.0.0/10)"
    if ip in UNIQUE_LOCAL:
        return "unique-local (fc00::/7)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not publicly routable"
    return None


def _ip_literal(host: str) -> str | None:
    """``host`` as an address when it is an IP literal (an IPv6 zone such as ``%25eth0`` dropped)."""
    text = host.strip("[]").split("%", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (numeric spellings such as ``2130706433`` included)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def checked_addresses(
    host: str, port: int, allow_nets: Sequence[Network], resolver: Resolver = system_resolve
) -> list[IPAddress]:
    """The addresses of ``host``, every one allowed; AddressRefused otherwise.

    One forbidden address is enough to refuse: a name that answers with a public and an
    internal address could otherwise be steered to the internal one.
    """
    literal = _ip_literal(host)
    try:
        if literal is not None:  # judged as written, whatever a resolver would make of it
            raw = [literal]
        else:
            async with asyncio.timeout(RESOLVE_TIMEOUT):
                raw = await resolver(host, port)
    except (OSError, UnicodeError, TimeoutError):
        raise AddressRefused(f"host {host!r} does not resolve") from None
    if not raw:
        raise AddressRefused(f"host {host!r} does not resolve")
    addresses: list[IPAddress] = []
    for text in raw:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
        except ValueError:
            raise AddressRefused(f"host {host!r} resolves to something that is not an address") from None
        problem = address_problem(ip, allow_nets)
        if problem is not None:
            raise AddressRefused(
                f"host {host!r} resolves to {ip}, a {problem} address; webhooks may only reach public addresses"
            )
        addresses.append(ip)
    return addresses


async def check_url(url: str, allow_nets: Sequence[Network], resolver: Resolver = system_resolve) -> None:
    """Refuse (AddressRefused) a webhook URL whose host is or resolves to a forbidden address.

    The URL's syntax (scheme, user info) is checked before, by ``validate_webhook_url``.
    """
    parts = httpx.URL(url)
    # The host exactly as httpcore will hand it to the network backend at delivery (IDNA-encoded).
    host = parts.raw_host.decode("ascii")
    await checked_addresses(host, parts.port or (443 if parts.scheme == "https" else 80), allow_nets, resolver)


class RefusedConnect(httpcore.ConnectError):
    """Raised instead of connecting to a forbidden address; httpx wraps it in ConnectError."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to checked addresses."""

    def __init__(
        self,
        allow_nets: Sequence[Network],
        resolver: Resolver = system_resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ):
        self.allow_nets = tuple(allow_nets)
        self.resolver = resolver
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await checked_addresses(host, port, self.allow_nets, self.resolver)
        except AddressRefused as exc:
            raise RefusedConnect(str(exc)) from None
        last_error: Exception | None = None
        for ip in addresses:
            try:
                stream = await self.inner.connect_tcp(
                    str(ip), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            # Belt and braces: the socket's peer must be the address just checked.
            peer = stream.get_extra_info("server_addr")
            if not peer or ipaddress.ip_address(str(peer[0]).split("%", 1)[0]) != ip:
                await stream.aclose()
                raise RefusedConnect(f"connected to {peer!r}, not to the checked address {ip}")
            return stream
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedConnect("webhooks never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with :class:`GuardedBackend` underneath; never uses proxies from the environment."""

    def __init__(
        self,
        allow_nets: Sequence[Network],
        resolver: Resolver = system_resolve,
        *,
        limits: httpx.Limits = httpx.Limits(),
        ssl_context: ssl.SSLContext | None = None,
    ):
        super().__init__(trust_env=False, limits=limits)
        # httpx offers no public way to give its pool a network backend; httpcore's pool
        # takes one, so the pool is rebuilt with the same settings (see docs/decisions.md).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_nets, resolver),
        )


def refused(exc: BaseException) -> bool:
    """True when an httpx error comes from the guard refusing an address."""
    for _ in range(10):  # exception chains are short; bounded all the same
        if exc is None:
            return False
        if isinstance(exc, RefusedConnect):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False

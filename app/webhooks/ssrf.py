"""The guard against server-side request forgery: where a delivery may connect.

A subscriber chooses the URL, so without a guard anyone with an admin key could make this
service call its own database, a cloud metadata endpoint (169.254.169.254) or anything else
on the private network. Two layers, both resolving the host and checking every address:

- ``check_url`` when a subscription is created or its URL changed: a clear 422 early.
- ``GuardedNetworkBackend`` under the HTTP client, at every connection: it resolves the host
  itself, checks the addresses, and connects to a checked address, never to the name. So a
  name that resolved to a public address at creation and to 127.0.0.1 now (DNS rebinding)
  is refused on the address actually connected to.

Refused: loopback, private (RFC 1918, ULA), link-local, CGNAT (100.64/10), multicast, reserved
and unspecified addresses, IPv4 and IPv6, including IPv4 embedded in IPv6 (mapped, 6to4,
Teredo, NAT64). ``CEASEFIRE_WEBHOOK_ALLOWED_SUBNETS`` lists subnets let through anyway.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

__all__ = [
    "AddressPolicy",
    "GuardedNetworkBackend",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "UnsafeUrlError",
    "check_url",
    "resolve",
    "resolve_and_check",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``; the system resolver by default, replaceable in tests.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeUrlError(ValueError):
    """The URL may not be called: wrong scheme, no host, or an address that is not public."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _why_forbidden(address: IPAddress) -> str | None:
    """What kind of address ``address`` is when it may not be connected to ("a loopback
    address"), or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = _why_forbidden(embedded)
            return None if reason is None else f"{reason} ({embedded}, embedded in IPv6)"
    for test, reason in (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "a CGNAT address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    ):
        if test:
            return reason
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses a delivery may connect to: public ones (unless ``public`` is false),
    plus ``allowed_subnets``.

    With ``public`` false nothing outside ``allowed_subnets`` is reached, and a URL must name
    an address: a host name is refused without being looked up, so not even a DNS query
    leaves for it (a closed network, or a test run that fuzzes URLs)."""

    allowed_subnets: tuple[IPNetwork, ...] = ()
    public: bool = True

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused, or None when it may be connected to."""
        if any(address.version == net.version and address in net for net in self.allowed_subnets):
            return None
        if not self.public:
            return "outside CEASEFIRE_WEBHOOK_ALLOWED_SUBNETS"
        return _why_forbidden(address)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself, with no lookup)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(seen)


async def resolve_and_check(
    host: str, port: int, policy: AddressPolicy, resolver: Resolver = resolve
) -> list[IPAddress]:
    """The addresses of ``host`` that may be connected to. ``UnsafeUrlError`` when the name
    does not resolve, or when any address it resolves to is refused: a name that points at
    a private address even once is not one to call."""
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        addresses = None
        if not policy.public:
            raise UnsafeUrlError(
                f"{host} is a name: only addresses in CEASEFIRE_WEBHOOK_ALLOWED_SUBNETS may be "
                "called here (CEASEFIRE_WEBHOOK_PUBLIC_ADDRESSES=false)"
            ) from None
    try:
        if addresses is None:
            addresses = await resolver(host, port)
    except OSError as error:
        raise UnsafeUrlError(f"{host} does not resolve: {error.strerror or error}") from None
    if not addresses:
        raise UnsafeUrlError(f"{host} does not resolve")
    for address in addresses:
        reason = policy.refusal(address)
        if reason is not None:
            if host.strip("[]") == str(address):
                raise UnsafeUrlError(f"{address} is {reason}")
            raise UnsafeUrlError(f"{host} resolves to {address}, {reason}")
    return addresses


async def check_url(
    url: str, policy: AddressPolicy, *, allow_http: bool, resolver: Resolver = resolve
) -> None:
    """Refuse, with the reason, a URL a delivery must not be sent to."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise UnsafeUrlError(f"not a valid URL: {error}") from None
    if parsed.scheme not in ("https", "http"):
        raise UnsafeUrlError("the URL must be https")
    if parsed.scheme == "http" and not allow_http:
        raise UnsafeUrlError("the URL must be https (http is not allowed on this server)")
    if not parsed.host:
        raise UnsafeUrlError("the URL has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    await resolve_and_check(parsed.host, port, policy, resolver)


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks, and connects only to a checked
    address. TLS still verifies the certificate against the host name, which httpcore passes
    to ``start_tls`` separately, so connecting to an IP breaks nothing."""

    def __init__(
        self,
        policy: AddressPolicy,
        inner: httpcore.AsyncNetworkBackend,
        resolver: Resolver = resolve,
    ) -> None:
        self.policy = policy
        self.inner = inner
        self.resolver = resolver

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve_and_check(host, port, self.policy, self.resolver)
        except UnsafeUrlError as error:
            raise httpcore.ConnectError(f"refused: {error}") from None
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        last: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks never connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)

"""The guard against server-side request forgery: where a delivery may connect.

A subscriber chooses the URL, so without a guard anyone with an admin key could make this
service call its own database, a cloud metadata endpoint (169.254.169.254) or anything else
on the private network. Two layers, both resolving the host and checking every address:

- ``check_url`` when a subscription is created or its URL changed: a clear 422 early.
- ``GuardedNetworkBackend`` under the HTTP client, at every connection: it resolves the host
  itself, checks the addresses, and connects to a checked address, never to the name. So a
  name that resolved to a public address at creation and to 127.0.0.1 now (DNS rebinding)
  is refused on the address actually connected to.

What is refused is spelled out below (``DENIED_V4``, ``DENIED_V6``, ``METADATA``), from the
IANA special-purpose address registries, instead of asking ``ipaddress``'s ``is_private`` /
``is_global``: those tables change between Python versions (3.12 and 3.13 answer differently
for several ranges, and none of them knows ``fec0::/10``), and a guard must not. Only address
arithmetic (``address in network``) is used, which no version changes.

- IPv4: the ranges of ``DENIED_V4``; every other address is public.
- IPv6: only global unicast (``2000::/3``) may be reached, less the ranges of ``DENIED_V6``.
  Forms that carry an IPv4 address are judged by it: IPv4-mapped ``::ffff:a.b.c.d``, NAT64
  ``64:ff9b::/96`` and 6to4 ``2002::/16``. The deprecated forms (IPv4-compatible ``::/96``,
  IPv4-translated ``::ffff:0:0:0/96``, Teredo ``2001::/32``, local-use NAT64
  ``64:ff9b:1::/48``) are refused outright.
- Cloud metadata addresses (``METADATA``, and any form embedding one) are refused even when
  ``CEASEFIRE_WEBHOOK_ALLOWED_SUBNETS`` lists their subnet: that setting lets a receiver on
  your own network through, never the instance's credentials endpoint.
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
    "DENIED_V4",
    "DENIED_V6",
    "METADATA",
    "AddressPolicy",
    "GuardedNetworkBackend",
    "IPAddress",
    "IPNetwork",
    "Resolver",
    "UnsafeUrlError",
    "check_url",
    "embedded_ipv4",
    "resolve",
    "resolve_and_check",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``; the system resolver by default, replaceable in tests.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


def _nets(*specs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), reason) for net, reason in specs)


#: IPv4 ranges that are not publicly routable (IANA IPv4 Special-Purpose Address Registry).
DENIED_V4 = _nets(
    ("0.0.0.0/8", "an unspecified address (this network)"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a CGNAT address (shared address space)"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "a reserved address (IETF protocol assignments)"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a reserved address (6to4 relay anycast)"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a reserved address (benchmarking)"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", "a reserved address"),
)

#: IPv6 ranges refused outright; checked before the rule that only ``2000::/3`` is reachable,
#: so each gets its own reason (IANA IPv6 Special-Purpose Address Registry).
DENIED_V6 = _nets(
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("::ffff:0:0:0/96", "a reserved address (IPv4-translated)"),
    ("::/96", "a reserved address (IPv4-compatible, deprecated)"),
    ("64:ff9b:1::/48", "a private address (local-use NAT64)"),
    ("100::/64", "a reserved address (discard-only)"),
    ("2001::/32", "a reserved address (Teredo)"),
    ("2001:2::/48", "a reserved address (benchmarking)"),
    ("2001:10::/28", "a reserved address (ORCHID, deprecated)"),
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("5f00::/16", "a reserved address (segment routing)"),
    ("fc00::/7", "a private address (unique local)"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address (deprecated)"),
    ("ff00::/8", "a multicast address"),
)

_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")

#: Cloud instance metadata and platform endpoints: refused whatever the allowed subnets say.
METADATA: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle...: metadata
        "169.254.169.253",  # AWS: DNS
        "169.254.169.123",  # AWS: time
        "169.254.170.2",  # AWS ECS: task metadata and credentials
        "169.254.170.23",  # AWS EKS: pod identity credentials
        "169.254.0.23",  # Tencent Cloud: metadata
        "100.100.100.200",  # Alibaba Cloud: metadata
        "168.63.129.16",  # Azure: wire server (a public address)
        "192.0.0.192",  # Oracle Cloud: legacy metadata
        "fd00:ec2::254",  # AWS: metadata over IPv6
        "fd00:ec2::253",  # AWS: DNS over IPv6
        "fd00:ec2::123",  # AWS: time over IPv6
        "fd00:ec2::23",  # AWS EKS: pod identity over IPv6
    )
)


class UnsafeUrlError(ValueError):
    """The URL may not be called: wrong scheme, no host, or an address that is not public."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, in the forms still in use: IPv4-mapped
    (the low 32 bits), NAT64 well-known prefix (the low 32 bits), 6to4 (bits 16 to 47)."""
    if address in _MAPPED or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    return None


def _denied(address: IPAddress) -> str | None:
    """What kind of address ``address`` is when it may not be connected to ("a loopback
    address"), or None for a public address. Metadata addresses are not special here."""
    if isinstance(address, ipaddress.IPv4Address):
        return next((why for net, why in DENIED_V4 if address in net), None)
    embedded = embedded_ipv4(address)
    if embedded is not None:
        reason = _denied(embedded)
        return None if reason is None else f"{reason} ({embedded}, embedded in IPv6)"
    for net, why in DENIED_V6:
        if address in net:
            return why
    if address not in _GLOBAL_UNICAST:
        return "not a global unicast address"
    return None


def _metadata(address: IPAddress) -> IPAddress | None:
    """The metadata address ``address`` is or embeds, if any (an IPv6 zone is ignored)."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(int(address))
    if address in METADATA:
        return address
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded is not None and embedded in METADATA:
            return embedded
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
        metadata = _metadata(address)
        if metadata is not None:
            return f"a cloud metadata address ({metadata})"
        if any(address.version == net.version and address in net for net in self.allowed_subnets):
            return None
        if not self.public:
            return "outside CEASEFIRE_WEBHOOK_ALLOWED_SUBNETS"
        return _denied(address)


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

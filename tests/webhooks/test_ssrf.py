"""The resolve-and-check layer on its own. Nothing here opens a socket to anything but
loopback: addresses are judged without connecting, names are resolved by a fake resolver
(or are ``localhost``, answered from the hosts file), and the one real connection goes
through ``LoopbackOnlyBackend`` to the loopback receiver."""

from __future__ import annotations

import ipaddress

import httpcore
import httpx
import pytest

from app.webhooks.ssrf import (
    AddressPolicy,
    GuardedNetworkBackend,
    IPAddress,
    UnsafeUrlError,
    check_url,
    resolve,
    resolve_and_check,
)
from tests.webhooks.receiver import LoopbackOnlyBackend, Receiver

STRICT = AddressPolicy()
LOOPBACK_ALLOWED = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))

#: (address, a word of the reason). The table is the guard's specification: each range of
#: the deny list, its edges, and every form that embeds an IPv4 address.
REFUSED = [
    ("0.0.0.0", "unspecified"),
    ("0.255.255.255", "unspecified"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("169.254.0.1", "link-local"),
    ("172.16.5.4", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "reserved"),
    ("192.0.2.10", "documentation"),
    ("192.88.99.1", "reserved"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::7f00:1", "IPv4-compatible"),
    ("::a9fe:a9fe", "IPv4-compatible"),
    ("::ffff:127.0.0.1", "loopback address (127.0.0.1, embedded"),  # IPv4-mapped
    ("::ffff:10.1.2.3", "private address (10.1.2.3, embedded"),
    ("::ffff:0:7f00:1", "IPv4-translated"),
    ("64:ff9b::a00:1", "private address (10.0.0.1, embedded"),  # NAT64 of 10.0.0.1
    ("64:ff9b::7f00:1", "loopback address (127.0.0.1, embedded"),
    ("64:ff9b:1::a00:1", "local-use NAT64"),
    ("64:ff9b:1:ffff::1", "local-use NAT64"),
    ("100::1", "discard-only"),
    ("2001::1", "Teredo"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo"),  # client 127.0.0.1
    ("2001:2::1", "benchmarking"),
    ("2001:10::1", "ORCHID"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2002:7f00:1::", "loopback address (127.0.0.1, embedded"),  # 6to4 of 127.0.0.1
    ("2002:a00:1::", "private address (10.0.0.1, embedded"),  # 6to4 of 10.0.0.1
    ("2002:c0a8:101::1", "private address (192.168.1.1, embedded"),
    ("5f00::1", "segment routing"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("fe80::1", "link-local"),
    ("febf:ffff::1", "link-local"),
    ("fec0::1", "site-local"),  # let through by Python's own tables
    ("feff:ffff::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("4000::1", "not a global unicast"),
    ("1000::1", "not a global unicast"),
    ("e000::1", "not a global unicast"),
]
#: Cloud metadata endpoints, bare and embedded: refused, and refused even when allow-listed.
METADATA_ADDRESSES = [
    "169.254.169.254",
    "169.254.170.2",
    "100.100.100.200",
    "168.63.129.16",
    "fd00:ec2::254",
    "fd00:ec2::254%eth0",
    "::ffff:169.254.169.254",
    "::ffff:100.100.100.200",
    "64:ff9b::a9fe:a9fe",
    "2002:a9fe:a9fe::1",
]
PUBLIC = [
    "93.184.215.14",
    "1.1.1.1",
    "8.8.8.8",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above it
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.1",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001::200e",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",  # IPv4-mapped public
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = STRICT.refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert STRICT.refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", METADATA_ADDRESSES)
def test_metadata_addresses_are_refused_even_when_their_subnet_is_allowed(address: str) -> None:
    everything = AddressPolicy(
        tuple(ipaddress.ip_network(n) for n in ("0.0.0.0/0", "::/0", "169.254.0.0/16"))
    )
    for policy in (STRICT, everything):
        reason = policy.refusal(ipaddress.ip_address(address))
        assert reason is not None and "metadata" in reason


def test_the_verdicts_do_not_come_from_pythons_address_tables() -> None:
    """Where ``ipaddress``'s own tables would let an address through, the guard does not."""
    assert not ipaddress.ip_address("fec0::1").is_private  # Python's verdict: "public"
    assert STRICT.refusal(ipaddress.ip_address("fec0::1")) is not None


def test_allowed_subnets_let_through_only_themselves() -> None:
    assert LOOPBACK_ALLOWED.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert LOOPBACK_ALLOWED.refusal(ipaddress.ip_address("10.0.0.1")) is not None
    assert LOOPBACK_ALLOWED.refusal(ipaddress.ip_address("::1")) is not None
    private = AddressPolicy((ipaddress.ip_network("fd00::/8"),))
    assert private.refusal(ipaddress.ip_address("fd00:1::5")) is None
    assert private.refusal(ipaddress.ip_address("fd00:ec2::254")) is not None


def fake_resolver(answers: dict[str, list[list[str]]]):  # type: ignore[no-untyped-def]
    """Answers each name with the next of its answer lists (the last one repeats)."""
    calls: dict[str, int] = {}

    async def resolver(host: str, _port: int) -> list[IPAddress]:
        if host not in answers:
            raise OSError(-2, "Name or service not known")
        n = calls.get(host, 0)
        calls[host] = n + 1
        chosen = answers[host][min(n, len(answers[host]) - 1)]
        return [ipaddress.ip_address(a) for a in chosen]

    return resolver


async def test_a_name_is_refused_if_any_address_is_not_public() -> None:
    resolver = fake_resolver(
        {"mixed.test": [["93.184.215.14", "127.0.0.1"]], "fine.test": [["93.184.215.14"]]}
    )
    with pytest.raises(UnsafeUrlError, match=r"mixed.test resolves to 127.0.0.1, a loopback"):
        await resolve_and_check("mixed.test", 443, STRICT, resolver)
    assert await resolve_and_check("fine.test", 443, STRICT, resolver) == [
        ipaddress.ip_address("93.184.215.14")
    ]
    with pytest.raises(UnsafeUrlError, match="does not resolve"):
        await resolve_and_check("nowhere.test", 443, STRICT, resolver)


async def test_localhost_resolves_to_loopback_and_is_refused() -> None:
    addresses = await resolve("localhost", 443)  # the hosts file: no packet leaves
    assert addresses and all(a.is_loopback for a in addresses)
    with pytest.raises(UnsafeUrlError, match=r"localhost resolves to .*loopback"):
        await check_url("https://localhost/", STRICT, allow_http=False)


async def test_check_url_rules() -> None:
    resolver = fake_resolver({"hooks.test": [["93.184.215.14"]]})
    await check_url("https://hooks.test/x", STRICT, allow_http=False, resolver=resolver)
    await check_url("http://hooks.test/x", STRICT, allow_http=True, resolver=resolver)
    for url, match in (
        ("http://hooks.test/x", "must be https"),
        ("file:///etc/passwd", "must be https"),
        ("gopher://hooks.test/", "must be https"),
        ("https:///x", "no host"),
        ("https://[::1]:8443/x", "loopback"),
    ):
        with pytest.raises(UnsafeUrlError, match=match):
            await check_url(url, STRICT, allow_http=False, resolver=resolver)


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Opens nothing: records what the guard asked it to connect to."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: object, **kwargs: object):  # type: ignore[no-untyped-def,override]
        self.asked.append(host)
        raise httpcore.ConnectError("recording backend: no connection")


async def test_dns_rebinding_is_caught_at_connect_time() -> None:
    """The name was public when the subscription was checked; by delivery time it points
    at loopback. The guard checks what it connects to, so the socket layer is never asked."""
    resolver = fake_resolver({"rebind.test": [["93.184.215.14"], ["127.0.0.1"]]})
    await check_url("https://rebind.test/", STRICT, allow_http=False, resolver=resolver)
    below = RecordingBackend()
    guard = GuardedNetworkBackend(STRICT, below, resolver)
    with pytest.raises(
        httpcore.ConnectError, match=r"refused: rebind\.test resolves to 127\.0\.0\.1"
    ):
        await guard.connect_tcp("rebind.test", 443, timeout=1)
    assert below.asked == []


async def test_the_guard_connects_to_the_checked_address_not_the_name(
    receiver: Receiver,
) -> None:
    """A name resolving to the (allowed) loopback receiver: the socket layer is asked for the
    IP literal, and the request still names the host."""
    resolver = fake_resolver({"hooks.test": [["127.0.0.1"]]})
    below = LoopbackOnlyBackend()
    guard = GuardedNetworkBackend(LOOPBACK_ALLOWED, below, resolver)
    pool = httpcore.AsyncConnectionPool(network_backend=guard)
    transport = httpx.AsyncHTTPTransport()
    transport._pool = pool
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.post(f"http://hooks.test:{receiver.port}/hook", content=b"{}")
    assert response.status_code == 204
    assert below.connected == [("127.0.0.1", receiver.port)]
    [request] = receiver.at()
    assert request.headers["host"] == f"hooks.test:{receiver.port}"


CLOSED = AddressPolicy((ipaddress.ip_network("127.0.0.2/32"),), public=False)


@pytest.mark.parametrize("address", [*PUBLIC, "127.0.0.1", "10.0.0.1"])
def test_a_closed_policy_refuses_every_address_outside_its_subnets(address: str) -> None:
    assert CLOSED.refusal(ipaddress.ip_address(address)) is not None


async def test_a_closed_policy_lets_its_subnet_through_and_looks_no_name_up() -> None:
    looked_up: list[str] = []

    async def resolver(host: str, port: int) -> list[IPAddress]:
        looked_up.append(host)
        return [ipaddress.ip_address("127.0.0.2")]

    await check_url("http://127.0.0.2:9/hook", CLOSED, allow_http=True, resolver=resolver)
    with pytest.raises(UnsafeUrlError, match="is a name"):
        await check_url("http://receiver.test/hook", CLOSED, allow_http=True, resolver=resolver)
    assert looked_up == []

"""The caps per client, with no server: who counts as one client, and what a client over its
cap is told."""

from __future__ import annotations

import pytest
from starlette.requests import HTTPConnection

from app.http.capacity import PerClient, client_of
from app.http.problems import ProblemError


def connection(host: str) -> HTTPConnection:
    return HTTPConnection({"type": "http", "client": (host, 40000), "headers": []})


@pytest.mark.parametrize(
    ("host", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # the same host's /64
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client on a dual-stack socket
        ("testclient", "testclient"),
    ],
)
def test_a_client_is_its_address_and_an_ipv6_one_its_64(host: str, counted_as: str) -> None:
    assert client_of(connection(host)) == counted_as


def test_past_its_cap_a_client_is_told_429_with_retry_after_and_others_are_not() -> None:
    cap = PerClient("streams", 2, retry_after=3)
    cap.acquire("a")
    cap.acquire("a")
    with pytest.raises(ProblemError) as refused:
        cap.acquire("a")
    assert refused.value.status == 429
    assert refused.value.slug == "too-many-requests"
    assert refused.value.headers == {"Retry-After": "3"}
    cap.acquire("b")  # another client is not held back
    cap.release("a")
    cap.acquire("a")  # a place given back is taken again
    for client in ("a", "a", "b"):
        cap.release(client)
    assert cap.counts == {}  # a client holding nothing takes no room

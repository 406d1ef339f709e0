"""Caps on what is held open at once: per process (live streams and long-polls), and per
client address (those, and reads that miss the representation cache).

- ``Gauge``: a count with a ceiling for the whole process. Past it a request is refused at once
  with a 503 problem (``/problems/over-capacity``) and ``Retry-After``, instead of joining a
  crowd the process cannot serve (every waiter costs memory, a socket and a share of each
  release).
- ``PerClient``: a count with a ceiling for each client address, so one client cannot take
  every place of a gauge, nor keep the process folding long stories for it alone. Past it that
  client is answered 429 (``/problems/too-many-requests``) with ``Retry-After``; others are not.

The address is the connection's peer as the server gives it (``scope["client"]``; behind a
proxy that uvicorn trusts, the one ``X-Forwarded-For`` names). IPv6 addresses count by their
/64: one host commonly holds a whole /64, and would otherwise have 2**64 addresses to spread
over.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from ipaddress import IPv6Address, IPv6Network, ip_address

from starlette.requests import HTTPConnection

from app.http.problems import ProblemError

__all__ = ["RETRY_AFTER_SECONDS", "Gauge", "PerClient", "client_of"]

#: What a refused client is told to wait before trying again.
RETRY_AFTER_SECONDS = 5


class Gauge:
    def __init__(self, name: str, ceiling: int) -> None:
        self.name = name
        self.ceiling = ceiling
        self.count = 0

    def acquire(self) -> None:
        """Take one place, or raise the 503 problem when none is left."""
        if self.count >= self.ceiling:
            raise ProblemError(
                503,
                "over-capacity",
                f"this process already holds {self.ceiling} {self.name}; try again later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.count += 1

    def release(self) -> None:
        self.count -= 1

    @contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


def client_of(connection: HTTPConnection) -> str:
    """The address a request is counted under (see the module's docstring)."""
    return _client_key(connection.client.host if connection.client is not None else "")


@lru_cache(maxsize=4096)
def _client_key(host: str) -> str:
    """Parsing an address costs a tenth of a cached status read; a server sees the same few
    thousand addresses again and again."""
    try:
        address = ip_address(host)
    except ValueError:
        return host  # not an address (a test client's name, a Unix socket): as given
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(IPv6Network((address, 64), strict=False))
    return str(address)


class PerClient:
    """At most ``ceiling`` places per client address; an address holding none takes no room."""

    def __init__(self, name: str, ceiling: int, *, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        self.name = name
        self.ceiling = ceiling
        self.retry_after = retry_after
        self.counts: dict[str, int] = {}

    def acquire(self, client: str) -> None:
        """Take one of the client's places, or raise the 429 problem when it has none left."""
        held = self.counts.get(client, 0)
        if held >= self.ceiling:
            raise ProblemError(
                429,
                "too-many-requests",
                f"this client already has {self.ceiling} {self.name} at once; "
                "try again when one has ended",
                headers={"Retry-After": str(self.retry_after)},
            )
        self.counts[client] = held + 1

    def release(self, client: str) -> None:
        held = self.counts[client] - 1
        if held:
            self.counts[client] = held
        else:
            del self.counts[client]

    @contextmanager
    def held(self, client: str) -> Iterator[None]:
        self.acquire(client)
        try:
            yield
        finally:
            self.release(client)

"""A real webhook receiver on loopback, and the only network the delivery tests can reach.

``Receiver`` is an HTTP/1.1 server in a thread on 127.0.0.1 that records every request and
answers as its ``responders`` say (204 by default). ``LoopbackOnlyBackend`` is the network
backend the tests put under the SSRF guard: it opens sockets to loopback IP literals and
refuses everything else, names included (so not even a DNS query leaves), which keeps every
packet on this machine even if the guard above it were broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore

__all__ = ["LoopbackOnlyBackend", "Received", "Receiver", "Reply", "eventually"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass(frozen=True)
class Reply:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    #: Answer nothing: reset the connection (RST) instead.
    reset: bool = False
    #: Hang: answer only once this is set (the test sets it when done with the hang).
    hold: threading.Event | None = None


#: ``(request, how many times this webhook-id reached this path, this one included) -> Reply``
Responder = Callable[[Received, int], Reply]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        if len(body) < length:  # the sender went away mid-request: nothing was delivered
            self.close_connection = True
            return
        request = Received(
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            at=time.time(),
        )
        reply = self.server.owner._record(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.hold is not None:
            reply.hold.wait()
        if reply.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default 5 drops connections under concurrent deliveries
    owner: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a sender killed mid-request resets its connection: expected in these tests

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        self.owner._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        self.owner._connections.discard(request)
        super().shutdown_request(request)


class Receiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.received: list[Received] = []
        self.responders: dict[str, Responder] = {}
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.port = 0

    def start(self) -> Receiver:
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go down: close open connections and stop listening, so connections to the port
        are refused until ``start`` again (on the same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def _record(self, request: Received) -> Reply:
        with self._lock:
            self.received.append(request)
            key = (request.path, request.headers.get("webhook-id", ""))
            self._counts[key] = self._counts.get(key, 0) + 1
            count = self._counts[key]
        responder = self.responders.get(request.path)
        return Reply() if responder is None else responder(request, count)

    def at(self, path: str = "/hook") -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]


async def eventually(
    check: Callable[[], Any], *, within: float = 30.0, interval: float = 0.02
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; fail after
    ``within`` seconds with its last value. Sleeps on the event loop, so in-process workers
    keep running meanwhile."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within}s; last value: {value!r}")
        await asyncio.sleep(interval)


class LoopbackOnlyBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to loopback IP literals only."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.connected: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise httpcore.ConnectError(f"test network: {host!r} is not an IP literal") from None
        if not address.is_loopback:
            raise httpcore.ConnectError(f"test network: {host} is not loopback")
        self.connected.append((host, port))
        return await self.inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("test network: no unix sockets")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

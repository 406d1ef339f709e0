"""Sending one attempt: sign, POST, read at most so much of the answer, never follow a redirect.

The HTTP client connects through ``GuardedNetworkBackend`` (``app/webhooks/ssrf.py``), which
checks every address it connects to. Below the guard sits ``network_backend_factory``'s
backend, the one that opens sockets; the tests replace it with one that can reach nothing but
loopback, so that even a broken guard could not send a packet anywhere else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import httpcore
import httpx

from app.settings import Settings
from app.webhooks.cloudevents import CONTENT_TYPE
from app.webhooks.retry import Outcome, parse_retry_after
from app.webhooks.signing import signature_header
from app.webhooks.ssrf import AddressPolicy, GuardedNetworkBackend

__all__ = ["USER_AGENT", "WebhookSender", "network_backend_factory"]

USER_AGENT = "ceasefire-webhooks/1"

#: Makes the backend that opens connections, under the guard.
network_backend_factory: Callable[[], httpcore.AsyncNetworkBackend] = httpcore.AnyIOBackend


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool rebuilt on the guarded network backend
    (httpx does not expose the backend itself). No proxy: ``trust_env`` is off, so no
    ``HTTPS_PROXY`` can route a delivery around the guard."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class WebhookSender:
    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.webhook_timeout.total_seconds()
        self._max_bytes = settings.webhook_max_response_bytes
        backend = GuardedNetworkBackend(
            AddressPolicy(settings.webhook_allowed_subnets, settings.webhook_public_addresses),
            network_backend_factory(),
        )
        self._client = httpx.AsyncClient(
            transport=_GuardedTransport(
                backend,
                httpx.Limits(
                    max_connections=max(settings.webhook_concurrency, 10),
                    max_keepalive_connections=max(settings.webhook_concurrency, 10),
                ),
            ),
            timeout=httpx.Timeout(
                self._timeout, connect=settings.webhook_connect_timeout.total_seconds()
            ),
            follow_redirects=False,
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def send(
        self, url: str, message_id: str, body: bytes, live_secrets: Sequence[str]
    ) -> Outcome:
        """One signed POST of ``body``; the outcome, never an exception (but cancellation)."""
        timestamp = int(time.time())
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(live_secrets, message_id, timestamp, body),
            "content-type": CONTENT_TYPE,
            "user-agent": USER_AGENT,
            "accept-encoding": "identity",
        }
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 3)

        try:
            async with (
                asyncio.timeout(self._timeout),
                self._client.stream("POST", url, content=body, headers=headers) as response,
            ):
                kept = bytearray()
                if self._max_bytes:
                    async for chunk in response.aiter_raw():
                        kept += chunk
                        if len(kept) >= self._max_bytes:
                            break
                return Outcome(
                    status_code=response.status_code,
                    error=None,
                    latency_ms=elapsed(),
                    response_body=bytes(kept[: self._max_bytes]).decode("utf-8", "replace"),
                    retry_after=parse_retry_after(
                        response.headers.get("retry-after"), datetime.now(UTC)
                    ),
                )
        except TimeoutError:
            return Outcome(None, f"timed out after {self._timeout:g}s", elapsed(), timed_out=True)
        except httpx.TimeoutException as error:
            return Outcome(None, f"timed out: {type(error).__name__}", elapsed(), timed_out=True)
        except httpx.HTTPError as error:
            return Outcome(None, f"{type(error).__name__}: {error}", elapsed())
        except (httpcore.ProtocolError, ValueError, UnicodeError, OSError) as error:
            # What a receiver can provoke below httpx's own errors (a malformed answer the
            # parser chokes on, a header that does not decode): its attempt failed, that is all.
            return Outcome(None, f"{type(error).__name__}: {error}", elapsed())

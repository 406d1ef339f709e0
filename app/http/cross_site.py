"""What other sites may do with the service's answers: read the open reads from their pages'
JavaScript when ``CEASEFIRE_CORS_ORIGINS`` lets them (CORS), and nothing else.

- **Every answer** (the API's, the page's, a problem, a 404) carries
  ``X-Content-Type-Options: nosniff`` (a browser takes a body for what its ``Content-Type``
  says, never for a script or a style it guesses) and ``Referrer-Policy: no-referrer`` (a
  reader following a source's link from the page does not tell that site which conflict they
  were reading; the service reads no ``Referer`` itself). A route that sets its own value keeps
  it.
- **CORS, for the open reads only**: ``GET`` and ``HEAD`` of the views, the log, its head, the
  stream, badges and feeds (``OPEN_READS``), and their preflight. Starlette's own
  ``CORSMiddleware`` answers, configured for reads: no credentials, and no ``Authorization``
  among the headers a page may send (a key in another site's JavaScript is a key every reader
  of that site holds), so only anonymous reads cross. Whether a request is an open read is
  decided here, by method and path, because ``CORSMiddleware`` applies to whatever app it
  wraps: a write (``POST /v1/events``), the admin routes, ``/metrics`` and webhooks never get
  an ``Access-Control-Allow-Origin``, so a browser keeps their answers from other sites, and
  their preflight is not answered (405), which a browser takes as a refusal.

``*`` is sent as ``*``; a list of origins is echoed one at a time, with ``Vary: Origin`` so a
shared cache keeps each origin's answer apart.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings

__all__ = ["EXPOSED", "OPEN_READS", "SENT", "CrossSite", "cross_site"]

#: The paths (and everything under them) whose ``GET`` is an open read.
OPEN_READS = ("/v1/conflicts", "/v1/events", "/v1/log/head", "/v1/stream")

#: Headers another site's page may send on a read, beyond the CORS-safelisted ones: a
#: conditional read's tag, a long-poll's ``Prefer: wait=N``, a stream's resume point, a
#: request id. Not ``Authorization``.
SENT = ("If-None-Match", "Prefer", "Last-Event-ID", "X-Request-ID")

#: Response headers such a page may read, beyond the safelisted ones.
EXPOSED = (
    "ETag",
    "Link",
    "Log-Position",
    "Preference-Applied",
    "Retry-After",
    "X-Request-ID",
)

_EVERY_RESPONSE = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def _is_open_read(scope: Scope) -> bool:
    if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
        return False
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return any(path == base or path.startswith(f"{base}/") for base in OPEN_READS)


class CrossSite:
    """The headers of every answer, and CORS for the open reads when ``origins`` are set."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.cors: ASGIApp | None = None
        if origins:
            self.cors = CORSMiddleware(
                app,
                allow_origins=origins,
                # A preflight asking for any other method is refused (400).
                allow_methods=("GET", "HEAD"),
                allow_headers=SENT,
                allow_credentials=False,
                expose_headers=EXPOSED,
                max_age=600,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in _EVERY_RESPONSE if h[0] not in present)
                message["headers"] = headers
            await send(message)

        inner = self.cors if self.cors is not None and _is_open_read(scope) else self.app
        await inner(scope, receive, sending)


def cross_site(app: ASGIApp, settings: Settings) -> ASGIApp:
    """``app`` with the headers of every answer and, per ``CEASEFIRE_CORS_ORIGINS``, CORS."""
    return CrossSite(app, settings.cors_origins)

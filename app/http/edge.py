"""The HTTP edge of ``ceasefire serve``: what a client may hold of a process before it has sent
a whole request, bounded with uvicorn's own documented settings (no protocol of ours).

- **Header size** (``CEASEFIRE_MAX_HEADER_BYTES``): uvicorn's h11 parser with
  ``h11_max_incomplete_event_size``. Headers still arriving past the limit are refused (uvicorn
  answers 400 and closes the connection), so no more than the limit plus one read is ever
  buffered; uvicorn's faster httptools parser has no such bound, so ``serve`` uses h11. A
  header block that came whole in one read is measured exactly by ``app.http.limits.BodyLimit``
  (431).
- **Connections** (``CEASEFIRE_MAX_CONNECTIONS``): ``limit_concurrency``. Past it, a request is
  answered 503 by uvicorn (plain text) and its connection closed.
- **Idle connections** (``CEASEFIRE_KEEP_ALIVE_TIMEOUT``): ``timeout_keep_alive`` closes a
  connection that sends nothing this long after its last answer.

What uvicorn does not do is put a deadline on a request's headers: a connection that sends
nothing after opening, or sends its headers a byte at a time (slowloris), is held until the
client goes away. Enough of them reach ``CEASEFIRE_MAX_CONNECTIONS``, after which every
newcomer is answered 503. Facing the internet, a reverse proxy in front bounds that (README,
"Facing the internet"). The body's deadline is the ASGI guard's (``app.http.limits.BodyLimit``),
which reads every body before the app sees it.
"""

from __future__ import annotations

from typing import Any

from app.settings import Settings

__all__ = ["serving_options", "uvicorn_arguments"]


def serving_options(settings: Settings) -> dict[str, Any]:
    """The ``uvicorn.run`` keyword arguments that bound a process's connections."""
    return {
        "http": "h11",
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_timeout,
    }


def uvicorn_arguments(settings: Settings) -> list[str]:
    """The same bounds as uvicorn command-line options (``uvicorn app.main:create_app …``)."""
    return [
        f"--{name.replace('_', '-')}={value}" for name, value in serving_options(settings).items()
    ]

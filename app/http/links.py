"""The links the service writes into answers (the Atom feed's, a redirect's ``Location``),
built without the request's ``Host`` header.

``Host`` is whatever the client sent: a link built from it would hand a cache, a feed reader
or the next client an address of the sender's choosing (and an answer that depends on it
needs ``Vary: Host``). So a link is ``CEASEFIRE_PUBLIC_URL`` and the path when that is set,
and otherwise an absolute path (the ASGI ``root_path`` first, for a proxy that says where it
mounts the app), which a client resolves against the URL it asked.

Starlette's own trailing-slash redirect builds its ``Location`` from ``Host``; the app turns
it off (``redirect_slashes=False``) and answers the same redirect with ``slash_redirect``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Match

from app.settings import Settings

__all__ = ["link", "slash_redirect"]


def link(request: Request, path: str) -> str:
    """Where ``path`` (``/v1/...``, with any query or fragment) is, for a client."""
    settings: Settings = request.app.state.settings
    if settings.public_url is not None:
        return settings.public_url + path
    root: str = request.scope.get("root_path", "")
    return root + path


def slash_redirect(request: Request) -> RedirectResponse | None:
    """For a path no route matches, a 307 to the same path with its trailing slash added or
    taken away when a route matches that one (what Starlette's router does), else ``None``."""
    path: str = request.scope["path"]
    if path == "/":
        return None
    routes = request.app.router.routes
    if any(route.matches(request.scope)[0] != Match.NONE for route in routes):
        return None  # a route matched and answered 404 itself: not a question of slashes
    other = path.removesuffix("/") if path.endswith("/") else f"{path}/"
    moved = {**request.scope, "path": other}
    if not any(route.matches(moved)[0] != Match.NONE for route in routes):
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    return RedirectResponse(link(request, other + (f"?{query}" if query else "")), 307)

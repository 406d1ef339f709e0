"""The links the service writes into answers (the Atom feed's, a redirect's ``Location``, a
page's ``Link: rel="next"``, a webhook's CloudEvents ``source``), built without the request's
``Host`` header.

``Host`` is whatever the client sent: a link built from it would hand a cache, a feed reader
or the next client an address of the sender's choosing (and an answer that depends on it
needs ``Vary: Host``). So a link is ``CEASEFIRE_PUBLIC_URL`` and the path when that is set,
and otherwise an absolute path (the ASGI ``root_path`` first, for a proxy that says where it
mounts the app), which a client resolves against the URL it asked.

Starlette's own trailing-slash redirect builds its ``Location`` from ``Host``; the app turns
it off (``redirect_slashes=False``) and answers the same redirect with ``slash_redirect``.
"""

from __future__ import annotations

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Match

from app.settings import Settings

__all__ = ["link", "public_link", "request_link", "slash_redirect"]


def link(request: Request, path: str) -> str:
    """Where ``path`` (``/v1/...``, with any query or fragment) is, for a client."""
    settings: Settings = request.app.state.settings
    if settings.public_url is not None:
        return public_link(settings, path)
    root: str = request.scope.get("root_path", "")
    return root + path


def public_link(settings: Settings, path: str) -> str:
    """``link`` where there is no request (a webhook's body): ``CEASEFIRE_PUBLIC_URL`` and
    ``path`` when that is set, ``path`` otherwise."""
    return path if settings.public_url is None else settings.public_url + path


def request_link(request: Request) -> URL:
    """The request's own path and query as ``link`` makes them: the base of a ``Link`` header
    naming the next page."""
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return URL(link(request, path + (f"?{query}" if query else "")))


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

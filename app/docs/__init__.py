"""The documentation the service serves itself, with nothing loaded from elsewhere.

- ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) on ``/openapi.json``, their scripts and styles
  served from ``/docs/assets``: the files the ``fastapi-offline`` package installs (MIT;
  Swagger UI is Apache-2.0, ReDoc MIT), not a CDN.
- ``/problems`` and ``/problems/{name}``: what each problem ``type`` means. The ``type`` of
  every problem the API answers is such a path, so it resolves to its explanation. The one
  source is ``problems.md`` beside this module (the page the README links to).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from markdown_it import MarkdownIt

from app.http.problems import ProblemError

__all__ = ["CATALOGUE", "ProblemType", "install", "problem_types"]

#: The problem catalogue: Markdown, read by people on the repository and served here.
CATALOGUE = Path(__file__).with_name("problems.md")
_ASSETS = "/docs/assets"
#: The docs pages load from this origin only (Swagger UI needs inline script and style).
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'"
)
_ROW = re.compile(r"^\| `/problems/(?P<name>[a-z0-9-]+)` \| (?P<status>[^|]*) \| (?P<when>.*?) \|")
_markdown = MarkdownIt("commonmark").enable("table")


@dataclass(frozen=True, slots=True)
class ProblemType:
    name: str
    status: str
    #: The table row's cells after the type, as Markdown: when it happens, its members.
    cells: tuple[str, ...]
    #: The section of the catalogue the row sits in, as Markdown (its tables and notes).
    section: str


@cache
def problem_types() -> dict[str, ProblemType]:
    """Every problem type the catalogue lists, by name, from its tables' rows."""
    found: dict[str, ProblemType] = {}
    sections = re.split(r"(?m)^(?=## )", CATALOGUE.read_text(encoding="utf-8"))
    for section in sections:
        for line in section.splitlines():
            match = _ROW.match(line)
            if match:
                cells = tuple(c.strip() for c in line.strip().strip("|").split(" | ")[2:])
                found[match["name"]] = ProblemType(
                    match["name"], match["status"].strip(), cells, section
                )
    return found


def _page(title: str, body: str) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;color:#1a1a1a}table{border-collapse:collapse}td,th{border:1px solid "
        "#999;padding:.3rem .5rem;vertical-align:top}code{background:#eee;padding:0 .2rem}"
        "</style></head><body>"
        f"{body}</body></html>"
    )
    return HTMLResponse(
        document,
        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
    )


#: ReDoc's side menu always shows Redocly's logo, fetched from their CDN: the one outside
#: request the docs would make. Its copy served here shows our favicon instead.
_REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def _redoc_script() -> bytes:
    script = (files("fastapi_offline") / "static" / "redoc.standalone.js").read_bytes()
    return script.replace(_REDOC_LOGO, f"{_ASSETS}/favicon.png".encode())


def install(app: FastAPI) -> None:
    """Add the docs pages; the app must be made with ``docs_url=None, redoc_url=None``."""

    @app.get(f"{_ASSETS}/redoc.standalone.js", include_in_schema=False)
    async def redoc_script() -> Response:
        return Response(
            _redoc_script(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    assets = files("fastapi_offline") / "static"
    app.mount(_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API",
            swagger_js_url=f"{_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{_ASSETS}/favicon.png",
            # No badge from the public validator service: nothing is fetched from elsewhere.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = _CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title}: API reference",
            redoc_js_url=f"{_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = _CSP
        return page

    @app.get("/problems", include_in_schema=False)
    async def problems() -> HTMLResponse:
        return _page("Problem types", _markdown.render(CATALOGUE.read_text(encoding="utf-8")))

    @app.get("/problems/{name}", include_in_schema=False)
    async def problem(name: Annotated[str, PathParam()]) -> HTMLResponse:
        found = problem_types().get(name)
        if found is None:
            raise ProblemError(404, "not-found", f"no problem type {name!r}; see /problems")
        when = _markdown.render(found.cells[0]) if found.cells else ""
        members = found.cells[1] if len(found.cells) > 1 else ""
        body = (
            f"<h1><code>/problems/{html.escape(name)}</code></h1>"
            f"<p>HTTP status: <strong>{html.escape(found.status)}</strong></p>"
            f"<h2>When</h2>{when}"
            + (
                f"<h2>Members beside type, title, status, detail, instance</h2>"
                f"{_markdown.render(members)}"
                if members
                else ""
            )
            + f"<h2>In context</h2>{_markdown.render(found.section)}"
            + '<p><a href="/problems">Every problem type</a> · <a href="/docs">API docs</a></p>'
        )
        return _page(f"/problems/{name}", body)

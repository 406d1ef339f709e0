"""The baseline for read benchmarks: a bare FastAPI app whose status route returns a constant.

It answers the same path as the real status route with the same JSON (read once from the file
named by ``CEASEFIRE_BENCH_CONSTANT``), served by the same uvicorn settings, so the difference
between the two is what our route does: the dependencies, the queries, building the view.

- ``/v1/conflicts/{conflict}/status``: returns the constant as a ``dict`` (FastAPI encodes it).
- ``/bytes/{conflict}/status``: returns the constant's bytes (the cheapest a FastAPI route gets).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response

__all__ = ["create_app"]


def create_app() -> FastAPI:
    path = os.environ.get("CEASEFIRE_BENCH_CONSTANT")
    body = Path(path).read_bytes() if path else b'{"state": "holding"}'
    constant: dict[str, Any] = json.loads(body)
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/conflicts/{conflict}/status")
    async def status(conflict: str) -> dict[str, Any]:
        return constant

    @app.get("/bytes/{conflict}/status")
    async def status_bytes(conflict: str) -> Response:
        return Response(body, media_type="application/json")

    return app

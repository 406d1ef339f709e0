"""``/healthz`` (the process answers) and ``/readyz`` (the database answers, schema at head)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import text

from app.deps import SettingsDep, StoreDep
from app.services.schema_migrations import is_at_head

__all__ = ["router"]

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Whether the process (and, for /readyz, its database) can serve."""

    status: str
    database: str | None = None
    migrations: str | None = None


@router.get(
    "/healthz",
    operation_id="get_liveness",
    response_model=Health,
    summary="Liveness: the process answers",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> Health:
    """For a liveness probe: 200 as long as the process serves requests. The database is not
    asked (see /readyz)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="get_readiness",
    response_model=Health,
    summary="Readiness: the database answers and its schema is current",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"status": "ok", "database": "ok", "migrations": "head"}
                }
            }
        },
        503: {
            "model": Health,
            "description": "Not ready: the database is unreachable or a migration is missing.",
        },
    },
)
async def readyz(store: StoreDep, settings: SettingsDep, response: Response) -> Health:
    """For a readiness probe: 200 once the database answers and its schema is at the latest
    migration; 503 (with which part is not ready) otherwise."""
    try:
        async with store.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            at_head = await is_at_head(conn, settings.database_url)
    except Exception:  # any failure to reach the database means "not ready", nothing more
        response.status_code = 503
        return Health(status="unavailable", database="unreachable")
    if not at_head:
        response.status_code = 503
        return Health(status="unavailable", database="ok", migrations="behind")
    return Health(status="ok", database="ok", migrations="head")

"""``/healthz`` (the process answers) and ``/readyz`` (the database answers, schema at head)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import text

from app.deps import SettingsDep, StoreDep
from app.migrate import is_at_head

__all__ = ["router"]

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str | None = None
    migrations: str | None = None


@router.get("/healthz", operation_id="healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready"}},
)
async def readyz(store: StoreDep, settings: SettingsDep, response: Response) -> Health:
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

"""Liveness, database check and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from app.api.deps import CtxDep

router = APIRouter(tags=["system"])


@router.get("/health")
def health(ctx: CtxDep) -> Response:
    """Liveness and database reachability (503 when the database does not answer)."""
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means not healthy
        return JSONResponse({"status": "unhealthy", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus text exposition."""
    return PlainTextResponse(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")

"""Liveness and readiness: /healthz checks PostgreSQL and Redis; /metrics for Prometheus."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from hotline.api import schemas as s
from hotline.api.contract import operation, respond
from hotline.api.keys import METRICS, POOL, REDIS, SERVICES
from hotline.calendar_years import coverage_at

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/healthz")
@operation("Liveness and readiness (503 when PostgreSQL is down)", "meta", response=s.Health, public=True, errors=())
async def healthz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2):
            async with request.app[POOL].acquire() as conn:
                await conn.fetchval("SELECT 1")
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"error: {type(exc).__name__}"
    try:
        async with asyncio.timeout(2):
            await request.app[REDIS].ping()
        checks["redis"] = "ok"
    except Exception as exc:
        # Redis only carries live views: degraded, not down.
        checks["redis"] = f"error: {type(exc).__name__}"
    status = 200 if checks["postgres"] == "ok" else 503
    overall = "ok" if all(v == "ok" for v in checks.values()) else ("degraded" if status == 200 else "down")
    body: dict[str, object] = {"status": overall, "checks": checks}
    if status == 200:
        body["details"] = {"calendar": await _calendar(request)}
    return respond(request, body, status=status)


async def _calendar(request: web.Request) -> dict[str, object]:
    """Whether the working calendar covers this year and the next (a warning from 45 days before it)."""
    services = request.app[SERVICES]
    async with request.app[POOL].acquire() as conn:
        return (await coverage_at(conn, services.deadlines, services.clock())).as_dict()


@routes.get("/metrics")
@operation("Prometheus metrics", "meta", public=True, media="text/plain", errors=())
async def metrics(request: web.Request) -> web.Response:
    m = request.app[METRICS]
    try:
        async with asyncio.timeout(2):
            async with request.app[POOL].acquire() as conn:
                await m.operator.sync_database(conn, request.app[SERVICES].clock())
    except Exception:
        # The database figures keep their last values; a scrape still answers with the rest.
        log.warning("metrics: database figures not refreshed", exc_info=True)
    body = m.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

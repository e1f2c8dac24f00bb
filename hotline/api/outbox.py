"""Supervisors' view of webhook deliveries: dead letters, per-unit health, retry.

| method | path | what |
| --- | --- | --- |
| GET | `/api/outbox/dead?unit_id=&limit=&cursor=` | deliveries that used up their attempts, newest first |
| POST | `/api/outbox/{id}/retry` | send a dead delivery again (attempts start over) |
| POST | `/api/outbox/retry` `{"unit_id"}` | send again every dead delivery of one unit |
| GET | `/api/outbox/units` | per unit: pending, dead, delivered, failures, consecutive failures, last error |
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hotline import cursors
from hotline.api import schemas as s
from hotline.api.body import parse, parse_query, path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL
from hotline.api.middleware import SUPERVISORS, require_role
from hotline.auth import Principal
from hotline.bounds import Id
from hotline.errors import Conflict, NotFound
from hotline.orders.views import row_dict

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

_COLUMNS = """o.id, o.delivery_id, o.topic, o.order_id, o.unit_id, u.code AS unit_code, o.status, o.attempts,
              o.last_status, o.last_error, o.target_url, o.created_at, o.last_attempt_at, o.payload"""


class DeadFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: Id | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=200)


class RetryUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: Id


def _supervisor(request: web.Request) -> Principal:
    return require_role(request, SUPERVISORS, "webhook deliveries are for supervisors")


def _view(row: Any) -> dict[str, Any]:
    out = row_dict(row)
    out["delivery_id"] = str(out["delivery_id"])
    return out


@routes.get("/api/outbox/dead")
@operation("Dead webhook deliveries", "outbox", response=s.DeadPage, query=DeadFilter)
async def dead(request: web.Request) -> web.Response:
    _supervisor(request)
    f = parse_query(request, DeadFilter)
    args: list[Any] = []
    where = ["o.status = 'dead'"]
    if f.unit_id is not None:
        args.append(f.unit_id)
        where.append(f"o.unit_id = ${len(args)}")
    if f.cursor:
        at, last = cursors.decode(f.cursor)
        args += [at, last]
        where.append(f"(o.created_at, o.id) < (${len(args) - 1}, ${len(args)})")
    args.append(f.limit + 1)
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM outbox o JOIN units u ON u.id = o.unit_id
                WHERE {" AND ".join(where)} ORDER BY o.created_at DESC, o.id DESC LIMIT ${len(args)}""",
            *args,
        )
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    return respond(
        request,
        {
            "items": [_view(r) for r in rows],
            "next_cursor": cursors.encode(rows[-1]["created_at"], rows[-1]["id"]) if more else None,
        },
    )


@routes.post("/api/outbox/{outbox_id}/retry")
@operation("Send a dead delivery again", "outbox", response=s.Delivery)
async def retry(request: web.Request) -> web.Response:
    who = _supervisor(request)
    outbox_id = path_id(request, "outbox_id")
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT status FROM outbox WHERE id = $1 FOR UPDATE", outbox_id)
        if row is None:
            raise NotFound("no such delivery", {"outbox_id": outbox_id})
        if row["status"] != "dead":
            raise Conflict(
                f"the delivery is {row['status']}; only dead deliveries are retried",
                {"outbox_id": outbox_id, "status": row["status"]},
            )
        await conn.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now() WHERE id = $1", outbox_id
        )
        updated = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM outbox o JOIN units u ON u.id = o.unit_id WHERE o.id = $1", outbox_id
        )
    log.info("dead delivery retried", extra={"outbox_id": outbox_id, "user_id": who.user_id})
    return respond(request, _view(updated))


@routes.post("/api/outbox/retry")
@operation("Send again every dead delivery of a unit", "outbox", response=s.Retried, body=RetryUnit)
async def retry_unit(request: web.Request) -> web.Response:
    who = _supervisor(request)
    body = await parse(request, RetryUnit)
    async with request.app[POOL].acquire() as conn:
        ids = await conn.fetch(
            """UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now()
               WHERE unit_id = $1 AND status = 'dead' RETURNING id""",
            body.unit_id,
        )
    log.info("dead deliveries retried", extra={"unit_id": body.unit_id, "count": len(ids), "user_id": who.user_id})
    return respond(request, {"unit_id": body.unit_id, "retried": len(ids)})


@routes.get("/api/outbox/units")
@operation("Webhook delivery health per unit", "outbox", response=s.UnitHealthList)
async def unit_health(request: web.Request) -> web.Response:
    _supervisor(request)
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch(
            """SELECT u.id AS unit_id, u.code AS unit_code, u.webhook_url,
                      (SELECT count(*) FROM outbox o WHERE o.unit_id = u.id AND o.status = 'pending') AS pending,
                      (SELECT count(*) FROM outbox o WHERE o.unit_id = u.id AND o.status = 'dead') AS dead_now,
                      COALESCE(s.delivered, 0) AS delivered, COALESCE(s.failures, 0) AS failures,
                      COALESCE(s.consecutive_failures, 0) AS consecutive_failures, COALESCE(s.dead, 0) AS dead_total,
                      s.last_success_at, s.last_failure_at, s.last_error
               FROM units u LEFT JOIN webhook_unit_stats s ON s.unit_id = u.id
               WHERE u.webhook_url IS NOT NULL OR s.unit_id IS NOT NULL
               ORDER BY COALESCE(s.consecutive_failures, 0) DESC, u.code"""
        )
    return respond(request, {"items": [row_dict(r) for r in rows]})

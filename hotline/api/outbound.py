"""Click-to-call: ``POST /api/orders/{order_id}/call-citizen`` and the order's attempts.

Agents and supervisors place the call: the agent's own phone rings first, then the citizen's
number is dialled through ``HOTLINE_OUTBOUND_CONTEXT`` with the centre's caller id. It is queued
as a durable AMI command (``hotline.outbound.commands``), placed at most once, also across a
reconnect. A unit (handler) asks the centre to call instead: the request goes into the order's
history and the unit gets 202 without a command. No answer here carries the number dialled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from hotline.api import idempotent
from hotline.api.body import json_object, path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SETTINGS
from hotline.api.middleware import principal
from hotline.errors import Forbidden, NotFound
from hotline.orders import queries
from hotline.outbound import calls, commands

routes = web.RouteTableDef()
PLACERS = frozenset({"agent", "supervisor"})
READERS = frozenset({"agent", "supervisor", "admin"})


class CallCitizen(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutboundCall(BaseModel):
    id: int
    order_id: int
    state: Literal["pending", "sent", "answered", "failed", "unknown"]
    outcome: Literal["answered", "no answer", "busy", "failed"] | None
    hangup_cause: int | None
    hangup_cause_txt: str | None
    created_at: datetime
    sent_at: datetime | None
    done_at: datetime | None
    outcome_at: datetime | None


class CallRequest(BaseModel):
    """The answer to a call-citizen request: the attempt, or (a unit's request) none."""

    requested_by_unit: bool
    call: OutboundCall | None


def call_view(row) -> dict:  # type: ignore[no-untyped-def]
    return {k: row[k] for k in OutboundCall.model_fields}


@routes.post("/api/orders/{order_id}/call-citizen")
@operation(
    "Call the order's citizen (click-to-call)", "outbound", response=CallRequest, body=CallCitizen, status=202,
    idempotent=True,
    description="Rings the agent's phone, then the citizen through the outbound context. Placed at most once; "
    "a handler's request is recorded for the centre.",
)  # fmt: skip
async def call_citizen(request: web.Request) -> web.Response:
    body = await json_object(request)
    CallCitizen.model_validate(body)
    p, order_id = principal(request), path_id(request, "order_id")
    settings = request.app[SETTINGS]
    key = request.headers.get("Idempotency-Key")

    async def work(conn) -> idempotent.Created:  # type: ignore[no-untyped-def]
        if await queries.order_audience(conn, p, order_id) is None:
            raise NotFound("no such order", {"order_id": order_id})
        if p.role == "handler":
            await calls.request_by_unit(conn, p, order_id)
            return idempotent.Created(202, {"requested_by_unit": True, "call": None})
        if p.role not in PLACERS:
            raise Forbidden("agents and supervisors place calls", {"role": p.role})
        row = await calls.place(conn, settings, p, order_id, key)
        return idempotent.Created(202, {"requested_by_unit": False, "call": call_view(row)})

    return await idempotent.once(request, body, work)


@routes.get("/api/orders/{order_id}/outbound-calls")
@operation("The order's click-to-call attempts and their outcomes", "outbound", response=list[OutboundCall])
async def outbound_calls(request: web.Request) -> web.Response:
    p, order_id = principal(request), path_id(request, "order_id")
    if p.role not in READERS:
        raise Forbidden(
            "the centre's calls are listed for the centre; the order's history shows them", {"role": p.role}
        )
    async with request.app[POOL].acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM work_orders WHERE id = $1", order_id) is None:
            raise NotFound("no such order", {"order_id": order_id})
        rows = await commands.for_order(conn, order_id)
    return respond(request, [call_view(r) for r in rows])

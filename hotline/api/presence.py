"""Agent presence actions: ``POST /api/agents/me/sign-in``, ``sign-out``, ``pause`` ``{reason}``
(one of ``HOTLINE_PAUSE_REASONS``) and ``unpause``. Each queues durable AMI commands
(``hotline.outbound.commands``): sent once, never re-sent after a reconnect; with an
``Idempotency-Key`` a repeat returns the same commands."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hotline.api import idempotent
from hotline.api.body import json_object
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SETTINGS
from hotline.api.middleware import principal
from hotline.errors import Forbidden
from hotline.presence import actions

routes = web.RouteTableDef()


class NoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Pause(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=40)


class PresenceCommand(BaseModel):
    id: int
    kind: Literal["queue_add", "queue_remove", "queue_pause", "queue_unpause"]
    state: Literal["pending", "sent", "answered", "failed", "unknown"]
    created_at: datetime


async def _change(request: web.Request, kind: str, model: type[BaseModel]) -> web.Response:
    body = await json_object(request)
    data = model.model_validate(body)
    p = principal(request)
    if p.role != "agent":
        raise Forbidden("presence is an agent's", {"role": p.role})
    settings, key = request.app[SETTINGS], request.headers.get("Idempotency-Key")

    async def work(conn) -> idempotent.Created:  # type: ignore[no-untyped-def]
        rows = await actions.queue(conn, settings, p, kind, getattr(data, "reason", None), key)
        return idempotent.Created(202, [{k: r[k] for k in PresenceCommand.model_fields} for r in rows])

    return await idempotent.once(request, body, work)


COMMON = dict(response=list[PresenceCommand], status=202, idempotent=True)


@routes.post("/api/agents/me/sign-in")
@operation("Sign in to the queues (QueueAdd)", "presence", body=NoBody, **COMMON)
async def sign_in(request: web.Request) -> web.Response:
    return await _change(request, "queue_add", NoBody)


@routes.post("/api/agents/me/sign-out")
@operation("Sign out of the queues (QueueRemove)", "presence", body=NoBody, **COMMON)
async def sign_out(request: web.Request) -> web.Response:
    return await _change(request, "queue_remove", NoBody)


@routes.post("/api/agents/me/pause")
@operation("Busy, with a reason (QueuePause)", "presence", body=Pause, **COMMON)
async def pause(request: web.Request) -> web.Response:
    return await _change(request, "queue_pause", Pause)


@routes.post("/api/agents/me/unpause")
@operation("Ready again (QueuePause Paused=false)", "presence", body=NoBody, **COMMON)
async def unpause(request: web.Request) -> web.Response:
    return await _change(request, "queue_unpause", NoBody)


class MemberState(BaseModel):
    node: str
    queue: str
    state: Literal["offline", "ready", "ringing", "in_call", "wrapup", "paused"]
    paused: bool
    reason: str | None
    since: datetime


class Presence(BaseModel):
    interface: str | None  # the agent's queue member interface (none: this account has no phone)
    reasons: list[str]  # the pause reasons this centre offers
    queues: list[MemberState]  # as the AMI adapter last saw the agent in each queue


@routes.get("/api/agents/me/presence")
@operation("The agent's own state in each queue, and the pause reasons offered", "presence", response=Presence)
async def my_presence(request: web.Request) -> web.Response:
    p = principal(request)
    if p.role != "agent":
        raise Forbidden("presence is an agent's", {"role": p.role})
    async with request.app[POOL].acquire() as conn:
        interface = await conn.fetchval("SELECT agent_interface FROM users WHERE id = $1", p.user_id)
        rows = await conn.fetch(
            "SELECT node, queue, state, paused, reason, since FROM member_states WHERE interface = $1"
            " ORDER BY queue, node",
            interface,
        ) if interface else []  # fmt: skip
    reasons = actions.pause_reasons(request.app[SETTINGS])
    return respond(request, {"interface": interface, "reasons": reasons, "queues": [dict(r) for r in rows]})

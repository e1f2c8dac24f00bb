"""Who saw citizens' data: the middleware that records every unmasked look, and the
supervisors' query over it (``GET /api/audit/personal-data``)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from aiohttp import web

from hotline import access_log, writes
from hotline.api.body import parse_query
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL
from hotline.api.middleware import PRINCIPAL, SUPERVISORS, Handler, require_role
from hotline.api.schemas import PersonalDataPage
from hotline.writes import Write

routes = web.RouteTableDef()
# What a handler already logged in its own transaction (``record_with``).
RECORDED = web.RequestKey("access_recorded", list)


@web.middleware
async def record_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After the handler: if the answer shows a caller's number or name unmasked, log the look
    (a failure to log fails the request: an unaccountable look is not served). A look the
    handler logged with its own writes (``record_with``) is not logged twice; anything else the
    answer shows still is."""
    response = await handler(request)
    who = request.get(PRINCIPAL)
    body = getattr(response, "body", None)
    if who is None or response.status >= 300 or not isinstance(body, bytes) or b'"caller_' not in body:
        return response
    seen = access_log.merged(access_log.shown(json.loads(body)))
    if seen and seen != request.get(RECORDED):
        async with request.app[POOL].acquire() as conn:
            await access_log.record(conn, who, request.method, _route(request), seen)
    return response


async def record_with(request: web.Request, conn: asyncpg.Connection, answer: Any) -> None:
    """Log the look ``answer`` gives on ``conn``, inside the transaction that makes it (an order
    taken in, an action): the row commits with the change, with no connection and commit of its
    own after it. The middleware still reads the answer sent, and logs it as before if it differs."""
    await writes.together(conn, [look(request, answer)])


def look(request: web.Request, answer: Any) -> Write | None:
    """``record_with``'s row as a write, for a caller that sends it together with writes of its own
    in the same transaction (``writes.together``); None when the answer shows nobody."""
    who = request.get(PRINCIPAL)
    seen = access_log.merged(access_log.shown(answer))
    if who is None or not seen:
        return None
    request[RECORDED] = seen
    return access_log.write(who, request.method, _route(request), seen)


def _route(request: web.Request) -> str:
    return request.match_info.route.resource.canonical if request.match_info.route.resource else request.path


@routes.get("/api/audit/personal-data")
@operation("Access log of citizens' data", "audit", query=access_log.AccessQuery, response=PersonalDataPage)
async def personal_data(request: web.Request) -> web.Response:
    require_role(request, SUPERVISORS, "the access log of citizens' data is for supervisors")
    q = parse_query(request, access_log.AccessQuery)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await access_log.query(conn, q))

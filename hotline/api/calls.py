"""Calls with their legs, and the orders taken on them: the agent opens an order on the call they
answered, with the caller's number and name filled in from the call record."""

from __future__ import annotations

from aiohttp import web

from hotline import access_log, call_records, recordings
from hotline.api import idempotent
from hotline.api import schemas as s
from hotline.api.body import json_object, parse_query, path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SETTINGS
from hotline.api.middleware import CENTRE, SUPERVISORS, require_role
from hotline.api.orders import new_order
from hotline.errors import Forbidden, NotFound
from hotline.orders.models import NewOrder

routes = web.RouteTableDef()


def _centre_only(request: web.Request) -> None:
    require_role(request, CENTRE, "call records are for call-centre staff")


@routes.get("/api/calls")
@operation("Calls, newest first", "calls", response=s.Open, query=call_records.CallFilter)
async def list_calls(request: web.Request) -> web.Response:
    _centre_only(request)
    f = parse_query(request, call_records.CallFilter)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await call_records.list_calls(conn, f))


@routes.get("/api/calls/{call_id}")
@operation("One call with its legs and the orders taken on it", "calls", response=s.Open)
async def get_call(request: web.Request) -> web.Response:
    _centre_only(request)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await call_records.get_call(conn, path_id(request, "call_id")))


@routes.post("/api/calls/{call_id}/order")
@operation("Take in an order on a call (caller filled in)", "calls", response=s.Order, body=NewOrder, status=201)
async def order_from_call(request: web.Request) -> web.Response:
    _centre_only(request)
    call_id = path_id(request, "call_id")
    body = await json_object(request)
    async with request.app[POOL].acquire() as conn:
        call = await conn.fetchrow("SELECT linkedid, caller_number, caller_name FROM calls WHERE id = $1", call_id)
    if call is None:
        raise NotFound("no such call", {"call_id": call_id})
    # What the agent typed wins; the call fills in what they left out.
    prefill = {"caller_number": call["caller_number"], "caller_name": call["caller_name"], "channel": "phone"}
    for key, value in prefill.items():
        if body.get(key) in (None, "") and value:
            body[key] = value
    body["call_linkedid"] = call["linkedid"]
    data = NewOrder.model_validate(body)
    return await idempotent.once(request, body, await new_order(request, data, call_id))


@routes.get("/api/calls/{call_id}/recording")
@operation(
    "The call's recording (HTTP Range requests answered with 206)",
    "calls",
    media="audio/wav",
    description="Supervisors, and the agent who took the call. Every fetch is in the personal-data access log.",
)
async def recording(request: web.Request) -> web.StreamResponse:
    who = require_role(request, CENTRE, "call recordings are for call-centre staff")
    call_id = path_id(request, "call_id")
    async with request.app[POOL].acquire() as conn:
        call = await conn.fetchrow(
            """SELECT c.recording_file, c.agent_user_id = $2
                      OR EXISTS (SELECT 1 FROM call_agent_legs l WHERE l.call_id = c.id AND l.agent_user_id = $2)
                      AS took_it
               FROM calls c WHERE c.id = $1""",
            call_id,
            who.user_id,
        )
        if call is None:
            raise NotFound("no such call", {"call_id": call_id})
        if who.role not in SUPERVISORS and not call["took_it"]:
            raise Forbidden("a recording is for supervisors and the agent who took the call")
        settings = request.app[SETTINGS]
        path = recordings.file_of(call["recording_file"], settings.recordings_dir, settings.recordings_asterisk_dir)
        # Logged before a byte is sent: the fetch is the look, however much of it is played.
        await access_log.record(conn, who, request.method, "/api/calls/{call_id}/recording",
                                [access_log.Seen(None, call_id, ("recording",))])  # fmt: skip
    return web.FileResponse(path, headers={"Content-Type": recordings.content_type(path), "Cache-Control": "private"})

"""Calls with their legs, and the orders taken on them: the agent opens an order on the call they
answered, with the caller's number and name filled in from the call record."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from hotline import access_log, call_records
from hotline.api import idempotent
from hotline.api import schemas as s
from hotline.api.body import json_object, parse_query, path_id
from hotline.api.contract import ERRORS, operation, respond
from hotline.api.keys import POOL, SETTINGS
from hotline.api.middleware import CENTRE, SUPERVISORS, require_role
from hotline.api.orders import new_order
from hotline.auth import Principal
from hotline.errors import Forbidden, NotFound
from hotline.orders.models import NewOrder
from hotline.recordings import local, names, remote

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


# The client recordings are relayed with, when they come from a URL (HOTLINE_RECORDINGS_URL).
RECORDINGS_CLIENT = web.AppKey("recordings_client", aiohttp.ClientSession)


async def recordings_client(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: one client session for the app's recording fetches."""
    settings = app[SETTINGS]
    if not settings.recordings_url:
        yield
        return
    async with remote.new_client(settings.recordings_timeout) as session:
        app[RECORDINGS_CLIENT] = session
        yield


@routes.get("/api/calls/{call_id}/recording")
@operation(
    "The call's recording (HTTP Range requests answered with 206)",
    "calls",
    media="audio/wav",
    description="Supervisors, and the agent who took the call. Every fetch is in the personal-data access log."
    " From the recordings directory, or relayed from the recordings server (503 while it is unreachable).",
    errors=(*ERRORS, 416),
    headers={"Content-Range": "the bytes sent, on a 206 (bytes */size on a 416)", "Accept-Ranges": "bytes"},
)
async def recording(request: web.Request) -> web.StreamResponse:
    who = require_role(request, CENTRE, "call recordings are for call-centre staff")
    call_id = path_id(request, "call_id")
    async with request.app[POOL].acquire() as conn:
        call = await conn.fetchrow(
            """SELECT c.recording_file, c.caller_uniqueid AS uniqueid, c.linkedid,
                      c.agent_user_id = $2
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
    if not settings.recordings_dir and not settings.recordings_url:
        # A door this deployment has not opened, not a dependency that is down.
        raise NotFound("recordings are not served here: neither HOTLINE_RECORDINGS_DIR nor _URL is set")
    # The name the call's events told (MIXMONITOR_FILENAME), else the dialplan's (CEL-only calls).
    told = names.name_of(call["recording_file"], settings.recordings_name, dict(call))
    name = names.relative_name(told, settings.recordings_asterisk_dir)
    if settings.recordings_url:
        async with remote.fetch(request.app[RECORDINGS_CLIENT], settings.recordings_url, name, request) as upstream:
            await _log_look(request, who, call_id)
            return await remote.relay(request, upstream, names.content_type(name))
    path = local.file_of(name, settings.recordings_dir)
    await _log_look(request, who, call_id)  # a fetch is logged as the relay logs it, a 416 too
    local.check_range(request, path)
    return web.FileResponse(path, headers={"Content-Type": names.content_type(name), "Cache-Control": "private"})


async def _log_look(request: web.Request, who: Principal, call_id: int) -> None:
    """Logged before a byte is sent: the fetch is the look, however much of it is played."""
    async with request.app[POOL].acquire() as conn:
        await access_log.record(conn, who, request.method, "/api/calls/{call_id}/recording",
                                [access_log.Seen(None, call_id, ("recording",))])  # fmt: skip

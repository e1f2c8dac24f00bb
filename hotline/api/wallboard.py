"""The supervisors' wallboard: ``GET /api/wallboard`` (the board now) and
``GET /api/wallboard/ws`` (a WebSocket: ``hello``, then a ``wallboard`` frame after every change
the AMI adapter stores; see ``hotline.wallboard``). Supervisors and admins only: agents have their
desktop, units never see the centre's queues."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel

from hotline.api.contract import operation, respond
from hotline.api.desktop import DesktopQuery, live_socket
from hotline.api.keys import POOL, SERVICES
from hotline.api.middleware import SUPERVISORS, require_role
from hotline.wallboard.view import wallboard

routes = web.RouteTableDef()


class WaitingCall(BaseModel):
    node: str
    linkedid: str
    since: datetime | None
    wait: int | None  # seconds waited so far
    incomplete: bool  # part of the call was not seen live (its wait may be an estimate)


class QueueMember(BaseModel):
    node: str
    interface: str
    name: str | None
    state: str  # offline, ready, ringing, in_call, wrapup, paused
    paused: bool
    reason: str | None
    since: datetime
    in_state: int | None  # seconds in this state
    linkedid: str | None
    calls_taken: int


class AgentsByState(BaseModel):
    offline: int
    ready: int
    ringing: int
    in_call: int
    wrapup: int
    paused: int


class QueueToday(BaseModel):
    offered: int
    answered: int
    abandoned: int
    service_level_15s: float | None


class WallboardQueue(BaseModel):
    queue: str
    waiting: list[WaitingCall]
    longest_wait: int | None
    members: list[QueueMember]
    agents_by_state: AgentsByState
    today: QueueToday


class Wallboard(BaseModel):
    at: datetime
    queues: list[WallboardQueue]


@routes.get("/api/wallboard")
@operation("The wallboard: per queue, callers waiting, agents by state, today's figures", "figures",
           response=Wallboard)  # fmt: skip
async def get_wallboard(request: web.Request) -> web.Response:
    require_role(request, SUPERVISORS, "the wallboard is for supervisors")
    async with request.app[POOL].acquire() as conn:
        return respond(request, await wallboard(conn, request.app[SERVICES].clock()))


@routes.get("/api/wallboard/ws")
@operation("The wallboard's live channel (WebSocket upgrade; a frame after every change)", "figures",
           public=True, status=101, errors=(400, 401, 403), query=DesktopQuery)  # fmt: skip
async def wallboard_socket(request: web.Request) -> web.WebSocketResponse:
    return await live_socket(request, SUPERVISORS, "the wallboard is for supervisors", lambda p: "supervisors")

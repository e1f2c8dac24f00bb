"""The agent desktop's live channel: a WebSocket that relays the agent's bus events
(screen-pop on an answered call, order updates) from Redis.

Only agents hold this socket: a screen-pop carries the caller's number, so handler,
supervisor and admin tokens are refused (403). A socket lives no longer than its token:
it closes with code 4401 when the token is logged out (announced on the bus, and
re-checked in the database every ``RECHECK_SECONDS`` in case that announcement was lost),
when the account is disabled, and when the token expires. If the Redis connection is
lost, the socket closes with 1012 (service restart) so the desktop reconnects and knows
it may have missed events, rather than sit silent.

Browsers cannot set headers on a WebSocket: the console's page connects with its session
cookie (same-site only, checked against ``Origin``). ``?token=`` is deprecated (a token in a
URL ends up in logs) and kept for existing API clients; ``Authorization: Bearer`` works too.
The first frame is ``{"type": "hello"}``, sent once the Redis subscription is live,
so a client knows from then on it misses nothing published for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import weakref
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from aiohttp import WSCloseCode, WSMsgType, web
from pydantic import BaseModel, Field

from hotline import auth, bus
from hotline.api.contract import operation
from hotline.api.keys import POOL, REDIS
from hotline.errors import Forbidden, Unauthenticated
from hotline.presence import desktop as presence
from hotline.web import session as web_session

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
SOCKETS = web.AppKey("desktop_sockets", weakref.WeakSet)
PATH = "/api/desktop/ws"
DESKTOP_ROLES = frozenset({"agent"})
RECHECK_SECONDS = 30.0
SESSION_ENDED = 4401  # 4000–4999 are the application's; 4401 mirrors HTTP 401


class DesktopQuery(BaseModel):
    token: str | None = Field(default=None, description="the bearer token, for browsers")


def _token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if not token and (cookie := web_session.cookie_token(request)):
        web_session.check_origin(request)
        token = cookie
    token = token or request.query.get("token", "")
    if not token:
        raise Unauthenticated("sign in (session cookie) or send Authorization: Bearer <token>")
    return token


@routes.get(PATH)
@operation(
    "The agent desktop's live channel (WebSocket upgrade; token as ?token= or bearer)", "desktop",
    public=True, status=101, errors=(400, 401), query=DesktopQuery,
)  # fmt: skip
async def desktop(request: web.Request) -> web.WebSocketResponse:
    return await live_socket(request, DESKTOP_ROLES, "the desktop socket is for agents",
                             lambda p: f"desktop:{p.user_id}", presence.handle)  # fmt: skip


OnText = Callable[[web.Application, auth.Principal, web.WebSocketResponse, str], Awaitable[None]]


async def live_socket(
    request: web.Request, roles: frozenset[str], refusal: str, channel_of: Callable[[auth.Principal], str],
    on_text: OnText | None = None,
) -> web.WebSocketResponse:
    """A WebSocket relaying one bus channel to a signed-in user of ``roles`` for as long as the
    token lives (the desktop's; the supervisors' wallboard uses the same)."""
    token = _token(request)
    async with request.app[POOL].acquire() as conn:
        session = await auth.session(conn, token)
    principal = session.principal
    if principal.role not in roles:
        raise Forbidden(refusal, {"role": principal.role})
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    redis = request.app[REDIS]
    pubsub = redis.pubsub()
    mine = bus.channel(redis, channel_of(principal))
    try:
        await pubsub.subscribe(mine, bus.channel(redis, "sessions"))
    except aioredis.RedisError:
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"live channel unavailable")
        await pubsub.aclose()
        return ws
    await ws.send_json({"type": "hello", "user_id": principal.user_id, "channel": mine})
    log.info("live socket connected", extra={"user_id": principal.user_id, "channel": mine})
    texts = functools.partial(on_text, request.app, principal, ws) if on_text is not None else None
    watchers = [
        asyncio.create_task(_relay(ws, pubsub, mine, auth.token_id(token))),
        asyncio.create_task(_until_closed(ws, texts)),
        asyncio.create_task(_expiry(session.ttl_seconds)),
        asyncio.create_task(_recheck(request.app, token)),
    ]
    try:
        done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        code, why = next(iter(done)).result()
    finally:
        for task in watchers:
            task.cancel()
        for task in watchers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await pubsub.aclose()
    if not ws.closed:
        await ws.close(code=code, message=why.encode())
    log.info("live socket disconnected", extra={"user_id": principal.user_id, "close_code": code, "why": why})
    return ws


Ending = tuple[int, str]


async def _relay(ws: web.WebSocketResponse, pubsub, mine: str, token_id: str) -> Ending:
    """Forward the agent's events; end on this token's logout or on a lost Redis connection."""
    try:
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            if message["channel"] == mine:
                await ws.send_str(message["data"])
            elif json.loads(message["data"]).get("token_id") == token_id:
                return SESSION_ENDED, "logged out"
    except aioredis.RedisError:
        log.warning("desktop lost its Redis subscription; closing so the client reconnects")
    return WSCloseCode.SERVICE_RESTART, "live channel lost; reconnect"


async def _until_closed(ws: web.WebSocketResponse, on_text: Callable[[str], Awaitable[None]] | None = None) -> Ending:
    async for message in ws:  # reading also notices the close
        if on_text is not None and message.type == WSMsgType.TEXT:
            await on_text(message.data)  # presence actions (hotline.presence.desktop)
    return WSCloseCode.OK, "client closed"


async def _expiry(ttl_seconds: float) -> Ending:
    await asyncio.sleep(max(0.0, ttl_seconds))
    return SESSION_ENDED, "token expired"


async def _recheck(app: web.Application, token: str) -> Ending:
    """The bus may lose a logout; the database does not."""
    while True:
        await asyncio.sleep(RECHECK_SECONDS)
        try:
            async with app[POOL].acquire() as conn:
                await auth.session(conn, token)
        except Unauthenticated as exc:
            return SESSION_ENDED, exc.message
        except Exception:
            log.warning("desktop session re-check failed; trying again later", exc_info=True)


async def close_all(app: web.Application) -> None:
    """On shutdown: close every desktop socket so the server stops promptly."""
    for ws in list(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def setup(app: web.Application) -> None:
    app[SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(close_all)
    app.add_routes(routes)

"""The agent desktop's live channel: a WebSocket that relays the agent's bus events
(screen-pop on an answered call, order updates) from Redis.

Browsers cannot set headers on a WebSocket: the console's page connects with its session
cookie (same-site only, checked against ``Origin``). ``?token=`` is deprecated (a token in a
URL ends up in logs) and kept for existing API clients; ``Authorization: Bearer`` works too.
The first frame is ``{"type": "hello"}``, sent once the Redis subscription is live,
so a client knows from then on it misses nothing published for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

from aiohttp import WSCloseCode, web

from hotline import auth, bus
from hotline.api.keys import POOL, REDIS
from hotline.errors import Unauthenticated
from hotline.web import session as web_session

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
SOCKETS = web.AppKey("desktop_sockets", weakref.WeakSet)
PATH = "/api/desktop/ws"


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
async def desktop(request: web.Request) -> web.WebSocketResponse:
    async with request.app[POOL].acquire() as conn:
        principal = await auth.authenticate(conn, _token(request))
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    pubsub = request.app[REDIS].pubsub()
    channel = bus.channel(f"desktop:{principal.user_id}")
    await pubsub.subscribe(channel)
    await ws.send_json({"type": "hello", "user_id": principal.user_id, "channel": channel})
    log.info("desktop connected", extra={"user_id": principal.user_id})

    async def relay() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                await ws.send_str(message["data"])

    pump = asyncio.create_task(relay())
    try:
        async for _ in ws:  # the desktop sends nothing we act on; reading notices the close
            pass
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        await pubsub.unsubscribe(channel)
        await pubsub.aclose()
        log.info("desktop disconnected", extra={"user_id": principal.user_id})
    return ws


async def close_all(app: web.Application) -> None:
    """On shutdown: close every desktop socket so the server stops promptly."""
    for ws in list(app[SOCKETS]):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def setup(app: web.Application) -> None:
    app[SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(close_all)
    app.add_routes(routes)

"""Log in (throttled), log out, who am I."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from hotline import auth, bus, users
from hotline.api.body import json_response, parse
from hotline.api.keys import POOL, REDIS, SETTINGS
from hotline.api.middleware import principal
from hotline.errors import TooManyRequests, Unauthenticated
from hotline.orders.models import Login
from hotline.throttle import Limits, LoginThrottle

routes = web.RouteTableDef()


def _throttle(request: web.Request) -> LoginThrottle:
    s = request.app[SETTINGS]
    limits = Limits(s.login_window_seconds, s.login_max_failures, s.login_max_failures_per_address,
                    s.login_lockout_failures)  # fmt: skip
    return LoginThrottle(request.app[REDIS], limits)


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await parse(request, Login)
    address = request.remote or "unknown"
    throttle = _throttle(request)
    ttl = timedelta(hours=request.app[SETTINGS].token_ttl_hours)
    async with request.app[POOL].acquire() as conn:
        try:
            await throttle.check(body.username, address)
        except TooManyRequests as exc:
            await users.record(conn, "login_throttled", body.username, address=address, details=exc.details)
            raise
        try:
            token, expires_at = await auth.login(conn, body.username, body.password, ttl)
        except Unauthenticated:
            failure = await throttle.failed(body.username, address)
            await users.record(conn, "login_failed", body.username, address=address,
                               details={"in_window": failure.in_window, "streak": failure.streak})  # fmt: skip
            if failure.lock and await users.lock(conn, body.username, failure.streak, address):
                await throttle.reset_streak(body.username)  # the lock itself is the state now
            raise
    await throttle.reset_streak(body.username)
    return json_response({"token": token, "token_type": "Bearer", "expires_at": expires_at.isoformat()})


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    token = request.headers["Authorization"].partition(" ")[2].strip()
    async with request.app[POOL].acquire() as conn:
        await auth.logout(conn, token)
    # Sockets opened with this token close now (and on their next check, should this be lost).
    await bus.publish(request.app[REDIS], "sessions", {"type": "logout", "token_id": auth.token_id(token)})
    return web.Response(status=204)


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    p = principal(request)
    return json_response(
        {"id": p.user_id, "username": p.username, "role": p.role, "unit_id": p.unit_id, "display_name": p.display_name}
    )

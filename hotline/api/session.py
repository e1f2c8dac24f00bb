"""Log in (throttled), log out, who am I. The console's sign-in form and sign-out use the
same ``throttled_login`` and ``end_session``, so a browser gets the same throttle and its
live feed closes the same way."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from hotline import auth, bus, users
from hotline.api import schemas as s
from hotline.api.body import parse
from hotline.api.contract import operation, respond
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


async def throttled_login(request: web.Request, username: str, password: str) -> tuple[str, datetime]:
    """A new token for the user, unless the throttle refuses (429) or the password is wrong (401)."""
    address = request.remote or "unknown"
    throttle = _throttle(request)
    ttl = timedelta(hours=request.app[SETTINGS].token_ttl_hours)
    async with request.app[POOL].acquire() as conn:
        try:
            await throttle.check(username, address)
        except TooManyRequests as exc:
            await users.record(conn, "login_throttled", username, address=address, details=exc.details)
            raise
        try:
            token, expires_at = await auth.login(conn, username, password, ttl)
        except Unauthenticated:
            failure = await throttle.failed(username, address)
            await users.record(conn, "login_failed", username, address=address,
                               details={"in_window": failure.in_window, "streak": failure.streak})  # fmt: skip
            if failure.lock and await users.lock(conn, username, failure.streak, address):
                await throttle.reset_streak(username)  # the lock itself is the state now
            raise
    await throttle.reset_streak(username)
    return token, expires_at


async def end_session(request: web.Request, token: str) -> None:
    async with request.app[POOL].acquire() as conn:
        await auth.logout(conn, token)
    # Sockets opened with this token close now (and on their next check, should this be lost).
    await bus.publish(request.app[REDIS], "sessions", {"type": "logout", "token_id": auth.token_id(token)})


@routes.post("/api/auth/login")
@operation("Log in: a bearer token", "session", response=s.Token, body=Login, public=True)
async def login(request: web.Request) -> web.Response:
    body = await parse(request, Login)
    token, expires_at = await throttled_login(request, body.username, body.password)
    return respond(request, {"token": token, "token_type": "Bearer", "expires_at": expires_at})


@routes.post("/api/auth/logout")
@operation("Log out: the token stops working", "session", status=204)
async def logout(request: web.Request) -> web.Response:
    response = web.Response(status=204)
    if "Authorization" not in request.headers:  # the console's cookie session (CSRF-checked by the middleware)
        from hotline.web import session as web_session  # imported here: it imports this module

        await web_session.sign_out(request, response)
        return response
    await end_session(request, request.headers["Authorization"].partition(" ")[2].strip())
    return response


@routes.get("/api/me")
@operation("Who the token belongs to", "session", response=s.Me)
async def me(request: web.Request) -> web.Response:
    p = principal(request)
    return respond(
        request,
        {"id": p.user_id, "username": p.username, "role": p.role, "unit_id": p.unit_id, "display_name": p.display_name},
    )

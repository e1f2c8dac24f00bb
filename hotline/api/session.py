"""Log in, log out, who am I."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from hotline import auth
from hotline.api import schemas as s
from hotline.api.body import parse
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SETTINGS
from hotline.api.middleware import principal
from hotline.orders.models import Login

routes = web.RouteTableDef()


@routes.post("/api/auth/login")
@operation("Log in: a bearer token", "session", response=s.Token, body=Login, public=True)
async def login(request: web.Request) -> web.Response:
    body = await parse(request, Login)
    ttl = timedelta(hours=request.app[SETTINGS].token_ttl_hours)
    async with request.app[POOL].acquire() as conn:
        token, expires_at = await auth.login(conn, body.username, body.password, ttl)
    return respond(request, {"token": token, "token_type": "Bearer", "expires_at": expires_at})


@routes.post("/api/auth/logout")
@operation("Log out: the token stops working", "session", status=204)
async def logout(request: web.Request) -> web.Response:
    token = request.headers["Authorization"].partition(" ")[2].strip()
    async with request.app[POOL].acquire() as conn:
        await auth.logout(conn, token)
    return web.Response(status=204)


@routes.get("/api/me")
@operation("Who the token belongs to", "session", response=s.Me)
async def me(request: web.Request) -> web.Response:
    p = principal(request)
    return respond(
        request,
        {"id": p.user_id, "username": p.username, "role": p.role, "unit_id": p.unit_id, "display_name": p.display_name},
    )

"""Log in, log out, who am I."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from hotline import auth
from hotline.api.body import json_response, parse
from hotline.api.keys import POOL, SETTINGS
from hotline.api.middleware import principal
from hotline.orders.models import Login
from hotline.web import session as web_session

routes = web.RouteTableDef()


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await parse(request, Login)
    ttl = timedelta(hours=request.app[SETTINGS].token_ttl_hours)
    async with request.app[POOL].acquire() as conn:
        token, expires_at = await auth.login(conn, body.username, body.password, ttl)
    return json_response({"token": token, "token_type": "Bearer", "expires_at": expires_at.isoformat()})


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    response = web.Response(status=204)
    if "Authorization" not in request.headers:  # the console's cookie session
        await web_session.sign_out(request, response)
        return response
    token = request.headers["Authorization"].partition(" ")[2].strip()
    async with request.app[POOL].acquire() as conn:
        await auth.logout(conn, token)
    return response


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    p = principal(request)
    return json_response(
        {"id": p.user_id, "username": p.username, "role": p.role, "unit_id": p.unit_id, "display_name": p.display_name}
    )

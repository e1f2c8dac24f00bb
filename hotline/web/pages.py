"""The console's pages: sign-in, sign-out and one page per role. Pages carry no data of
their own; their scripts read the JSON API, so a unit's browser receives exactly what the
API gives a unit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hotline.api.contract import browser_page
from hotline.api.keys import POOL
from hotline.auth import Principal
from hotline.errors import ApiError
from hotline.web import session

routes = web.RouteTableDef()

# Each role's landing page; a role not listed (none today) is sent to sign in again.
HOME = {"agent": "/desk", "handler": "/inbox", "supervisor": "/supervisor", "admin": "/supervisor"}
PAGES = {
    "/desk": ("desk.html", "话务员工作台", frozenset({"agent", "supervisor", "admin"})),
    "/inbox": ("inbox.html", "承办单位工作台", frozenset({"handler"})),
    "/supervisor": ("supervisor.html", "监督与统计", frozenset({"supervisor", "admin"})),
    "/wallboard": ("wallboard.html", "实时监控", frozenset({"supervisor", "admin"})),
}


def _to_login(request: web.Request, reason: str | None = None) -> web.HTTPSeeOther:
    redirect = web.HTTPSeeOther("/login" + (f"?{reason}=1" if reason else ""))
    if session.cookie_token(request):
        redirect.del_cookie(session.COOKIE, path="/")
    return redirect


@routes.get("/")
@browser_page
async def home(request: web.Request) -> web.StreamResponse:
    signed_in = await session.current(request)
    if signed_in is None:
        raise _to_login(request, "expired" if session.cookie_token(request) else None)
    raise web.HTTPSeeOther(HOME.get(signed_in[0].role, "/login"))


@routes.get("/login")
@browser_page
async def login_page(request: web.Request) -> web.StreamResponse:
    notice = "会话已过期，请重新登录。" if "expired" in request.query else ""
    notice = "已退出登录。" if "signed_out" in request.query else notice
    return aiohttp_jinja2.render_template("login.html", request, {"notice": notice, "error": "", "username": ""})


@routes.post("/login")
@browser_page
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    try:
        session.check_origin(request)
        if not username or not password:
            raise ApiError("请输入用户名和密码")
        redirect = web.HTTPSeeOther("/")
        await session.sign_in(request, redirect, username, password)
    except ApiError as exc:
        message = "用户名或密码错误" if exc.code == "unauthenticated" else exc.message
        context = {"notice": "", "error": message, "username": username}
        return aiohttp_jinja2.render_template("login.html", request, context, status=exc.status)
    raise redirect


@routes.post("/logout")
@browser_page
async def logout(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = session.cookie_token(request)
    # A sign-out form from another site must not end the session (it would be a nuisance, not a leak).
    if token is not None and form.get("csrf") != session.csrf_token(token):
        raise session.CsrfRejected("sign-out needs the page's CSRF token")
    redirect = web.HTTPSeeOther("/login?signed_out=1")
    await session.sign_out(request, redirect)
    raise redirect


async def _context(request: web.Request, p: Principal, csrf: str, title: str) -> dict[str, Any]:
    # ``now``: where the inbox starts asking for changes: the database's clock, which stamps them.
    async with request.app[POOL].acquire() as conn:
        now = (await conn.fetchval("SELECT now()")).isoformat()
    return {"user": p, "csrf": csrf, "title": title, "home": HOME.get(p.role, "/"), "now": now}


def _page(path: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    template, title, roles = PAGES[path]

    @browser_page
    async def handler(request: web.Request) -> web.StreamResponse:
        signed_in = await session.current(request)
        if signed_in is None:
            raise _to_login(request, "expired" if session.cookie_token(request) else None)
        p, csrf = signed_in
        if p.role not in roles:
            raise web.HTTPSeeOther(HOME.get(p.role, "/login"))
        response = aiohttp_jinja2.render_template(template, request, await _context(request, p, csrf, title))
        response.headers["Cache-Control"] = "no-store"
        return response

    return handler


for _path in PAGES:
    routes.get(_path)(_page(_path))

"""Browser sessions for the console: the bearer token lives in an HttpOnly, SameSite=Strict
cookie instead of in script memory or a URL, and every state-changing request made with
that cookie must carry the session's CSRF token in ``X-CSRF-Token``.

The CSRF token is derived from the session token (SHA-256 under a fixed label), so it needs
no storage of its own; the page receives it in a ``<meta>`` tag, which another site cannot
read. API clients keep sending ``Authorization: Bearer``; a request with that header never
looks at the cookie, so it needs no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from aiohttp import web

from hotline import auth
from hotline.api import session as api_session
from hotline.api.keys import POOL, SETTINGS
from hotline.errors import ApiError, Forbidden

COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(Forbidden):
    code = "csrf_rejected"


def cookie_token(request: web.Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"hotline-csrf\0" + session_token.encode()).hexdigest()


def check_csrf(request: web.Request, session_token: str) -> None:
    """State-changing requests on a cookie session must prove they come from our page."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent, csrf_token(session_token)):
        raise CsrfRejected(f"send the session's {CSRF_HEADER} header (reload the page if it expired)")


def check_origin(request: web.Request) -> None:
    """A cookie is sent whoever opened the connection; an Origin from another site is refused
    (the sign-in form and the WebSocket, which a CSRF header cannot protect)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.split("://", 1)[-1] != request.host:
        raise CsrfRejected("this request came from another site", {"origin": origin})


async def principal_from_cookie(request: web.Request) -> auth.Principal | None:
    """The signed-in user of a cookie session, or None without a cookie. A bad or expired
    session raises Unauthenticated; a state change without the CSRF token is refused."""
    token = cookie_token(request)
    if token is None:
        return None
    async with request.app[POOL].acquire() as conn:
        principal = await auth.authenticate(conn, token)
    check_csrf(request, token)
    return principal


async def sign_in(request: web.Request, response: web.StreamResponse, username: str, password: str) -> None:
    """The API's throttled login; the token goes into the cookie instead of the page."""
    ttl = timedelta(hours=request.app[SETTINGS].token_ttl_hours)
    token, _ = await api_session.throttled_login(request, username, password)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


async def sign_out(request: web.Request, response: web.StreamResponse) -> None:
    token = cookie_token(request)
    if token is not None:
        await api_session.end_session(request, token)
    response.del_cookie(COOKIE, path="/")


async def current(request: web.Request) -> tuple[auth.Principal, str] | None:
    """For page handlers: the signed-in user and their CSRF token, or None (no or dead session)."""
    token = cookie_token(request)
    if token is None:
        return None
    try:
        async with request.app[POOL].acquire() as conn:
            return await auth.authenticate(conn, token), csrf_token(token)
    except ApiError:
        return None

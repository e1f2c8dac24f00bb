"""Request middlewares: errors as JSON, printable parameters, authentication (bearer token, signed
callback or the console's session cookie), metrics."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
from aiohttp import web
from pydantic import ValidationError

from hotline import auth
from hotline.api.body import check_text
from hotline.api.keys import METRICS, POOL, SETTINGS
from hotline.errors import ApiError, Forbidden, Unauthenticated
from hotline.token_cache import TokenCache

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The live sockets authenticate themselves: a browser WebSocket cannot send the header.
PUBLIC_PATHS = frozenset({"/healthz", "/metrics", "/api/auth/login", "/api/openapi.json", "/api/desktop/ws",
                          "/api/wallboard/ws"})  # fmt: skip
# Routes that authenticate themselves: channel back ends sign with their channel's key,
# the SMS gateway sends its token, the citizen's lookup is public (and throttled).
SELF_AUTHENTICATED = re.compile(r"^/api/(intake/(web|app|wechat|email)|public/.*|sms/gateway/.*)$")
PRINCIPAL = web.RequestKey("principal", auth.Principal)
TOKEN_CACHE = web.AppKey("token_cache", TokenCache)
LOGOUT_PATH = "/api/auth/logout"
# PostgreSQL unreachable, restarting, shutting down or out of connections; the pool reconnects
# on a later request, so the client is told to come back rather than that we failed.
DATABASE_DOWN = (
    OSError,  # refused, reset, unreachable, and TimeoutError (connecting, acquiring)
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,  # 57P03: starting up or shutting down
    asyncpg.AdminShutdownError,  # 57P01: terminated by an administrator
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)
RETRY_AFTER_SECONDS = 5


def error_response(status: int, code: str, message: str, details: dict | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "details": details or {}}}, status=status)


def validation_details(exc: ValidationError) -> dict:
    return {
        "errors": [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
    }


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response(exc.to_json(), status=exc.status, headers=exc.headers)
    except ValidationError as exc:
        return error_response(422, "invalid_input", "the request did not validate", validation_details(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason)
    except DATABASE_DOWN as exc:
        log.warning("database unavailable", extra={"path": request.path, "error": type(exc).__name__})
        response = error_response(
            503, "database_unavailable", "the database is unavailable; retry shortly",
            {"retry_after_seconds": RETRY_AFTER_SECONDS},
        )  # fmt: skip
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    except Exception:
        log.exception("unhandled error", extra={"path": request.path, "method": request.method})
        return error_response(500, "internal", "internal error; it has been logged")


@web.middleware
async def text(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No path or query parameter with a control character reaches a handler."""
    check_text(request)
    return await handler(request)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or not request.path.startswith("/api/") or SELF_AUTHENTICATED.match(request.path):
        return await handler(request)
    # Agency systems sign their callbacks (HMAC) instead of sending a token. Imported here:
    # agency_auth imports this module.
    from hotline.api import agency_auth

    if "Authorization" not in request.headers and agency_auth.is_signed(request):
        return await agency_auth.handle_signed(request, handler)
    if "Authorization" not in request.headers:
        # The console's cookie session (with its CSRF check); imported here for the same reason.
        from hotline.web import session

        cookie_principal = await session.principal_from_cookie(request)
        if cookie_principal is not None:
            request[PRINCIPAL] = cookie_principal
            return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <token>")
    token = token.strip()
    request[PRINCIPAL] = await _bearer(request, token)
    response = await handler(request)
    if request.path == LOGOUT_PATH and response.status < 300:
        # This process forgets the token before answering; the others hear the trigger's NOTIFY.
        request.config_dict[TOKEN_CACHE].evict_token(auth.token_digest(token))
    return response


async def _bearer(request: web.Request, token: str) -> auth.Principal:
    """The token's principal: from this process's cache while it is fresh, else from the database."""
    cache, digest = request.config_dict[TOKEN_CACHE], auth.token_digest(token)
    if cache.get(digest) is not None:
        # A revocation already on the listener's socket is read before the cache is trusted.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        principal = cache.get(digest)
        if principal is not None:
            return principal
    generation = cache.generation
    async with request.app[POOL].acquire() as conn:
        session = await auth.session(conn, token)
    cache.put(digest, session.principal, session.ttl_seconds, generation)
    return session.principal


async def token_cache(app: web.Application) -> AsyncIterator[None]:
    """The process's token cache and its revocation listener (after the pool: migrations ran)."""
    settings = app[SETTINGS]
    assert settings.database_url
    cache = TokenCache(settings.database_url, settings.token_cache_seconds)
    app[TOKEN_CACHE] = cache
    await cache.start()
    yield
    await cache.stop()


@web.middleware
async def metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    m = request.app[METRICS]
    m.requests.labels(request.method, route, str(response.status)).inc()
    m.latency.labels(route).observe(time.perf_counter() - started)
    return response


def principal(request: web.Request) -> auth.Principal:
    return request[PRINCIPAL]


CENTRE = auth.CENTRE_ROLES
SUPERVISORS = frozenset({"supervisor", "admin"})
ADMINS = frozenset({"admin"})


def require_role(request: web.Request, roles: frozenset[str], why: str) -> auth.Principal:
    """The caller, if their role is one of ``roles``; 403 saying ``why`` otherwise."""
    p = principal(request)
    if p.role not in roles:
        raise Forbidden(why, {"role": p.role})
    return p

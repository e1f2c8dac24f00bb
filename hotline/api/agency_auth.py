"""HMAC-signed requests from agency systems, and the admin routes over their keys.

An agency system has no user: a request signed with one of its unit's keys (see
``adapters.webhook.signing`` for the scheme) becomes a ``Principal`` with no user id,
role ``handler`` and the key's unit. Signed requests are accepted only on the unit
callback API (``/api/units/me``); bearer tokens keep working there too.

Checks, cheapest first: headers present and well formed, timestamp within five minutes,
key known and active, signature (constant-time compare; it covers the Idempotency-Key and
Content-Type too), then the nonce: claimed in Redis with SET NX (the fast path every
process shares) and recorded in PostgreSQL (``signed_nonces``) for the timestamp window,
so a replay is refused even after Redis restarted empty or while it is down. Each refusal
is a 401 whose ``details.reason`` names the check (``stale_timestamp``, ``nonce_reused``,
...). If PostgreSQL cannot record the nonce, the request fails rather than risk a replay.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from adapters.webhook import signing
from hotline import bus
from hotline.agency import keystore
from hotline.api import schemas as s
from hotline.api.body import path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, REDIS, SECRETS
from hotline.api.middleware import ADMINS, require_role
from hotline.auth import Principal
from hotline.errors import NotFound, Unauthenticated

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

SIGNED_PREFIX = "/api/units/me"
# The key id a signed request was verified with; absent for bearer-token requests.
SIGNED_KEY = web.RequestKey("signed_key_id", str)


class SignatureRejected(Unauthenticated):
    """A signed request failed a check; ``details.reason`` is a ``signing.Refusal`` value."""

    code = "signature_rejected"


def is_signed(request: web.Request) -> bool:
    """Does the request try HMAC (any of our signing headers), rather than a bearer token?"""
    return signing.KEY_HEADER in request.headers or signing.SIGNATURE_HEADER in request.headers


def signed_key(request: web.Request) -> str | None:
    return request.get(SIGNED_KEY)


async def verify(request: web.Request) -> Principal:
    """The unit behind a signed request; SignatureRejected (401) when any check fails."""
    try:
        if request.path != SIGNED_PREFIX and not request.path.startswith(SIGNED_PREFIX + "/"):
            raise signing.SignatureRefused(
                signing.Refusal.NOT_SIGNABLE,
                f"signed requests are accepted only under {SIGNED_PREFIX}; elsewhere send a bearer token",
                {"path": request.path},
            )
        parts = signing.read_headers(request.headers)
        body = await request.read()
        async with request.app[POOL].acquire() as conn:
            key = await keystore.lookup(conn, parts.key_id, request.app[SECRETS])
            if key is None:
                raise signing.SignatureRefused(signing.Refusal.UNKNOWN_KEY, "unknown key", {"key_id": parts.key_id})
            if key.revoked_at is not None or not key.unit_active:
                what = "key revoked" if key.revoked_at is not None else "the key's unit is inactive"
                raise signing.SignatureRefused(signing.Refusal.REVOKED_KEY, what, {"key_id": parts.key_id})
            signing.check_signature([key.secret], parts, request.method, request.raw_path, body)
            await claim_nonce(request, conn, parts)
            await keystore.touch(conn, key)
    except signing.SignatureRefused as exc:
        log.warning(
            "signed request refused",
            extra={"reason": exc.reason.value, "path": request.path, "key_id": request.headers.get(signing.KEY_HEADER)},
        )
        raise SignatureRejected(exc.message, {"reason": exc.reason.value, **exc.details}) from None
    request[SIGNED_KEY] = key.key_id
    return Principal(None, f"unit:{key.unit_code}", "handler", key.unit_id, key.unit_name)


async def claim_nonce(request: web.Request, conn: asyncpg.Connection, parts: signing.SignedParts) -> None:
    """Refuse a nonce seen before (Redis fast path, PostgreSQL durable claim); the intake API uses it too."""
    if not await _claim_in_redis(request.app[REDIS], parts) or not await _claim_in_postgres(conn, parts):
        raise signing.SignatureRefused(
            signing.Refusal.REPLAYED, "nonce already used; sign every request with a new nonce", {"nonce": parts.nonce}
        )


async def _claim_in_redis(redis: aioredis.Redis, parts: signing.SignedParts) -> bool:
    """False when Redis has seen the nonce; True when it is new or Redis cannot say (PostgreSQL decides)."""
    try:
        name = bus.key(redis, f"nonce:{parts.key_id}:{parts.nonce}")
        return bool(await redis.set(name, "1", nx=True, ex=signing.NONCE_TTL_SECONDS))
    except aioredis.RedisError as exc:
        log.warning("nonce fast path unavailable", extra={"key_id": parts.key_id, "error": type(exc).__name__})
        return True


async def _claim_in_postgres(conn: asyncpg.Connection, parts: signing.SignedParts) -> bool:
    """The durable claim; nonces older than the window are forgotten as the key signs on."""
    # One statement: the forgetting rides along with the claim. The DELETE spares this nonce (one
    # statement may not touch a row twice); a nonce seen only outside the window is claimed afresh.
    ttl = timedelta(seconds=signing.NONCE_TTL_SECONDS)
    return bool(
        await conn.fetchval(
            """WITH forgotten AS (
                   DELETE FROM signed_nonces WHERE key_id = $1 AND seen_at < now() - $3::interval AND nonce <> $2
               )
               INSERT INTO signed_nonces (key_id, nonce, seen_at) VALUES ($1, $2, now())
               ON CONFLICT (key_id, nonce) DO UPDATE SET seen_at = now()
                  WHERE signed_nonces.seen_at < now() - $3::interval
               RETURNING true""",
            parts.key_id,
            parts.nonce,
            ttl,
        )
    )


# ---------------------------------------------------------------- admin: unit keys


def _admin(request: web.Request) -> Principal:
    return require_role(request, ADMINS, "only admins manage unit keys")


@routes.get("/api/admin/units/{unit_id}/keys")
@operation("A unit's HMAC keys (no secrets)", "unit keys", response=s.KeyList)
async def list_unit_keys(request: web.Request) -> web.Response:
    _admin(request)
    unit_id = path_id(request, "unit_id")
    async with request.app[POOL].acquire() as conn:
        if await conn.fetchval("SELECT id FROM units WHERE id = $1", unit_id) is None:
            raise NotFound("no such unit", {"unit_id": unit_id})
        return respond(request, {"items": await keystore.list_keys(conn, unit_id)})


@routes.post("/api/admin/units/{unit_id}/keys")
@operation("Issue a key (rotates: at most two active)", "unit keys", response=s.IssuedKey, status=201)
async def create_unit_key(request: web.Request) -> web.Response:
    """Issue (rotate) a key: the secret is in this response and never again."""
    admin = _admin(request)
    async with request.app[POOL].acquire() as conn:
        issued = await keystore.create_key(conn, path_id(request, "unit_id"), admin.user_id, request.app[SECRETS])
    return respond(
        request,
        {
            "key_id": issued.key_id,
            "secret": issued.secret,
            "unit_id": issued.unit_id,
            "created_at": issued.created_at,
            "revoked_key_ids": issued.revoked,
        },
    )


@routes.delete("/api/admin/units/{unit_id}/keys/{key_id}")
@operation("Revoke a key", "unit keys", status=204)
async def revoke_unit_key(request: web.Request) -> web.Response:
    _admin(request)
    async with request.app[POOL].acquire() as conn:
        await keystore.revoke_key(conn, path_id(request, "unit_id"), request.match_info["key_id"])
    return web.Response(status=204)

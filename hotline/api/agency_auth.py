"""HMAC-signed requests from agency systems, and the admin routes over their keys.

An agency system has no user: a request signed with one of its unit's keys (see
``adapters.webhook.signing`` for the scheme) becomes a ``Principal`` with no user id,
role ``handler`` and the key's unit. Signed requests are accepted only on the unit
callback API (``/api/units/me``); bearer tokens keep working there too.

Checks, cheapest first: headers present and well formed, timestamp within five minutes,
key known and active, signature (constant-time compare; it covers the Idempotency-Key and
Content-Type too), then the nonce: claimed in PostgreSQL (``signed_nonces``) for the
timestamp window, so every process refuses a replay, whether Redis is up, down or restarted
empty. Each refusal is a 401 whose ``details.reason`` names the check (``stale_timestamp``,
``nonce_reused``, ...). If PostgreSQL cannot record the nonce, the request fails rather
than risk a replay.

A request from a key the process has verified before costs one round trip: its secret is
kept (a key's secret never changes), and the key's state, the nonce's claim and the key's
last use are one statement; a signature the kept secret does not make is checked again on
the key as stored, so each refusal names the same reason as before the secret was kept.
"""

from __future__ import annotations

import logging

import asyncpg
from aiohttp import web

from adapters.webhook import signing
from hotline.agency import keystore, nonces
from hotline.api import schemas as s
from hotline.api.body import path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SECRETS
from hotline.api.middleware import ADMINS, PRINCIPAL, Handler, require_role
from hotline.auth import Principal
from hotline.errors import NotFound, Unauthenticated
from hotline.secretbox import SecretBox

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


async def handle_signed(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Verify a signed request, then run its handler. A nonce the handler was to claim in its own
    transaction and did not (it failed, or never got there) is claimed before the answer goes
    out, and a replay is refused whatever the handler answered: a captured request fails the
    second time as it did the first, and a replay is always 401, as if checked first."""
    request[PRINCIPAL] = await verify(request)
    try:
        response = await handler(request)
    except signing.SignatureRefused as exc:  # the handler's own claim found the nonce used
        raise _rejected(request, exc) from None
    except Exception:
        await _settle(request)
        raise
    await _settle(request)
    return response


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
        defer = _claims_in_transaction(request)
        async with request.app[POOL].acquire() as conn:
            if not _signed_with_kept_secret(parts, request.method, request.raw_path, body):
                # A key this process has not verified yet, or a signature its secret does not make:
                # the checks in their documented order, on the key as stored.
                await _check_stored_key(conn, parts, request.method, request.raw_path, body, request.app[SECRETS])
            key = await _use_key(conn, parts, claim=not defer)
    except signing.SignatureRefused as exc:
        raise _rejected(request, exc) from None
    if defer:
        request[PENDING_NONCE] = parts
    request[SIGNED_KEY] = parts.key_id
    return Principal(None, f"unit:{key['code']}", "handler", key["unit_id"], key["name"])


def _rejected(request: web.Request, exc: signing.SignatureRefused) -> SignatureRejected:
    log.warning(
        "signed request refused",
        extra={"reason": exc.reason.value, "path": request.path, "key_id": request.headers.get(signing.KEY_HEADER)},
    )
    return SignatureRejected(exc.message, {"reason": exc.reason.value, **exc.details})


# Routes whose handler claims the nonce in its own transaction (``pending_nonce``), so a callback
# commits once: the claim is a write, and every commit of one waits for the disk.
NONCE_IN_TRANSACTION = frozenset({("POST", SIGNED_PREFIX + "/assignments/{assignment_id}/{operation}")})
PENDING_NONCE = web.RequestKey("signed_nonce_pending", signing.SignedParts)
NONCE_CLAIMED = web.RequestKey("signed_nonce_claimed", bool)


def _claims_in_transaction(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    return resource is not None and (request.method, resource.canonical) in NONCE_IN_TRANSACTION


def pending_nonce(request: web.Request) -> signing.SignedParts | None:
    """The nonce the handler is to claim in its transaction (``nonces.claim_cte``); then
    it calls ``nonce_claimed``. None: there is none (a bearer token, or verify claimed it)."""
    return request.get(PENDING_NONCE)


def nonce_claimed(request: web.Request) -> None:
    """The handler's transaction that claimed the pending nonce has committed."""
    request[NONCE_CLAIMED] = True


async def _settle(request: web.Request) -> None:
    parts = request.get(PENDING_NONCE)
    if parts is None or request.get(NONCE_CLAIMED):
        return
    async with request.app[POOL].acquire() as conn:
        fresh = await nonces.claim(conn, parts.key_id, parts.nonce)
    request[NONCE_CLAIMED] = True
    if not fresh:
        raise _rejected(request, nonces.replayed(parts))


# A key's secret never changes (rotating issues a new key id), so a process keeps the secrets of
# the keys it has verified: a known key's signature is checked without reading the key, and what
# can change (revoked, the unit deactivated or renamed) is read in the nonce's statement.
_KEPT_SECRETS: dict[str, str] = {}
KEPT_SECRETS_MAX = 10_000


def _signed_with_kept_secret(parts: signing.SignedParts, method: str, path_qs: str, body: bytes) -> bool:
    secret = _KEPT_SECRETS.get(parts.key_id)
    if secret is None:
        return False
    try:
        signing.check_signature([secret], parts, method, path_qs, body)
    except signing.SignatureRefused:
        return False
    return True


async def _check_stored_key(
    conn: asyncpg.Connection, parts: signing.SignedParts, method: str, path_qs: str, body: bytes, box: SecretBox
) -> None:
    key = await keystore.lookup(conn, parts.key_id, box)
    if key is None:
        raise signing.SignatureRefused(signing.Refusal.UNKNOWN_KEY, "unknown key", {"key_id": parts.key_id})
    if key.revoked_at is not None or not key.unit_active:
        raise _revoked(parts, key.revoked_at is not None)
    signing.check_signature([key.secret], parts, method, path_qs, body)
    if len(_KEPT_SECRETS) >= KEPT_SECRETS_MAX:
        _KEPT_SECRETS.pop(next(iter(_KEPT_SECRETS)))  # the longest kept
    _KEPT_SECRETS[key.key_id] = key.secret


def _revoked(parts: signing.SignedParts, revoked: bool) -> signing.SignatureRefused:
    what = "key revoked" if revoked else "the key's unit is inactive"
    return signing.SignatureRefused(signing.Refusal.REVOKED_KEY, what, {"key_id": parts.key_id})


# The key and its unit as they are now, the nonce's claim (with $5, and only for a usable key:
# see hotline.agency.nonces) and the key's last use (at most once a minute: a hot key must not
# become a hot row), in one round trip. Without $5 nothing is written but the last use, so the
# statement's commit does not wait for the disk.
_USE_KEY = """
    WITH k AS (
        SELECT k.unit_id, k.revoked_at, u.code, u.name, u.active
        FROM unit_keys k JOIN units u ON u.id = k.unit_id WHERE k.key_id = $1
    ), forgotten AS (
        DELETE FROM signed_nonces WHERE $5 AND key_id = $1 AND seen_at < now() - $3::interval AND nonce <> $2
    ), claimed AS (
        INSERT INTO signed_nonces (key_id, nonce, seen_at)
        SELECT $1, $2, now() FROM k WHERE $5 AND k.revoked_at IS NULL AND k.active
        ON CONFLICT (key_id, nonce) DO UPDATE SET seen_at = now() WHERE signed_nonces.seen_at < now() - $3::interval
        RETURNING true
    ), touched AS (
        UPDATE unit_keys SET last_used_at = now()
        WHERE key_id = $1 AND (last_used_at IS NULL OR last_used_at < now() - $4::interval)
          AND (NOT $5 OR EXISTS (SELECT 1 FROM claimed))
          AND EXISTS (SELECT 1 FROM k WHERE k.revoked_at IS NULL AND k.active)
    )
    SELECT k.*, EXISTS (SELECT 1 FROM claimed) AS claimed FROM k"""


async def _use_key(conn: asyncpg.Connection, parts: signing.SignedParts, *, claim: bool) -> asyncpg.Record:
    """The key's unit, its nonce claimed unless ``claim`` is false (the handler claims it);
    refused when the key went or the nonce was seen."""
    key = await conn.fetchrow(_USE_KEY, parts.key_id, parts.nonce, nonces.TTL, keystore.TOUCH_EVERY, claim)
    if key is None:
        _KEPT_SECRETS.pop(parts.key_id, None)
        raise signing.SignatureRefused(signing.Refusal.UNKNOWN_KEY, "unknown key", {"key_id": parts.key_id})
    if key["revoked_at"] is not None or not key["active"]:
        _KEPT_SECRETS.pop(parts.key_id, None)
        raise _revoked(parts, key["revoked_at"] is not None)
    if claim and not key["claimed"]:
        raise nonces.replayed(parts)
    return key


async def claim_nonce(request: web.Request, conn: asyncpg.Connection, parts: signing.SignedParts) -> None:
    """Refuse a nonce seen before (the durable claim in PostgreSQL); the intake API uses it."""
    await nonces.claim_or_refuse(conn, parts)


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

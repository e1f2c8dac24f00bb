"""Signed intake from our own channels, the agents' review queue, and the admin routes over
channel credentials (intake HMAC keys, Open311 clients).

``POST /api/intake/{channel}`` is signed with a key of that channel in the agency callback
scheme (``adapters.webhook.signing``: timestamp window, nonce claimed in Redis, constant-time
compare) and needs an ``Idempotency-Key``: a retry with the same key and body gets the first
order back (200), the same key with another body is a 409.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from aiohttp import web
from pydantic import Field, HttpUrl, StringConstraints

from adapters.webhook import signing
from hotline.api import channel_schemas as cs
from hotline.api.agency_auth import SignatureRejected, claim_nonce
from hotline.api.body import json_object, parse, path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SECRETS, SERVICES
from hotline.api.middleware import ADMINS, CENTRE, require_role
from hotline.errors import InvalidInput, MalformedBody
from hotline.intake import keys
from hotline.intake.service import Submission, request_hash, review_queue, take_in
from hotline.orders import models as m

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class IntakeBody(m.Strict):
    """What a channel's back end sends: the citizen's request as they typed it."""

    kind: m.Kind
    content: m.Text
    category_code: Annotated[str, StringConstraints(pattern=r"^([0-9]{2})+$")] | None = None
    title: m.ShortText = ""
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    lat: float | None = Field(default=None, ge=-90, le=90)
    long: float | None = Field(default=None, ge=-180, le=180)
    urgency: Literal["normal", "urgent"] = "normal"
    caller_number: m.PhoneNumber | None = None
    caller_name: m.ShortText | None = None
    anonymous: bool = False
    contact_allowed: bool = True
    photo_urls: list[HttpUrl] = Field(default_factory=list, max_length=9)


class NewIntakeKey(m.Strict):
    channel: Literal["web", "app", "wechat", "email"]


class NewOpen311Client(m.Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


async def _verify(request: web.Request, channel: str) -> None:
    """The request is signed with an active key of ``channel``; SignatureRejected (401) otherwise."""
    try:
        parts = signing.read_headers(request.headers)
        body = await request.read()
        async with request.app[POOL].acquire() as conn:
            key = await keys.intake_key(conn, parts.key_id, request.app[SECRETS])
            if key is None or key.channel != channel:
                raise signing.SignatureRefused(
                    signing.Refusal.UNKNOWN_KEY, f"unknown key for channel {channel}", {"key_id": parts.key_id}
                )
            if key.revoked:
                raise signing.SignatureRefused(signing.Refusal.REVOKED_KEY, "key revoked", {"key_id": parts.key_id})
            signing.check_signature([key.secret], parts, request.method, request.raw_path, body)
            await claim_nonce(request, conn, parts)
    except signing.SignatureRefused as exc:
        log.warning("signed intake refused", extra={"reason": exc.reason.value, "channel": channel})
        raise SignatureRejected(exc.message, {"reason": exc.reason.value, **exc.details}) from None


@routes.post("/api/intake/{channel}")
@operation(
    "Signed intake from a channel (web, app, wechat, email): an order for the review queue",
    "channels",
    body=IntakeBody,
    status=201,
    response=cs.IntakeTaken,
    public=True,
    signed=True,
    idempotent=True,
)
async def intake(request: web.Request) -> web.Response:
    channel = request.match_info["channel"]
    await _verify(request, channel)
    key = request.headers.get("Idempotency-Key", "")
    if not key or len(key) > 200:
        raise MalformedBody("send an Idempotency-Key header (1–200 characters), the same on every retry")
    raw = await json_object(request)
    body = IntakeBody.model_validate(raw)
    data = m.NewOrder(
        **body.model_dump(exclude={"lat", "long", "photo_urls"}),
        channel=channel,  # type: ignore[arg-type]
    )
    sub = Submission(
        order=data, source=f"intake:{channel}", request_hash=request_hash(raw), idempotency_key=key,
        lat=body.lat, long=body.long, media_urls=[str(u) for u in body.photo_urls],
    )  # fmt: skip
    taken = await take_in(request.app[POOL], request.app[SERVICES], sub)
    out = {
        "order_id": taken.order["id"],
        "number": taken.order["number"],
        "status": taken.order["status"],
        "channel": channel,
        "replayed": not taken.created,
    }
    return respond(request, out, status=201 if taken.created else 200)


@routes.get("/api/intake/review")
@operation("Channel orders waiting for an agent's review", "channels", response=cs.ReviewQueue)
async def review(request: web.Request) -> web.Response:
    viewer = require_role(request, CENTRE, "the review queue is for call-centre staff")
    raw = request.query.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise InvalidInput("limit must be 1–500", {"limit": raw})
    async with request.app[POOL].acquire() as conn:
        return respond(request, {"items": await review_queue(conn, viewer, int(raw))})


# ---------------------------------------------------------------- admin


@routes.post("/api/admin/intake/keys")
@operation("A channel key (the secret is shown once)", "channels", body=NewIntakeKey, status=201, response=cs.IntakeKey)
async def create_intake_key(request: web.Request) -> web.Response:
    require_role(request, ADMINS, "only admins manage channel keys")
    body = await parse(request, NewIntakeKey)
    async with request.app[POOL].acquire() as conn:
        key_id, secret = await keys.add_intake_key(conn, body.channel, request.app[SECRETS])
    return respond(request, {"key_id": key_id, "secret": secret, "channel": body.channel})


@routes.delete("/api/admin/intake/keys/{key_id}")
@operation("Revoke a channel key", "channels", status=204)
async def revoke_intake_key(request: web.Request) -> web.Response:
    require_role(request, ADMINS, "only admins manage channel keys")
    async with request.app[POOL].acquire() as conn:
        await keys.revoke_intake_key(conn, request.match_info["key_id"])
    return web.Response(status=204)


@routes.get("/api/admin/open311/clients")
@operation("Open311 clients", "channels", response=cs.Open311Clients)
async def list_open311_clients(request: web.Request) -> web.Response:
    require_role(request, ADMINS, "only admins manage Open311 clients")
    async with request.app[POOL].acquire() as conn:
        return respond(request, {"items": await keys.list_open311_clients(conn)})


@routes.post("/api/admin/open311/clients")
@operation(
    "A new Open311 client (its api_key is shown once)",
    "channels",
    body=NewOpen311Client,
    status=201,
    response=cs.NewOpen311Client,
)
async def create_open311_client(request: web.Request) -> web.Response:
    """A new client; its api_key is in this response and never again."""
    require_role(request, ADMINS, "only admins manage Open311 clients")
    body = await parse(request, NewOpen311Client)
    async with request.app[POOL].acquire() as conn:
        client_id, api_key = await keys.add_open311_client(conn, body.name)
    return respond(request, {"id": client_id, "name": body.name, "api_key": api_key})


@routes.delete("/api/admin/open311/clients/{client_id}")
@operation("Revoke an Open311 client", "channels", status=204)
async def revoke_open311_client(request: web.Request) -> web.Response:
    require_role(request, ADMINS, "only admins manage Open311 clients")
    async with request.app[POOL].acquire() as conn:
        await keys.revoke_open311_client(conn, path_id(request, "client_id"))
    return web.Response(status=204)

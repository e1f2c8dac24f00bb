"""The SMS gateway's calls to us: citizens' inbound messages and delivery receipts,
authenticated by the token configured as HOTLINE_SMS_INBOUND_TOKEN."""

from __future__ import annotations

import hmac
from typing import Annotated

from aiohttp import web
from pydantic import StringConstraints

from hotline.api import channel_schemas as cs
from hotline.api.body import parse
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SERVICES, SETTINGS
from hotline.errors import NotFound, Unauthenticated
from hotline.orders import models as m
from hotline.sms import inbound

routes = web.RouteTableDef()


class Inbound(m.Strict):
    phone: m.PhoneNumber
    text: Annotated[str, StringConstraints(max_length=1000)]


class Receipt(m.Strict):
    message_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    delivered: bool


def _gateway(request: web.Request) -> None:
    expected = request.app[SETTINGS].sms_inbound_token
    if not expected:
        # Not a dependency that is down but a door this deployment has not opened: it is not there.
        raise NotFound("no SMS gateway is configured (HOTLINE_SMS_INBOUND_TOKEN)")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthenticated("send the gateway's token as Authorization: Bearer <token>")


@routes.post("/api/sms/gateway/inbound")
@operation(
    "The SMS gateway hands us a citizen's reply (gateway token)",
    "channels",
    body=Inbound,
    response=cs.InboundOutcome,
    public=True,
)
async def inbound_sms(request: web.Request) -> web.Response:
    _gateway(request)
    body = await parse(request, Inbound)
    return respond(request, await inbound.receive(request.app[POOL], request.app[SERVICES], body.phone, body.text))


@routes.post("/api/sms/gateway/receipts")
@operation(
    "The SMS gateway reports a delivery (gateway token)",
    "channels",
    body=Receipt,
    response=cs.ReceiptRecorded,
    public=True,
)
async def delivery_receipt(request: web.Request) -> web.Response:
    _gateway(request)
    body = await parse(request, Receipt)
    now = request.app[SERVICES].clock()
    if not await inbound.receipt(request.app[POOL], body.message_id, body.delivered, now):
        raise NotFound("no message with that id", {"message_id": body.message_id})
    return respond(request, {"message_id": body.message_id, "recorded": True})

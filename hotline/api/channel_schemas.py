"""Response models of the channel routes (signed intake, Open311 admin, the SMS gateway's
callbacks, the citizens' lookup, orders per channel): what each really answers, so the
OpenAPI document and the fuzzer hold the routes to it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hotline.api.schemas import Order, Timestamp


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntakeTaken(Closed):
    order_id: int
    number: str
    status: str
    channel: str
    replayed: bool  # true: this Idempotency-Key was seen before; the order it made


class ReviewQueue(Closed):
    items: list[Order]


class IntakeKey(Closed):
    key_id: str
    secret: str  # shown in this answer only
    channel: str


class Open311Client(Closed):
    id: int
    name: str
    created_at: Timestamp
    revoked_at: Timestamp | None


class Open311Clients(Closed):
    items: list[Open311Client]


class NewOpen311Client(Closed):
    id: int
    name: str
    api_key: str  # shown in this answer only


class InboundOutcome(Closed):
    outcome: str  # opted_out, unrecognised, unmatched or visit:<satisfaction>
    order_number: str | None


class ReceiptRecorded(Closed):
    message_id: str
    recorded: Literal[True]


class PublicStatus(Closed):
    number: str
    status: str  # in words, as the citizen reads it (受理中, 办理中, 已答复 …)
    received_at: Timestamp
    reply_due_at: Timestamp | None
    replied_at: Timestamp | None
    reply_text: str | None
    closed_at: Timestamp | None


class ChannelDay(BaseModel):
    """One Shanghai day: ``day`` and, per channel in ``channels``, its orders."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, int]
    day: str


class ChannelFigures(Closed):
    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)
    from_: str = Field(alias="from")
    to: str
    channels: list[str]
    days: list[ChannelDay]
    total: dict[str, int]

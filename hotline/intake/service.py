"""Taking in an order from a channel: one transaction writes the order, its intake record
(idempotency key, token, coordinates, photos, the routing suggestion) and the citizen's
intake SMS; a category marked auto-dispatch goes straight to the suggested unit, any other
waits in the agents' review queue (``review_queue``)."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from hotline import bus
from hotline.auth import Principal
from hotline.errors import Conflict
from hotline.orders import actions, numbers
from hotline.orders import models as m
from hotline.orders.notify import live
from hotline.orders.states import Action
from hotline.orders.views import order_view

log = logging.getLogger(__name__)

# The centre acting on its own: a channel order in an auto-dispatch category is dispatched
# to the routing engine's suggestion without an agent (the audit row has no user).
AUTO_DISPATCHER = Principal(None, "system:auto-dispatch", "agent", None, "自动派单")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


def channel_principal(source: str) -> Principal:
    """Who takes in a channel order: no user, no unit; only ``take_in`` acts for it."""
    return Principal(None, source, "channel", None, source)


def request_hash(data: Any) -> bytes:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()).digest()


@dataclass
class Submission:
    order: m.NewOrder
    source: str  # 'open311:<client id>' or 'intake:<channel>'
    request_hash: bytes
    idempotency_key: str | None = None
    open311_client: int | None = None
    lat: float | None = None
    long: float | None = None
    media_urls: list[str] = field(default_factory=list)
    contact: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TakenIn:
    order: asyncpg.Record
    intake: asyncpg.Record
    created: bool  # False: the same submission came again and got its first order


async def take_in(pool: asyncpg.Pool, services: actions.Services, sub: Submission) -> TakenIn:
    await numbers.prepare(pool, services.clock())  # the day's number sequence, outside the transaction
    async with pool.acquire() as conn, conn.transaction():
        if sub.idempotency_key is not None:
            # Two deliveries of one submission at once: the second waits here, then finds the first.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 17))", sub.source + sub.idempotency_key
            )
            seen = await _seen(conn, sub)
            if seen is not None:
                return seen
        order = await actions.insert_order(conn, services, channel_principal(sub.source), sub.order)
        decision, suggested = await actions.suggest(conn, services, order)
        intake = await conn.fetchrow(
            """INSERT INTO channel_intakes (order_id, source, open311_client, idempotency_key, request_hash, token,
                                            lat, long, media_urls, contact, suggestion)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *""",
            order["id"], sub.source, sub.open311_client, sub.idempotency_key, sub.request_hash,
            secrets.token_urlsafe(12), sub.lat, sub.long, sub.media_urls, sub.contact,
            {"decision": decision.as_dict() if decision else None, "suggested_unit_id": suggested},
        )  # fmt: skip
        change = None
        if suggested is not None and await _auto_dispatch(conn, order["category_code"]):
            order, change = await actions.act_in_transaction(
                conn, services, AUTO_DISPATCHER, order["id"], Action.DISPATCH,
                m.Dispatch(unit_id=suggested, note="自动派单：类别允许渠道工单直接派出"),
            )  # fmt: skip
    log.info("channel order taken in", extra={"order_id": order["id"], "source": sub.source})
    await bus.publish(services.redis, "orders", live(order, "create"))
    if change is not None:
        await actions.publish_change(services, order, change)
    return TakenIn(order, intake, True)


async def _seen(conn: asyncpg.Connection, sub: Submission) -> TakenIn | None:
    intake = await conn.fetchrow(
        "SELECT * FROM channel_intakes WHERE source = $1 AND idempotency_key = $2", sub.source, sub.idempotency_key
    )
    if intake is None:
        return None
    if intake["request_hash"] != sub.request_hash:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for a different submission", {"idempotency_key": sub.idempotency_key}
        )
    order = await conn.fetchrow("SELECT * FROM work_orders WHERE id = $1", intake["order_id"])
    return TakenIn(order, intake, False)


async def _auto_dispatch(conn: asyncpg.Connection, category_code: str | None) -> bool:
    """Auto-dispatch when the category or one of its ancestors is marked so."""
    if category_code is None:
        return False
    return bool(
        await conn.fetchval("SELECT bool_or(auto_dispatch) FROM categories WHERE $1 LIKE code || '%'", category_code)
    )


async def review_queue(conn: asyncpg.Connection, viewer: Principal, limit: int = 100) -> list[dict[str, Any]]:
    """Channel orders no agent has handled yet (still ``received``), oldest first, with the
    routing suggestion and the photos; they leave the queue when an agent dispatches,
    answers or merges them."""
    rows = await conn.fetch(
        """SELECT o.*, i.suggestion, i.media_urls, i.lat, i.long, i.source
           FROM work_orders o JOIN channel_intakes i ON i.order_id = o.id
           WHERE o.status = 'received' AND o.channel <> 'phone'
           ORDER BY o.created_at, o.id LIMIT $1""",
        limit,
    )
    return [order_view(r, viewer) for r in rows]

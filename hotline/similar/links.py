"""The agent's decision on a candidate: link the order as a repeat (重复件) of an earlier one.

A repeat stays its own order — it was a call, so call volume and intake counts keep it —
but the unit work it causes is counted once, on the original (the figures leave out
assignments of repeats). A repeat of a repeat points at the first original, so chains never
form. Merging, the other decision, is the order action ``merge``. Both are audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import asyncpg
from pydantic import StringConstraints

from hotline.auth import Principal
from hotline.errors import Conflict, Forbidden, InvalidInput, NotFound
from hotline.orders import store
from hotline.orders.models import ActionBody


class RepeatLink(ActionBody):
    of_order_id: int
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


async def link_repeat(
    conn: asyncpg.Connection, who: Principal, order_id: int, body: RepeatLink, now: datetime
) -> asyncpg.Record:
    """Mark ``order_id`` a repeat of ``body.of_order_id`` in one transaction with its audit event."""
    if not who.is_centre:
        raise Forbidden("call-centre staff link repeats", {"role": who.role})
    async with conn.transaction():
        order = await conn.fetchrow("SELECT * FROM work_orders WHERE id = $1 FOR UPDATE", order_id)
        if order is None:
            raise NotFound("no such order", {"order_id": order_id})
        if body.version is not None and body.version != order["version"]:
            raise Conflict("the order changed since you read it", {"current_version": order["version"]})
        if order["repeat_of"] is not None:
            raise Conflict("the order is already a repeat", {"repeat_of": order["repeat_of"]})
        if order["status"] == "merged":
            raise Conflict("a merged order cannot be a repeat", {"status": order["status"]})
        original = await conn.fetchrow(
            "SELECT id, coalesce(repeat_of, id) AS root, status FROM work_orders WHERE id = $1", body.of_order_id
        )
        if original is None:
            raise InvalidInput("the original order does not exist", {"of_order_id": body.of_order_id})
        if original["root"] == order_id:
            raise InvalidInput("an order cannot be a repeat of itself", {"of_order_id": body.of_order_id})
        if await conn.fetchval("SELECT true FROM work_orders WHERE repeat_of = $1 LIMIT 1", order_id):
            raise Conflict("other orders are repeats of this one; link them to the original instead", {})
        updated = await conn.fetchrow(
            """UPDATE work_orders SET repeat_of = $2, version = version + 1, updated_at = $3
               WHERE id = $1 RETURNING *""",
            order_id, original["root"], now,
        )  # fmt: skip
        await store.audit(
            conn, order_id, None, "link_repeat", who, order["status"], order["status"],
            {"of_order_id": body.of_order_id, "repeat_of": original["root"], "note": body.note},
        )  # fmt: skip
    return updated

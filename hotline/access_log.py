"""The access log of citizens' data (PIPL): every look at an unmasked caller number or name.

``shown`` finds, in any JSON answer, the orders and calls whose number or name it carries
unmasked; ``record`` appends who saw them, when, and through which route to
``personal_data_access`` (append-only). The API records every response this way in one
middleware, so a new route cannot forget; the screen-pop records what it pushes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from hotline import cursors, writes
from hotline.auth import Principal
from hotline.orders.views import row_dict
from hotline.writes import Write

IDENTITY_FIELDS = ("caller_number", "caller_name")


@dataclass(frozen=True)
class Seen:
    order_id: int | None
    call_id: int | None
    fields: tuple[str, ...]


def _unmasked(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "*" not in value


def shown(data: Any, order_id: int | None = None, call_id: int | None = None) -> Iterator[Seen]:
    """Every identity-carrying object in ``data`` with the fields it shows unmasked, named by the
    order (an object with a ``number``) or call (one with a ``linkedid``) it belongs to."""
    if isinstance(data, list):
        for item in data:
            yield from shown(item, order_id, call_id)
        return
    if not isinstance(data, dict):
        return
    if isinstance(data.get("id"), int):
        if "number" in data and "status" in data:
            order_id = data["id"]
        elif "linkedid" in data:
            call_id = data["id"]
    fields = tuple(f for f in IDENTITY_FIELDS if _unmasked(data.get(f)))
    if fields:
        yield Seen(order_id, call_id, fields)
    for value in data.values():
        if isinstance(value, dict | list):
            yield from shown(value, order_id, call_id)


def merged(seen: Iterator[Seen]) -> list[Seen]:
    """One row per order or call, with every field shown of it."""
    by: dict[tuple[int | None, int | None], set[str]] = {}
    for s in seen:
        by.setdefault((s.order_id, s.call_id), set()).update(s.fields)
    return [Seen(o, c, tuple(f for f in IDENTITY_FIELDS if f in fs)) for (o, c), fs in by.items()]


def insert(first: int) -> str:
    """The INSERT of ``record``, its parameters numbered from ``$first`` (so a caller can make it
    part of a statement of its own: one round trip for both)."""
    n = [f"${first + i}" for i in range(8)]
    return f"""INSERT INTO personal_data_access (user_id, unit_id, username, order_id, call_id, fields, method, route)
           SELECT {n[0]}::bigint, {n[1]}::bigint, {n[2]}::text, s.order_id, s.call_id, string_to_array(s.fields, ','),
                  {n[3]}::text, {n[4]}::text
           FROM unnest({n[5]}::bigint[], {n[6]}::bigint[], {n[7]}::text[]) AS s (order_id, call_id, fields)"""


def insert_args(principal: Principal, method: str, route: str, seen: list[Seen]) -> list[Any]:
    return [
        principal.user_id, principal.unit_id, principal.username, method, route,
        [s.order_id for s in seen], [s.call_id for s in seen], [",".join(s.fields) for s in seen],
    ]  # fmt: skip


_INSERT = insert(1)


def write(principal: Principal, method: str, route: str, seen: list[Seen]) -> Write | None:
    """The rows of ``seen`` as a write for the transaction that makes the answer (``writes``)."""
    return Write(_INSERT, tuple(insert_args(principal, method, route, seen))) if seen else None


async def record(conn: asyncpg.Connection, principal: Principal, method: str, route: str, seen: list[Seen]) -> None:
    await writes.together(conn, [write(principal, method, route, seen)])


class AccessQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    user_id: int | None = None
    order_id: int | None = None
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = None


async def query(conn: asyncpg.Connection, q: AccessQuery) -> dict[str, Any]:
    """Newest first; follow ``next_cursor``."""
    where, args = [], []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if q.user_id is not None:
        where.append(f"user_id = {arg(q.user_id)}")
    if q.order_id is not None:
        where.append(f"order_id = {arg(q.order_id)}")
    if q.from_ is not None:
        where.append(f"created_at >= {arg(q.from_)}")
    if q.to is not None:
        where.append(f"created_at < {arg(q.to)}")
    if q.cursor:
        at, last_id = cursors.decode(q.cursor)
        where.append(f"(created_at, id) < ({arg(at)}, {arg(last_id)})")
    sql = "SELECT * FROM personal_data_access" + (" WHERE " + " AND ".join(where) if where else "")
    rows = await conn.fetch(sql + f" ORDER BY created_at DESC, id DESC LIMIT {arg(q.limit + 1)}", *args)
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    return {
        "items": [row_dict(r) for r in rows],
        "next_cursor": cursors.encode(rows[-1]["created_at"], rows[-1]["id"]) if more else None,
    }

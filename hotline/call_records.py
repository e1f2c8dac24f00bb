"""Call records with their legs, as the call-centre reads them (``GET /api/calls…``).

A call lists its queue segments and agent segments in order; calls only AMI has seen so far
(not finalized by the CEL pass) have none yet, and their row says what AMI knew.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from hotline import cursors
from hotline.errors import NotFound
from hotline.orders.views import row_dict

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CallFilter(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: datetime | None = Field(default=None, alias="from")  # entered a queue at or after
    end: datetime | None = Field(default=None, alias="to")  # … and before
    queue: Name | None = None  # waited in this queue (any segment)
    agent: Name | None = None  # a username, or an agent interface such as Local/1001@agents
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None

    @model_validator(mode="after")
    def _aware_and_ordered(self) -> CallFilter:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{'from' if name == 'start' else 'to'} needs a time zone (e.g. +08:00)")
        if self.start and self.end and self.start >= self.end:
            raise ValueError("from must be before to")
        return self


_LEG_SQL = {
    "queue_legs": "SELECT call_id, seq, queue, channel, joined_at, left_at, position, outcome,"
    " (SELECT a.seq FROM call_agent_legs a WHERE a.id = q.agent_leg_id) AS answered_by_leg"
    " FROM call_queue_legs q WHERE call_id = ANY($1::bigint[]) ORDER BY call_id, seq",
    "agent_legs": "SELECT a.call_id, a.seq, a.queue, a.channel, a.interface, a.agent_user_id, u.username,"
    " u.display_name AS agent_display_name, a.ringing_at, a.answered_at, a.ended_at, a.wait_seconds::float,"
    " a.talk_seconds::float, a.ended_by FROM call_agent_legs a LEFT JOIN users u ON u.id = a.agent_user_id"
    " WHERE a.call_id = ANY($1::bigint[]) ORDER BY a.call_id, a.seq",
}


async def _with_legs(conn: asyncpg.Connection, calls: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    out = {c["id"]: {**row_dict(c), "queue_legs": [], "agent_legs": []} for c in calls}
    for key, sql in _LEG_SQL.items():
        for leg in await conn.fetch(sql, list(out)):
            out[leg["call_id"]][key].append({k: v for k, v in row_dict(leg).items() if k != "call_id"})
    return list(out.values())


async def get_call(conn: asyncpg.Connection, call_id: int) -> dict[str, Any]:
    call = await conn.fetchrow("SELECT * FROM calls WHERE id = $1", call_id)
    if call is None:
        raise NotFound("no such call", {"call_id": call_id})
    orders = await conn.fetch(
        "SELECT id, number, kind, status, created_at FROM work_orders WHERE call_id = $1 ORDER BY id", call_id
    )
    (view,) = await _with_legs(conn, [call])
    return {**view, "orders": [row_dict(o) for o in orders]}


async def list_calls(conn: asyncpg.Connection, f: CallFilter) -> dict[str, Any]:
    """Newest first, keyset-paged on (entered_at, id)."""
    where: list[str] = ["c.entered_at IS NOT NULL"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.start is not None:
        where.append(f"c.entered_at >= {arg(f.start)}")
    if f.end is not None:
        where.append(f"c.entered_at < {arg(f.end)}")
    if f.queue is not None:
        q = arg(f.queue)
        where.append(
            f"(c.queue = {q} OR EXISTS (SELECT 1 FROM call_queue_legs l WHERE l.call_id = c.id AND l.queue = {q}))"
        )
    if f.agent is not None:
        user_id = await conn.fetchval("SELECT id FROM users WHERE username = $1", f.agent)
        if user_id is not None:
            u = arg(user_id)
            where.append(f"(c.agent_user_id = {u} OR EXISTS (SELECT 1 FROM call_agent_legs a"
                         f" WHERE a.call_id = c.id AND a.agent_user_id = {u} AND a.answered_at IS NOT NULL))")  # fmt: skip
        else:
            i = arg(f.agent)
            where.append(f"(c.agent_interface = {i} OR EXISTS (SELECT 1 FROM call_agent_legs a"
                         f" WHERE a.call_id = c.id AND a.interface = {i} AND a.answered_at IS NOT NULL))")  # fmt: skip
    if f.cursor is not None:
        at, last_id = cursors.decode(f.cursor)
        where.append(f"(c.entered_at, c.id) < ({arg(at)}, {arg(last_id)})")
    rows = await conn.fetch(
        f"SELECT * FROM calls c WHERE {' AND '.join(where)} ORDER BY c.entered_at DESC, c.id DESC LIMIT {arg(f.limit + 1)}",
        *args,
    )
    page, more = rows[: f.limit], len(rows) > f.limit
    return {
        "calls": await _with_legs(conn, page),
        "next_cursor": cursors.encode(page[-1]["entered_at"], page[-1]["id"]) if more else None,
    }

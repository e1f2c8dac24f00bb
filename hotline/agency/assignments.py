"""What a unit reads through the callback API: its assignments, each with the order as a unit sees it.

A unit sees its own assignments; a hub also those of the units under it. Anything else
is answered exactly like a missing assignment (404), so a unit learns nothing of others'
work. Pages are a keyset on (updated_at, id), oldest change first, so an agency system
syncs with ``since`` = the last ``updated_at`` it holds and follows ``next_cursor``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from hotline import audience, cursors
from hotline.agency.errors import UnitsOnly
from hotline.auth import Principal
from hotline.errors import NotFound
from hotline.orders.assignment_states import AssignmentStatus
from hotline.orders.views import row_dict

VISIBLE_UNITS = "SELECT id FROM units WHERE id = $1 OR parent_id = $1"

ORDER_FIELDS = (
    "id", "number", "kind", "category_code", "title", "content", "address", "division_code", "urgency",
    "caller_number", "caller_name", "anonymous", "contact_allowed", "status", "version", "created_at",
)  # fmt: skip
ASSIGNMENT_FIELDS = (
    "id", "order_id", "unit_id", "unit_code", "parent_id", "dispatcher_unit_id", "level", "role", "status",
    "dispatched_at", "sign_due_at", "reply_due_at", "signed_at", "first_contact_at", "replied_at", "reply_text",
    "reply_result", "reply_attachments", "returned_at", "return_reason", "extension_status", "extension_days",
    "extension_reason", "version", "updated_at",
)  # fmt: skip
# Audit actions a unit sees in an assignment's history (not the centre's routing notes).
UNIT_EVENTS = (
    "sign", "return", "contact", "note", "request_extension", "decide_extension", "reply", "review", "redispatch",
)  # fmt: skip


class AssignmentFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[AssignmentStatus] = Field(default_factory=list)
    since: datetime | None = Field(default=None, description="only assignments changed at or after this time")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None


def require_unit(principal: Principal) -> int:
    if principal.role != "handler" or principal.unit_id is None:
        raise UnitsOnly(
            "the unit callback API is for units; call-centre staff use /api/orders", {"role": principal.role}
        )
    return principal.unit_id


def assignment_view(a: asyncpg.Record, order: asyncpg.Record, viewer: Principal) -> dict[str, Any]:
    """The assignment and its order as its unit sees it through this assignment (lead, assisting,
    or let go: see hotline.audience)."""
    out = {k: v for k, v in row_dict(a).items() if k in ASSIGNMENT_FIELDS}
    shown = audience.order_view(order, audience.of_assignment(a, viewer.unit_id))
    out["order"] = {k: shown.get(k) for k in ORDER_FIELDS}
    return out


_SELECT = "SELECT a.*, u.code AS unit_code FROM assignments a JOIN units u ON u.id = a.unit_id"


async def list_assignments(conn: asyncpg.Connection, principal: Principal, f: AssignmentFilter) -> dict[str, Any]:
    unit_id = require_unit(principal)
    args: list[Any] = [unit_id]
    where = [f"a.unit_id IN ({VISIBLE_UNITS})"]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if f.status:
        where.append(f"a.status = ANY({arg(list(f.status))}::text[])")
    if f.since is not None:
        where.append(f"a.updated_at >= {arg(f.since)}")
    if f.cursor:
        at, last_id = cursors.decode(f.cursor)
        where.append(f"(a.updated_at, a.id) > ({arg(at)}, {arg(last_id)})")
    sql = f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY a.updated_at, a.id LIMIT {arg(f.limit + 1)}"
    rows = await conn.fetch(sql, *args)
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    orders = {
        o["id"]: o
        for o in await conn.fetch(
            "SELECT * FROM work_orders WHERE id = ANY($1::bigint[])", [r["order_id"] for r in rows]
        )
    }
    return {
        "items": [assignment_view(r, orders[r["order_id"]], principal) for r in rows],
        "next_cursor": cursors.encode(rows[-1]["updated_at"], rows[-1]["id"]) if more else None,
    }


async def visible_assignment(conn: asyncpg.Connection, principal: Principal, assignment_id: int) -> asyncpg.Record:
    """The assignment if the principal's unit may see it; NotFound otherwise (missing or not theirs alike)."""
    unit_id = require_unit(principal)
    a = await conn.fetchrow(f"{_SELECT} WHERE a.id = $1 AND a.unit_id IN ({VISIBLE_UNITS.replace('$1', '$2')})",
                            assignment_id, unit_id)  # fmt: skip
    if a is None:
        raise NotFound("no such assignment", {"assignment_id": assignment_id})
    return a


async def get_assignment(
    conn: asyncpg.Connection, principal: Principal, assignment_id: int, *, history: bool = True
) -> dict[str, Any]:
    a = await visible_assignment(conn, principal, assignment_id)
    order = await conn.fetchrow("SELECT * FROM work_orders WHERE id = $1", a["order_id"])
    out = assignment_view(a, order, principal)
    if history:
        events = await conn.fetch(
            """SELECT id, action, actor_unit_id, from_status, to_status, payload, created_at FROM audit_events
               WHERE order_id = $1 AND assignment_id = $2 AND action = ANY($3::text[]) ORDER BY id""",
            a["order_id"], a["id"], list(UNIT_EVENTS),
        )  # fmt: skip
        who = audience.of_assignment(a, principal.unit_id)
        out["events"] = [audience.event_view(e, order, who) for e in events]
    return out

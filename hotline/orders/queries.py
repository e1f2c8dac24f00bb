"""Reading orders: one with its assignments and history, or a filtered page of many.

A handler sees only orders its unit (or, for a hub, a unit under it) was
assigned; everyone else at the centre sees all. Pages use keyset pagination on
(created_at, id) so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hotline import audience, cursors
from hotline.auth import Principal
from hotline.errors import Forbidden, NotFound
from hotline.orders.models import Kind
from hotline.orders.states import Status
from hotline.orders.views import row_dict

# Units whose orders a handler may see: its own and, for a hub, the units under it.
VISIBLE_UNITS = "SELECT id FROM units WHERE id = $1 OR parent_id = $1"


class OrderFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[Status] = Field(default_factory=list)
    kind: list[Kind] = Field(default_factory=list)
    category: Annotated[str, StringConstraints(pattern=r"^([0-9]{2})+$")] | None = None
    division: Annotated[str, StringConstraints(pattern=r"^[0-9]{2,12}$")] | None = None
    unit_id: int | None = None
    caller_number: Annotated[str, StringConstraints(max_length=32)] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = None


async def list_orders(conn: asyncpg.Connection, principal: Principal, f: OrderFilter) -> dict[str, Any]:
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if not principal.is_centre and f.caller_number:
        # A masked number plus a search by number would un-mask it, one guess at a time.
        raise Forbidden("units cannot search by caller number", {"role": principal.role})
    if not principal.is_centre:
        where.append(
            f"EXISTS (SELECT 1 FROM assignments a WHERE a.order_id = o.id AND a.unit_id IN "
            f"(SELECT id FROM units WHERE id = {arg(principal.unit_id)} OR parent_id = {arg(principal.unit_id)}))"
        )
    if f.status:
        where.append(f"o.status = ANY({arg([s.value for s in f.status])}::text[])")
    if f.kind:
        where.append(f"o.kind = ANY({arg(list(f.kind))}::text[])")
    if f.category:
        where.append(f"o.category_code LIKE {arg(f.category + '%')}")
    if f.division:
        where.append(f"o.division_code LIKE {arg(f.division + '%')}")
    if f.unit_id is not None:
        where.append(f"EXISTS (SELECT 1 FROM assignments a WHERE a.order_id = o.id AND a.unit_id = {arg(f.unit_id)})")
    if f.caller_number:
        where.append(f"o.caller_number = {arg(f.caller_number)}")
    if f.created_from:
        where.append(f"o.created_at >= {arg(f.created_from)}")
    if f.created_to:
        where.append(f"o.created_at < {arg(f.created_to)}")
    if f.q:
        pattern = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        p = arg(pattern)
        where.append(f"(o.number LIKE {p} OR o.title ILIKE {p} OR o.content ILIKE {p} OR o.address ILIKE {p})")
    if f.cursor:
        created_at, order_id = cursors.decode(f.cursor)
        where.append(f"(o.created_at, o.id) < ({arg(created_at)}, {arg(order_id)})")
    sql = "SELECT o.* FROM work_orders o"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY o.created_at DESC, o.id DESC LIMIT {arg(f.limit + 1)}"
    rows = await conn.fetch(sql, *args)
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    return {
        "items": await _listed(conn, principal, rows),
        "next_cursor": cursors.encode(rows[-1]["created_at"], rows[-1]["id"]) if more else None,
    }


async def _listed(conn: asyncpg.Connection, principal: Principal, rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """Each order as its reader sees it (a unit may lead one and have returned the next)."""
    staff = audience.of_staff(principal)
    if staff is not None:
        return [audience.order_view(r, staff) for r in rows]
    units = await visible_units(conn, principal)
    parts = await conn.fetch(
        "SELECT order_id, unit_id, role, status FROM assignments WHERE order_id = ANY($1::bigint[]) AND unit_id = ANY($2::bigint[])",
        [r["id"] for r in rows], list(units),
    )  # fmt: skip
    by_order: dict[int, list[asyncpg.Record]] = {}
    for p in parts:
        by_order.setdefault(p["order_id"], []).append(p)
    return [
        audience.order_view(
            r, audience.of_unit(by_order[r["id"]], principal.unit_id, units) or audience.Audience.FORMER
        )
        for r in rows
    ]


async def get_order(conn: asyncpg.Connection, principal: Principal, order_id: int) -> dict[str, Any]:
    order = await conn.fetchrow("SELECT * FROM work_orders WHERE id = $1", order_id)
    if order is None:
        raise NotFound("no such order", {"order_id": order_id})
    assignments = await conn.fetch(
        """SELECT a.*, u.code AS unit_code, u.name AS unit_name FROM assignments a JOIN units u ON u.id = a.unit_id
           WHERE a.order_id = $1 ORDER BY a.id""",
        order_id,
    )
    units = set() if principal.is_centre else await visible_units(conn, principal)
    who = audience.of(principal, assignments, units)
    if who is None:
        # Same answer as for a missing order: a unit learns nothing of others' orders.
        raise NotFound("no such order", {"order_id": order_id})
    events = await conn.fetch(
        """SELECT id, assignment_id, action, actor_user_id, actor_unit_id, from_status, to_status, payload, created_at
           FROM audit_events WHERE order_id = $1 ORDER BY id""",
        order_id,
    )
    own = {a["id"] for a in assignments if a["unit_id"] in units}
    out = audience.order_view(order, who)
    out["audience"] = who.value
    out["assignments"] = [row_dict(a) for a in audience.keep(assignments, "id", own, who)]
    out["events"] = [audience.event_view(e, order, who) for e in audience.keep(events, "assignment_id", own, who)]
    return out


async def visible_units(conn: asyncpg.Connection, principal: Principal) -> set[int]:
    """A handler's unit and, for a hub, the units under it."""
    return {r["id"] for r in await conn.fetch(VISIBLE_UNITS, principal.unit_id)}


async def order_audience(conn: asyncpg.Connection, principal: Principal, order_id: int) -> audience.Audience | None:
    """Who ``principal`` is on the order; None when it may not see it (answer that as a missing order)."""
    if principal.is_centre:
        return audience.of_staff(principal)
    rows = await conn.fetch(
        f"SELECT unit_id, role, status FROM assignments WHERE order_id = $1 AND unit_id IN ({VISIBLE_UNITS.replace('$1', '$2')})",
        order_id, principal.unit_id,
    )  # fmt: skip
    return audience.of_unit(rows, principal.unit_id, {r["unit_id"] for r in rows})


async def find_order_id(conn: asyncpg.Connection, number: str) -> int:
    order_id = await conn.fetchval("SELECT id FROM work_orders WHERE number = $1", number)
    if order_id is None:
        raise NotFound("no such order", {"number": number})
    return order_id

"""Drill-down: the rows behind one number of a figures table.

The rows come from the same counted set (or received orders) as the number, filtered by
the same boolean column, so their count is the number. Rows come in the order they
fall due (orders: as received), keyset-paginated on (that time, id) with an opaque cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import asyncpg

from hotline import cursors
from hotline.figures.counting import (
    ASSIGNMENT_COUNTS,
    DEFAULT_RESPONSE_LIMIT,
    NULL_KEY,
    ORDER_COUNTS,
    GroupName,
    Level,
    count_for,
    counted_args,
    counted_sql,
    grouping,
    received_sql,
)
from hotline.figures.periods import Period
from hotline.figures.session import reporting
from hotline.orders.views import row_dict

Side = Literal["numerator", "denominator"]

_ASSIGNMENT_ROWS = """
SELECT c.assignment_id, c.order_id, o.number, c.unit_id, u.code AS unit_code, u.name AS unit_name,
       a.status, o.status AS order_status, a.dispatched_at, a.sign_due_at, a.signed_at, a.reply_due_at,
       a.replied_at, a.returned_at, a.first_contact_at, c.satisfaction, c.visit_resolved, c.key, c.counted_at
FROM counted c
JOIN assignments a ON a.id = c.assignment_id
JOIN work_orders o ON o.id = c.order_id
JOIN units u ON u.id = c.unit_id
"""


@dataclass(frozen=True)
class DrillPage:
    items: list[dict[str, Any]]
    next_cursor: str | None  # pass as ``cursor`` for the next page; None on the last page

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


async def drill_down(
    conn: asyncpg.Connection,
    period: Period,
    metric: str,
    side: Side = "numerator",
    group: GroupName = "unit",
    key: str | None = None,
    *,
    level: Level | None = None,
    category_depth: int = 1,
    response_limit: timedelta = DEFAULT_RESPONSE_LIMIT,
    cursor: str | None = None,
    limit: int = 50,
) -> DrillPage:
    """The assignments (or, for order-level counts, the orders) behind ``side`` of ``metric``
    for the group ``key`` (all groups when None; ``NULL_KEY`` for the no-place row), in the
    order they fall due (orders: as received). Raises ValueError for a cursor this module did
    not issue or an order-level count asked of one unit."""
    g = grouping(group, category_depth)
    count = count_for(metric, side)
    if count in ORDER_COUNTS:
        if key is not None and g.order_key_sql is None:
            raise ValueError("orders have no unit: order-level counts exist only for the total")
        sql = f"WITH received AS ({received_sql(g)}) SELECT * FROM received c"
        args: list[Any] = [period.start, period.end]
        at_col, id_col, predicate = "created_at", "order_id", f"c.{count}"
    else:
        sql = f"WITH counted AS ({counted_sql(g)}) {_ASSIGNMENT_ROWS}"
        args = counted_args(period, response_limit, level)
        column = ASSIGNMENT_COUNTS[count]
        at_col, id_col, predicate = "counted_at", "assignment_id", column if column == "true" else f"c.{column}"
    where = [predicate]
    if key == NULL_KEY:
        where.append("c.key IS NULL")
    elif key is not None:
        args.append(key)
        where.append(f"c.key = ${len(args)}")
    if cursor is not None:
        args += list(cursors.decode(cursor))
        where.append(f"(c.{at_col}, c.{id_col}) > (${len(args) - 1}, ${len(args)})")
    args.append(limit + 1)
    async with reporting(conn):
        rows = await conn.fetch(
            f"""{sql} WHERE {" AND ".join(where)}
                ORDER BY c.{at_col}, c.{id_col} LIMIT ${len(args)}""",
            *args,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return DrillPage([row_dict(r) for r in rows], cursors.encode(rows[-1][at_col], rows[-1][id_col]) if more else None)

"""The supervisor's view of the clock: overdue now and due soon, per unit, oldest first.

An assignment is late on sign while it is still unsigned past its sign-by, and on reply
while it is unanswered past its reply-by; a suspended order's clocks are stopped, so it is
never listed. Both read the partial indexes on open assignments by due time (sql/003).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hotline.orders.assignment_states import REPLY_CLOCK_RUNNING, SIGN_CLOCK_RUNNING, param

_LATE = """
    SELECT a.id AS assignment_id, a.order_id, o.number, o.kind, o.urgency, o.status AS order_status,
           a.unit_id, u.code AS unit_code, u.name AS unit_name, a.status, a.dispatched_at,
           c.clock, c.due_at
    FROM (
        SELECT id, 'sign' AS clock, sign_due_at AS due_at FROM assignments
        WHERE status = ANY($5::text[]) AND sign_due_at >= $1 AND sign_due_at < $2
        UNION ALL
        SELECT id, 'reply', reply_due_at FROM assignments
        WHERE status = ANY($6::text[]) AND reply_due_at >= $1 AND reply_due_at < $2
    ) c
    JOIN assignments a ON a.id = c.id
    JOIN work_orders o ON o.id = a.order_id
    JOIN units u ON u.id = a.unit_id
    WHERE o.status <> 'suspended' AND ($3::bigint IS NULL OR a.unit_id = $3)
      AND ($4::text IS NULL OR c.clock = $4)
    ORDER BY c.due_at, a.id
"""

EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


async def listing(
    conn: asyncpg.Connection,
    now: datetime,
    *,
    due_from: datetime = EPOCH,
    due_before: datetime | None = None,
    unit_id: int | None = None,
    clock: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Open assignments whose deadline falls in [due_from, due_before) — by default everything
    late at ``now`` — oldest due first, with a per-unit summary. For "due soon" pass
    ``due_from=now`` and the horizon."""
    start, end = due_from, due_before or now
    running = (param(SIGN_CLOCK_RUNNING), param(REPLY_CLOCK_RUNNING))
    units = await conn.fetch(
        f"""SELECT unit_id, unit_code, unit_name, count(*) AS count, min(due_at) AS oldest_due_at
            FROM ({_LATE}) l GROUP BY unit_id, unit_code, unit_name ORDER BY min(due_at), unit_id""",
        start, end, unit_id, clock, *running,
    )  # fmt: skip
    items = await conn.fetch(f"{_LATE} LIMIT $7", start, end, unit_id, clock, *running, limit)
    return {
        "now": now,
        "total": sum(u["count"] for u in units),
        "units": [dict(u) for u in units],
        "items": [dict(i) | {"late_seconds": int((now - i["due_at"]).total_seconds())} for i in items],
    }

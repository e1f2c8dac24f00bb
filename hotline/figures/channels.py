"""Orders taken in per channel and Shanghai day: every day of the period and every channel
seen in it present (zeros included), so a chart needs no gap filling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from hotline.figures.periods import Period


async def orders_per_channel(conn: asyncpg.Connection, period: Period) -> dict[str, Any]:
    rows = await conn.fetch(
        """SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date AS day, channel, count(*) AS orders
           FROM work_orders WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2""",
        period.start,
        period.end,
    )
    counts = {(r["day"], r["channel"]): r["orders"] for r in rows}
    channels = sorted({c for _, c in counts})
    days = [period.first + timedelta(days=i) for i in range((period.last - period.first).days + 1)]
    return {
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "channels": channels,
        "days": [{"day": d.isoformat(), **{c: counts.get((d, c), 0) for c in channels}} for d in days],
        "total": {c: sum(n for (_, ch), n in counts.items() if ch == c) for c in channels},
    }

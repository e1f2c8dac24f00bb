"""The hotspot watch: counts orders per (street, category) over a sliding window and raises an
alert when a window holds at least ``floor`` orders and at least ``multiple`` times its usual
level — the average of the same window (same weekday and hours) over the ``weeks`` before.

Each tick recounts from the orders themselves (the place index bounds every count), so the
watch keeps nothing in memory: a restarted watch sees what a running one saw. An alert is
raised once per hotspot until it cools down (its window falls below the floor): the partial
unique index on open alerts makes a second watch's insert a no-op, and only the transaction
that inserted or cooled a row announces it on the supervisors' channel, after its commit.
The tick also prunes the duplicate detector's expired signatures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from hotline import bus
from hotline.periodic import Periodic
from hotline.similar import signatures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HotspotRules:
    window: timedelta = timedelta(hours=2)
    floor: int = 5
    multiple: float = 3.0
    weeks: int = 4
    signature_keep: timedelta = timedelta(days=8)  # the content window and a day


_WINDOW = """
SELECT division_code, category_code, count(*) AS n, array_agg(id ORDER BY created_at, id) AS ids
FROM work_orders
WHERE created_at > $1 AND created_at <= $2 AND length(division_code) = 9 AND category_code IS NOT NULL
GROUP BY division_code, category_code
"""

# The same window k weeks back, k = 1..weeks, averaged (weeks with no orders count as zero).
_BASELINE = """
SELECT g.d, g.c, count(o.id)::float8 / $5::int AS baseline
FROM unnest($1::text[], $2::text[]) AS g(d, c)
CROSS JOIN generate_series(1, $5::int) AS k
LEFT JOIN work_orders o ON o.division_code = g.d AND o.category_code = g.c
     AND o.created_at > $3::timestamptz - make_interval(weeks => k) - $4::interval
     AND o.created_at <= $3::timestamptz - make_interval(weeks => k)
GROUP BY g.d, g.c
"""


class HotspotWatch(Periodic):
    name = "hotspot-watch"

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: aioredis.Redis | None = None,
        *,
        rules: HotspotRules = HotspotRules(),
        interval: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pool, self.redis, self.rules, self.interval, self.clock = pool, redis, rules, interval, clock

    async def step(self) -> object:
        return await self.tick()

    async def tick(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Count, raise and cool at ``now``; return the events announced."""
        now = now or self.clock()
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                events = await self._update(conn, now)
            await signatures.prune(conn, now, self.rules.signature_keep)
        for event in events:
            await bus.publish(self.redis, "supervisors", event)
        if events:
            log.info("hotspots changed", extra={"events": len(events)})
        return events

    async def _update(self, conn: asyncpg.Connection, now: datetime) -> list[dict[str, Any]]:
        r = self.rules
        counts = {(w["division_code"], w["category_code"]): w for w in await conn.fetch(_WINDOW, now - r.window, now)}
        busy = [key for key, w in counts.items() if w["n"] >= r.floor]
        baselines: dict[tuple[str, str], float] = {}
        if busy:
            rows = await conn.fetch(_BASELINE, [k[0] for k in busy], [k[1] for k in busy], now, r.window, r.weeks)
            baselines = {(b["d"], b["c"]): b["baseline"] for b in rows}
        hot = {k for k in busy if counts[k]["n"] >= r.multiple * baselines.get(k, 0.0)}
        events: list[dict[str, Any]] = []
        active = await conn.fetch("SELECT * FROM hotspots WHERE status = 'active' FOR UPDATE SKIP LOCKED")
        for h in active:
            key = (h["division_code"], h["category_code"])
            w = counts.get(key)
            if w is not None and w["n"] >= r.floor:
                await self._grow(conn, h["id"], w)
            else:
                cooled = await conn.fetchval(
                    "UPDATE hotspots SET status = 'cooled', cooled_at = $2 WHERE id = $1 AND status = 'active' "
                    "RETURNING id",
                    h["id"], now,
                )  # fmt: skip
                if cooled:
                    events.append(_event("hotspot.cooled", h, w["n"] if w else 0, h["baseline"], []))
        open_keys = {(h["division_code"], h["category_code"]) for h in active}
        for key in sorted(hot - open_keys):
            w, baseline = counts[key], baselines.get(key, 0.0)
            row = await conn.fetchrow(
                """INSERT INTO hotspots (division_code, category_code, window_start, opened_at, order_count,
                                         peak_count, baseline)
                   VALUES ($1, $2, $3, $4, $5, $5, $6)
                   ON CONFLICT (division_code, category_code) WHERE status = 'active' DO NOTHING
                   RETURNING *""",
                key[0], key[1], now - r.window, now, w["n"], baseline,
            )  # fmt: skip
            if row is None:
                continue  # another watch raised it first
            await self._grow(conn, row["id"], w)
            events.append(_event("hotspot.alert", row, w["n"], baseline, list(w["ids"])))
        return events

    async def _grow(self, conn: asyncpg.Connection, hotspot_id: int, w: asyncpg.Record) -> None:
        """Orders joining an open hotspot are linked to it; its peak follows the window."""
        await conn.execute(
            """INSERT INTO hotspot_orders (hotspot_id, order_id) SELECT $1, unnest($2::bigint[])
               ON CONFLICT DO NOTHING""",
            hotspot_id, list(w["ids"]),
        )  # fmt: skip
        await conn.execute(
            "UPDATE hotspots SET peak_count = greatest(peak_count, $2) WHERE id = $1", hotspot_id, w["n"]
        )


def _event(kind: str, h: Any, count: int, baseline: float, order_ids: list[int]) -> dict[str, Any]:
    return {
        "type": kind,
        "hotspot_id": h["id"],
        "division_code": h["division_code"],
        "category_code": h["category_code"],
        "count": count,
        "baseline": round(baseline, 2),
        "order_ids": order_ids,
    }

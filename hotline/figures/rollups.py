"""Daily rollups of the figures: build a day, know which days are clean, split a period.

A figures table over a month used to count the month's assignments one by one, so it grew with
the month's size (and, through the anti-joins, with history). The rollup keeps, per Shanghai day,
grouping, level and key, the same counts the live query computes (``counting.ASSIGNMENT_COUNTS``
at the default response limit; ``ORDER_COUNTS`` by created day). A period is then read as the
sum of its clean days' rollup rows plus a live count over the runs of days that are not clean
(today, yesterday, anything changed since its build): exact in any snapshot (see sql/028).

Building a day (``build_day``) is safe beside live writers: the day's row is created first, then
the build waits until every transaction that began before that row existed has ended (one of
them may have changed the day without seeing the row to bump), then counts the day in one
repeatable-read snapshot and records the ``changes`` it saw; a change committed meanwhile makes
the final update fail to serialize and the day stays stale, to be built again next pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

import asyncpg

from hotline.figures.calls import count_calls_day
from hotline.figures.clean import clean_days, live_runs
from hotline.figures.counting import (
    ASSIGNMENT_COUNTS,
    DEFAULT_RESPONSE_LIMIT,
    ORDER_COUNTS,
    PERIOD_AT,
    GroupName,
    counted_args,
    counted_sql,
    grouping,
    received_sql,
)
from hotline.figures.periods import TZ, Period
from hotline.periodic import Periodic

log = logging.getLogger(__name__)

__all__ = ["RollupWatch", "build_day", "build_due", "clean_days", "due_days", "live_runs"]

ASSIGNMENT_GROUPS: tuple[GroupName, ...] = ("unit", "district", "street", "category")
ORDER_GROUPS: tuple[GroupName, ...] = ("district", "street", "category")
ROLLUP_CATEGORY_DEPTH = 3  # the finest key; depths 1 and 2 are its prefixes
SETTLE_DAYS = 2  # a day is built once it is this many days old (today and yesterday stay live)
QUIET_WAIT = 10.0  # seconds a build waits for older transactions before giving up for this pass

_A_COLS = ", ".join(ASSIGNMENT_COUNTS)
_A_SUMS = ", ".join(f"count(*) FILTER (WHERE {col})" for col in ASSIGNMENT_COUNTS.values())
_O_COLS = ", ".join(ORDER_COUNTS)
_O_SUMS = ", ".join(f"count(*) FILTER (WHERE {name})" for name in ORDER_COUNTS)


def rollup_key_sql(group: GroupName, category_depth: int) -> str:
    """The stored key narrowed to the asked grouping (a category key of depth 3 holds its prefixes)."""
    return f"left(key, {2 * category_depth})" if group == "category" else "key"


async def build_day(conn: asyncpg.Connection, day: date) -> bool:
    """Count one day into the rollup (again, if it was built); False when it could not be done
    cleanly this time. ``conn`` must not be inside a transaction."""
    created = await conn.fetchval(
        "INSERT INTO figures_rollup_days (day) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true", day
    )
    if created and not await _older_transactions_ended(conn):
        log.info("figures rollup: busy database, day left for the next pass", extra={"day": day.isoformat()})
        return False
    try:
        async with conn.transaction(isolation="repeatable_read"):
            await conn.execute("SET LOCAL jit = off; SET LOCAL work_mem = '32MB'")
            seen = await conn.fetchval("SELECT changes FROM figures_rollup_days WHERE day = $1", day)
            await _count_day(conn, day)
            await conn.execute(
                "UPDATE figures_rollup_days SET built_changes = $2, built_at = now() WHERE day = $1", day, seen
            )
    except asyncpg.SerializationError:
        return False  # the day changed while it was counted: still stale, built again later
    return True


async def _older_transactions_ended(conn: asyncpg.Connection) -> bool:
    """Wait until no transaction of this database that began before now is still open."""
    started = await conn.fetchval("SELECT clock_timestamp()")
    loop = asyncio.get_running_loop()
    give_up = loop.time() + QUIET_WAIT
    while True:
        older = await conn.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start < $1""",
            started,
        )
        if not older:
            return True
        if loop.time() > give_up:
            return False
        await asyncio.sleep(0.05)


async def _count_day(conn: asyncpg.Connection, day: date) -> None:
    period = Period(day, day)
    await conn.execute("DELETE FROM figures_day_assignments WHERE day = $1", day)
    await conn.execute("DELETE FROM figures_day_orders WHERE day = $1", day)
    await count_calls_day(conn, day)
    for name in ASSIGNMENT_GROUPS:
        g = grouping(name, ROLLUP_CATEGORY_DEPTH if name == "category" else 1)
        await conn.execute(
            f"""INSERT INTO figures_day_assignments (day, grp, level, key, {_A_COLS})
                WITH counted AS ({counted_sql(g)})
                SELECT $5::date, $6::text, level, key, {_A_SUMS} FROM counted GROUP BY level, key""",
            *counted_args(period, DEFAULT_RESPONSE_LIMIT, None),
            day,
            name,
        )
    for name in ORDER_GROUPS:
        g = grouping(name, ROLLUP_CATEGORY_DEPTH if name == "category" else 1)
        await conn.execute(
            f"""INSERT INTO figures_day_orders (day, grp, key, {_O_COLS})
                WITH received AS ({received_sql(g)})
                SELECT $3::date, $4::text, key, {_O_SUMS} FROM received GROUP BY key""",
            period.start,
            period.end,
            day,
            name,
        )


async def due_days(conn: asyncpg.Connection, before: date, limit: int) -> list[date]:
    """Days before ``before`` that hold data and are unbuilt or stale, oldest first."""
    first = await conn.fetchval(
        f"""SELECT least((SELECT min({PERIOD_AT}) FROM assignments a),
                         (SELECT min(created_at) FROM work_orders))"""
    )
    if first is None:
        return []
    rows = await conn.fetch(
        """SELECT d::date AS day FROM generate_series(figures_day_of($1), $2::date - 1, interval '1 day') d
           LEFT JOIN figures_rollup_days r ON r.day = d::date
           WHERE r.built_changes IS DISTINCT FROM r.changes OR r.day IS NULL
           ORDER BY 1 LIMIT $3""",
        first,
        before,
        limit,
    )
    return [r["day"] for r in rows]


async def build_due(pool: asyncpg.Pool, today: date, limit: int = 31) -> int:
    """One pass of the rollup worker: build up to ``limit`` due days; the number built."""
    built = 0
    async with pool.acquire() as conn:
        for day in await due_days(conn, today - timedelta(days=SETTLE_DAYS - 1), limit):
            built += await build_day(conn, day)
    return built


# -- reading ----------------------------------------------------------------------------------


async def assignment_counts(
    conn: asyncpg.Connection, group: GroupName, category_depth: int, days: list[date], level: str | None
) -> list[asyncpg.Record]:
    """Rows shaped like the live assignment counts (key, is_total, counts), summed over clean days."""
    k = rollup_key_sql(group, category_depth)
    sums = ", ".join(f"coalesce(sum({name}), 0)::int AS {name}" for name in ASSIGNMENT_COUNTS)
    return await conn.fetch(
        f"""SELECT {k} AS key, GROUPING({k}) = 1 AS is_total, {sums} FROM figures_day_assignments
            WHERE grp = $1 AND day = ANY ($2::date[]) AND ($3::text IS NULL OR level = $3::text)
            GROUP BY GROUPING SETS (({k}), ())""",
        group,
        days,
        level,
    )


async def order_counts(
    conn: asyncpg.Connection, group: GroupName, category_depth: int, days: list[date]
) -> list[asyncpg.Record]:
    """Rows shaped like the live order counts; orders have no unit, so by unit only the total."""
    sums = ", ".join(f"coalesce(sum({name}), 0)::int AS {name}" for name in ORDER_COUNTS)
    if group not in ORDER_GROUPS:
        # Every order is in exactly one district row (its own, or none): their sum is the total.
        select, grp, group_by = "NULL::text AS key, true AS is_total", "district", ""
    else:
        k = rollup_key_sql(group, category_depth)
        select, grp, group_by = (
            f"{k} AS key, GROUPING({k}) = 1 AS is_total",
            group,
            f"GROUP BY GROUPING SETS (({k}), ())",
        )
    return await conn.fetch(
        f"SELECT {select}, {sums} FROM figures_day_orders WHERE grp = $1 AND day = ANY ($2::date[]) {group_by}",
        grp,
        days,
    )


async def trend_counts(
    conn: asyncpg.Connection,
    group: GroupName,
    category_depth: int,
    days: list[date],
    level: str | None,
    counts: tuple[str, str],
    key: str | None,
    key_is_null: bool,
) -> dict[date, tuple[int, int]]:
    """(numerator, denominator) per clean day for a trend; ``counts`` names two rollup columns."""
    numerator, denominator = counts
    order_level = numerator in ORDER_COUNTS
    table, grp = ("figures_day_orders", group) if order_level else ("figures_day_assignments", group)
    if order_level and group not in ORDER_GROUPS:
        grp = "district"  # the total: see order_counts
    k = rollup_key_sql(group, category_depth)
    where = ["grp = $1", "day = ANY ($2::date[])"]
    args: list[object] = [grp, days]
    if not order_level and level is not None:
        args.append(level)
        where.append(f"level = ${len(args)}")
    if key_is_null:
        where.append(f"{k} IS NULL")
    elif key is not None:
        args.append(key)
        where.append(f"{k} = ${len(args)}")
    rows = await conn.fetch(
        f"""SELECT day, coalesce(sum({numerator}), 0)::int AS n, coalesce(sum({denominator}), 0)::int AS d
            FROM {table} WHERE {" AND ".join(where)} GROUP BY day""",
        *args,
    )
    return {r["day"]: (r["n"], r["d"]) for r in rows}


class RollupWatch(Periodic):
    """The rollup worker (role ``clock``): builds settled days, and rebuilds stale ones, a batch a pass.

    Several processes may run it: a day two of them build at once is counted twice the same
    way, and the later serialization failure leaves it for the next pass."""

    name = "figures-rollup"

    def __init__(self, pool: asyncpg.Pool, *, clock: Callable[[], datetime], interval: float = 60.0) -> None:
        self.pool, self.clock, self.interval = pool, clock, interval

    async def step(self) -> int:
        built = await build_due(self.pool, self.clock().astimezone(TZ).date())
        if built:
            log.info("figures rollup: days built", extra={"days": built})
        return built

"""Order numbers ``YYYYMMDD-NNNNNN``: one PostgreSQL sequence per Asia/Shanghai day.

Drawing a number is one ``nextval`` inside the intake's transaction (inside its INSERT:
``next_in_sql``, so it costs no round trip of its own): sequences are not
transactional, so concurrent intakes never wait on each other (a counter row would hold
every intake of the day until its COMMIT). The day's sequence, and the next day's, are
created ahead by ``prepare`` before the intake's transaction opens (once per process and
day, under an advisory lock, in a transaction of its own), so no DDL ever runs inside an
intake. A number drawn by an intake that then rolls back is not reused:
numbers are unique and increase within the day, with possible gaps (see README).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

ZONE = ZoneInfo("Asia/Shanghai")
# One lock for every process creating days: CREATE SEQUENCE IF NOT EXISTS is not safe concurrently.
_LOCK_KEY = 12345_024
# Days whose sequence this process has seen exist, per pool (tests run many databases in one
# process). Pools cannot be weakly referenced; closed ones are forgotten at the next miss.
_ready: dict[asyncpg.Pool, set[date]] = {}


def day_of(taken_at: datetime) -> date:
    return taken_at.astimezone(ZONE).date()


def sequence_name(day: date) -> str:
    return f"order_number_{day:%Y%m%d}"


async def prepare(pool: asyncpg.Pool, taken_at: datetime) -> None:
    """Make sure the sequences of ``taken_at``'s day and the next exist (the next, so a clock read
    a moment later, past midnight, still finds its day). Free once this process has seen them."""
    day = day_of(taken_at)
    days = {day, day + timedelta(days=1)}
    known = _ready.get(pool, set())
    if days <= known:
        return
    for closed in [p for p in _ready if p.is_closing()]:
        del _ready[closed]
    async with pool.acquire() as conn:
        await create_days(conn, days - known)
    _ready[pool] = known | days


async def create_days(conn: asyncpg.Connection, days: set[date]) -> None:
    """Create the given days' sequences if missing, in one short transaction of their own."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        for day in sorted(days):
            await conn.execute(
                f"CREATE SEQUENCE IF NOT EXISTS {sequence_name(day)} AS integer MINVALUE 1 MAXVALUE 999999 NO CYCLE"
            )


async def draw(conn: asyncpg.Connection, taken_at: datetime) -> str:
    """The next number of ``taken_at``'s day; its sequence must have been prepared."""
    day = day_of(taken_at)
    seq = await conn.fetchval("SELECT nextval($1::regclass)", sequence_name(day))
    return f"{day:%Y%m%d}-{seq:06d}"


def next_in_sql(day_param: str, sequence_param: str) -> str:
    """``draw`` as an SQL expression, for the statement that inserts the order: ``day_param``
    holds ``draw_arguments``' day, ``sequence_param`` its sequence (same number, same format)."""
    return f"{day_param}::text || '-' || lpad(nextval({sequence_param}::regclass)::text, 6, '0')"


def draw_arguments(taken_at: datetime) -> tuple[str, str]:
    """The parameters of ``next_in_sql`` for ``taken_at``: the day as YYYYMMDD and its sequence."""
    day = day_of(taken_at)
    return f"{day:%Y%m%d}", sequence_name(day)

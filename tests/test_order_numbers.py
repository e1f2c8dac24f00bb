"""Order numbers from one sequence per Asia/Shanghai day: unique and increasing under
concurrent intake, back to 000001 on a new day, the day taken from the code's clock."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from hotline import db
from hotline.embedded import Embedded
from hotline.orders import actions, numbers
from hotline.orders import models as m
from tests.orders_helpers import who
from tests.scratch import scratch_database

ORDER = m.NewOrder(kind="consult", content="公交线路咨询", division_code="320302001", category_code="010101")
# 23:59:59 on 1 November in Shanghai (UTC+8).
BEFORE_MIDNIGHT = datetime(2026, 11, 1, 15, 59, 59, tzinfo=UTC)


def pinned(at: datetime) -> actions.Services:
    return actions.Services(clock=lambda: at)


async def _create(pool: asyncpg.Pool, services: actions.Services) -> str:
    agent = await who(pool, "agent1001")
    return (await actions.create_order(pool, services, agent, ORDER))["number"]


async def test_fifty_concurrent_intakes_get_unique_increasing_numbers(seeded_pool: asyncpg.Pool) -> None:
    services = pinned(BEFORE_MIDNIGHT)
    got = await asyncio.gather(*(_create(seeded_pool, services) for _ in range(50)))
    assert len(set(got)) == 50 and {n[:9] for n in got} == {"20261101-"}
    # No rollback happened, so the day's numbers are exactly 1..50, in commit order of their ids.
    rows = await seeded_pool.fetch("SELECT number FROM work_orders WHERE number LIKE '20261101-%' ORDER BY id")
    assert sorted(int(r["number"][9:]) for r in rows) == list(range(1, 51))


async def test_a_new_day_starts_again_at_one_on_the_shanghai_day_boundary(seeded_pool: asyncpg.Pool) -> None:
    first = await _create(seeded_pool, pinned(BEFORE_MIDNIGHT))
    second = await _create(seeded_pool, pinned(BEFORE_MIDNIGHT))
    next_day = await _create(seeded_pool, pinned(BEFORE_MIDNIGHT + timedelta(seconds=1)))
    back = await _create(seeded_pool, pinned(BEFORE_MIDNIGHT))
    assert [first, second, next_day, back] == [
        "20261101-000001",
        "20261101-000002",
        "20261102-000001",
        "20261101-000003",
    ]


async def test_prepare_makes_today_and_tomorrow_once_and_is_safe_concurrently(pool: asyncpg.Pool) -> None:
    at = datetime(2027, 2, 28, 20, 0, tzinfo=UTC)  # already 1 March in Shanghai
    await asyncio.gather(*(numbers.prepare(pool, at) for _ in range(10)))
    names = await pool.fetch("SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE 'order_number_%'")
    assert {r["relname"] for r in names} >= {"order_number_20270301", "order_number_20270302"}
    assert numbers.day_of(at) == date(2027, 3, 1)


async def test_a_day_nobody_prepared_fails_loudly_rather_than_reusing_numbers(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(asyncpg.UndefinedTableError):
            await numbers.draw(conn, datetime(2031, 5, 5, tzinfo=UTC))


async def test_a_rolled_back_intake_leaves_a_gap_never_a_repeat(seeded_pool: asyncpg.Pool) -> None:
    at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    await numbers.prepare(seeded_pool, at)
    async with seeded_pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                assert await numbers.draw(conn, at) == "20261201-000001"
                raise RuntimeError("the intake failed after drawing its number")
    assert await _create(seeded_pool, pinned(at)) == "20261201-000002"


async def test_migration_carries_a_counted_day_on(servers: Embedded, tmp_path: Path) -> None:
    """024 turns each counter row into a sequence starting after its last number, so a
    database migrated in the middle of a day never hands out a number again."""
    for path in db.SQL_DIR.glob("*.sql"):
        if int(path.name[:3]) < 24:
            shutil.copy(path, tmp_path / path.name)
    async with scratch_database(servers.database_url, prefix="numbers_scratch") as url:
        conn = await asyncpg.connect(url)
        try:
            await db.migrate(conn, tmp_path)
            await conn.execute("INSERT INTO order_number_counters (day, last) VALUES ('2026-11-01', 41)")
            await db.migrate(conn)
            assert await conn.fetchval("SELECT nextval('order_number_20261101')") == 42
            assert await conn.fetchval("SELECT to_regclass('order_number_counters')") is None
        finally:
            await conn.close()

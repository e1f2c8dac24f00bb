"""The figures' daily rollup stays exact: every write that moves a built day makes it stale (counted
live until rebuilt), a build waits for writers that began before it, and a rebuild repairs a day.

Each check compares the whole October table in every grouping, and a trend, read with the rollup
against the same read with the rollup ignored (inside a rolled-back transaction)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from hotline import cli
from hotline.figures import figures, period_of, trend
from hotline.figures.rollups import build_day, build_due, clean_days
from tests.test_figures import OCTOBER, Data, build_days, load_october, sh

GROUPS: list[tuple[Any, dict[str, Any]]] = [
    ("unit", {}),
    ("unit", {"level": "street"}),
    ("district", {}),
    ("street", {}),
    ("category", {"category_depth": 1}),
    ("category", {"category_depth": 2}),
    ("category", {"category_depth": 3}),
]


async def _tables(conn: asyncpg.Connection) -> list[Any]:
    tables: list[Any] = [(await figures(conn, OCTOBER, g, **kw)).as_dict() for g, kw in GROUPS]
    for metric in ("reply_rate", "satisfaction_rate", "direct_rate", "dispatched"):
        tables.append([p.as_dict() for p in await trend(conn, metric, OCTOBER, "district")])
    return tables


async def _live_tables(conn: asyncpg.Connection) -> list[Any]:
    tr = conn.transaction()
    await tr.start()
    try:
        await conn.execute("DELETE FROM figures_rollup_days")
        return await _tables(conn)
    finally:
        await tr.rollback()


async def _assert_exact(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        read, live = await _tables(conn), await _live_tables(conn)
    for got, want in zip(read, live, strict=True):
        if isinstance(got, dict):
            assert got["total"] == want["total"]
            assert {r["key"]: r for r in got["rows"]} == {r["key"]: r for r in want["rows"]}
        assert got == want


async def _stale(pool: asyncpg.Pool) -> list[date]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT day FROM figures_rollup_days WHERE built_changes IS DISTINCT FROM changes")
    return sorted(r["day"] for r in rows)


@pytest.fixture
async def built(seeded_pool: asyncpg.Pool) -> Data:
    data = await load_october(seeded_pool)
    await build_days(seeded_pool, date(2026, 9, 1), date(2026, 11, 30))
    return data


async def test_a_built_month_is_read_from_the_rollup(seeded_pool: asyncpg.Pool, built: Data) -> None:
    async with seeded_pool.acquire() as conn:
        assert len(await clean_days(conn, OCTOBER)) == 31
        rollup_rows = await conn.fetchval("SELECT count(*) FROM figures_day_assignments WHERE grp = 'unit'")
        assert rollup_rows > 0
    assert await _stale(seeded_pool) == []
    await _assert_exact(seeded_pool)


@pytest.mark.parametrize(
    "change",
    [
        # a late reply on A3 (reply due 10-20)
        "UPDATE assignments SET replied_at = $2, status = 'replied' WHERE id = $1",
        # an extension moves A1's reply-by from 10-15 to 10-28: both days move
        "UPDATE assignments SET reply_due_at = $2 WHERE id = $1",
    ],
)
async def test_an_assignment_change_makes_its_days_stale(seeded_pool: asyncpg.Pool, built: Data, change: str) -> None:
    target = built.assignments["A3" if "replied_at" in change else "A1"]
    async with seeded_pool.acquire() as conn:
        await conn.execute(change, target, sh(10, 28, 10))
    assert await _stale(seeded_pool)
    await _assert_exact(seeded_pool)
    assert await build_due(seeded_pool, date(2026, 12, 10)) >= 1
    assert await _stale(seeded_pool) == []
    await _assert_exact(seeded_pool)


async def test_a_visit_a_child_and_an_order_change_each_count(seeded_pool: asyncpg.Pool, built: Data) -> None:
    async with seeded_pool.acquire() as conn:
        order_s7 = await conn.fetchval("SELECT order_id FROM assignments WHERE id = $1", built.assignments["S7"])
        # A reached visit of S7's reply (S7: reply due 10-22).
        await conn.execute(
            """INSERT INTO visits (order_id, assignment_id, unit_id, attempt, reached, satisfaction, resolved)
               VALUES ($1, $2, $3, 1, true, 'unsatisfied', false)""",
            order_s7,
            built.assignments["S7"],
            built.units["S1"],
        )
    assert date(2026, 10, 22) in await _stale(seeded_pool)
    await _assert_exact(seeded_pool)
    await build_due(seeded_pool, date(2026, 12, 10))
    async with seeded_pool.acquire() as conn:
        # The street re-dispatches A4's order down (a child takes the parent out of the count) and the
        # agent moves another order to a new topic and place: the assignments' days and the created day.
        parent = await conn.fetchrow("SELECT * FROM assignments WHERE id = $1", built.assignments["A2"])
        await conn.execute(
            """INSERT INTO assignments (order_id, unit_id, parent_id, level, status, dispatched_at, reply_due_at)
               VALUES ($1, $2, $3, 'street', 'dispatched', $4, $5)""",
            parent["order_id"],
            built.units["S2"],
            parent["id"],
            sh(11, 3),
            sh(11, 20),
        )
        await conn.execute(
            "UPDATE work_orders SET category_code = '020101', division_code = '320302002' WHERE id = $1",
            order_s7,
        )
    stale = await _stale(seeded_pool)
    assert date(2026, 10, 16) in stale and date(2026, 10, 22) in stale
    await _assert_exact(seeded_pool)


async def test_an_order_closing_directly_moves_its_created_day(seeded_pool: asyncpg.Pool, built: Data) -> None:
    async with seeded_pool.acquire() as conn:
        order = await conn.fetchrow("SELECT id, created_at FROM work_orders ORDER BY id LIMIT 1")
        await conn.execute(
            "UPDATE work_orders SET status = 'closed', close_reason = 'resolved_directly' WHERE id = $1", order["id"]
        )
        day = await conn.fetchval("SELECT figures_day_of($1)", order["created_at"])
    assert day in await _stale(seeded_pool)
    await _assert_exact(seeded_pool)


async def test_bookkeeping_writes_leave_the_rollup_clean(seeded_pool: asyncpg.Pool, built: Data) -> None:
    async with seeded_pool.acquire() as conn:
        await conn.execute("UPDATE assignments SET version = version + 1, updated_at = now()")
        await conn.execute("UPDATE work_orders SET updated_at = now()")
    assert await _stale(seeded_pool) == []


async def test_a_build_waits_for_a_writer_that_began_before_the_day_existed(seeded_pool: asyncpg.Pool) -> None:
    data = await load_october(seeded_pool)
    async with seeded_pool.acquire() as writer, seeded_pool.acquire() as builder:
        tr = writer.transaction()
        await tr.start()
        # The writer touches A1's day (10-15) before the day has a row: its trigger bumps nothing.
        await writer.execute("UPDATE assignments SET replied_at = NULL, status = 'signed' WHERE id = $1",
                             data.assignments["A1"])  # fmt: skip
        build = asyncio.create_task(build_day(builder, date(2026, 10, 15)))
        await asyncio.sleep(0.5)
        assert not build.done()  # waiting for the writer, which a snapshot now would miss
        await tr.commit()
        assert await asyncio.wait_for(build, 10)
    await build_days(seeded_pool, date(2026, 10, 1), date(2026, 10, 31))
    await _assert_exact(seeded_pool)
    async with seeded_pool.acquire() as conn:
        table = await figures(conn, period_of("day", date(2026, 10, 15)), "unit")
        assert table.total.counts["replied"] == 0  # A1's reply was taken back before the build counted it


async def test_rebuild_repairs_a_damaged_day(
    seeded_pool: asyncpg.Pool, built: Data, seeded_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with seeded_pool.acquire() as conn:
        await conn.execute("UPDATE figures_day_assignments SET replied = replied + 5 WHERE day = '2026-10-15'")
        assert await _tables(conn) != await _live_tables(conn)
    monkeypatch.setenv("DATABASE_URL", seeded_database_url)
    assert await asyncio.to_thread(cli.main, ["figures", "rebuild", "--from", "2026-10-15"]) == 0
    await _assert_exact(seeded_pool)


def test_rebuild_refuses_a_backwards_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["figures", "rebuild", "--from", "2026-10-15", "--to", "2026-10-01"]) == 2
    assert "--to must be on or after --from" in capsys.readouterr().err


async def test_the_worker_leaves_today_and_yesterday_live(seeded_pool: asyncpg.Pool) -> None:
    await load_october(seeded_pool)
    await build_due(seeded_pool, date(2026, 10, 20))
    async with seeded_pool.acquire() as conn:
        days = await clean_days(conn, OCTOBER)
    assert days and max(days) == date(2026, 10, 18)
    assert date(2026, 10, 19) not in days and date(2026, 10, 20) not in days
    assert min(days) <= date(2026, 10, 1) + timedelta(days=5)
    await _assert_exact(seeded_pool)

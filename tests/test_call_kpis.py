"""Call-centre KPIs against numbers worked out by hand.

Calls of October 2026 (Shanghai), ``load_calls``:

| call | queue | entered (Shanghai) | outcome   | hold | talk | agent                      |
| ---- | ----- | ------------------ | --------- | ---- | ---- | -------------------------- |
| c1   | 12345 | 10-05 09:10        | answered  | 10   | 100  | agent1001                  |
| c2   | 12345 | 10-05 09:20        | answered  | 15   | 200  | agent1001                  |
| c3   | 12345 | 10-05 10:05        | answered  | 16   | 300  | agent1002                  |
| c4   | 12345 | 10-06 10:30        | answered  | 20   | 400  | "Agent 9009" (no user)     |
| c5   | vip   | 10-06 14:00        | answered  | 25   | 500  | agent1002                  |
| c6   | 12345 | 10-06 14:10        | abandoned | 30   |      |                            |
| c7   | vip   | 10-07 23:50        | abandoned | 5    |      |                            |

and two outside October: c8 at 09-30 23:59 and c9 at 11-01 00:00 Shanghai.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg
import pytest

from hotline.figures import TZ, call_kpis, period_of
from tests.test_figures import build_days

OCTOBER = period_of("month", date(2026, 10, 1))
CALLS = [
    # name, queue, entered (month, day, hour, minute), outcome, hold, talk, agent username or member name
    ("c1", "12345", (10, 5, 9, 10), "answered", 10, 100, "agent1001"),
    ("c2", "12345", (10, 5, 9, 20), "answered", 15, 200, "agent1001"),
    ("c3", "12345", (10, 5, 10, 5), "answered", 16, 300, "agent1002"),
    ("c4", "12345", (10, 6, 10, 30), "answered", 20, 400, "Agent 9009"),
    ("c5", "vip", (10, 6, 14, 0), "answered", 25, 500, "agent1002"),
    ("c6", "12345", (10, 6, 14, 10), "abandoned", 30, None, None),
    ("c7", "vip", (10, 7, 23, 50), "abandoned", 5, None, None),
    ("c8", "12345", (9, 30, 23, 59), "answered", 5, 50, "agent1001"),
    ("c9", "12345", (11, 1, 0, 0), "answered", 5, 50, "agent1001"),
]


async def load_calls(pool: asyncpg.Pool) -> dict[str, int]:
    users = {r["username"]: r["id"] for r in await pool.fetch("SELECT id, username FROM users")}
    for name, queue, (month, day, hour, minute), outcome, hold, talk, agent in CALLS:
        entered = datetime(2026, month, day, hour, minute, tzinfo=TZ)
        user_id = users.get(agent) if agent else None
        await pool.execute(
            """INSERT INTO calls (node, linkedid, queue, state, outcome, entered_at, hold_time, talk_time,
                                  agent_user_id, agent_name)
               VALUES ('pbx1', $1, $2, 'ended', $3, $4, $5, $6, $7, $8)""",
            name, queue, outcome, entered, hold, talk, user_id, None if user_id else agent,
        )  # fmt: skip
    return users


def pick(row: dict[str, Any], *names: str) -> tuple[Any, ...]:
    return tuple(row[n] for n in names)


KPIS = ("offered", "answered", "abandoned", "answered_within_15s", "answered_within_20s", "answer_rate",
        "service_level_15s", "service_level_20s", "asa_seconds", "aht_seconds")  # fmt: skip


# Every hand-worked number holds both counted live and read from the daily rollup (Sept-Nov built).
@pytest.fixture(params=["live", "rollup"])
async def users(request: pytest.FixtureRequest, seeded_pool: asyncpg.Pool) -> dict[str, int]:
    loaded = await load_calls(seeded_pool)
    if request.param == "rollup":
        await build_days(seeded_pool, date(2026, 9, 1), date(2026, 11, 30))
    return loaded


async def test_total(seeded_pool: asyncpg.Pool, users: dict[str, int]) -> None:
    async with seeded_pool.acquire() as conn:
        _, total = await call_kpis(conn, OCTOBER, "queue")
    # c1..c7 = 7 offered; answered c1..c5 = 5; abandoned c6, c7 = 2; hold <= 15: c1, c2 = 2;
    # hold <= 20: c1..c4 = 4; 5/7, 2/7, 4/7; ASA (10+15+16+20+25)/5 = 17.2; AHT (100+...+500)/5 = 300.
    assert pick(total.as_dict(), *KPIS) == (7, 5, 2, 2, 4, 0.7143, 0.2857, 0.5714, 17.2, 300.0)


async def test_by_queue(seeded_pool: asyncpg.Pool, users: dict[str, int]) -> None:
    async with seeded_pool.acquire() as conn:
        rows, _ = await call_kpis(conn, OCTOBER, "queue")
    got = {r.key["queue"]: r.as_dict() for r in rows}
    assert list(got) == ["12345", "vip"]  # busiest first
    # 12345: c1, c2, c3, c4, c6 = 5; answered 4; ASA (10+15+16+20)/4 = 15.25 -> 15.3; AHT 1000/4 = 250.
    assert pick(got["12345"], *KPIS) == (5, 4, 1, 2, 4, 0.8, 0.4, 0.8, 15.3, 250.0)
    # vip: c5 answered after 25 s, c7 abandoned.
    assert pick(got["vip"], *KPIS) == (2, 1, 1, 0, 0, 0.5, 0.0, 0.0, 25.0, 500.0)


async def test_by_agent(seeded_pool: asyncpg.Pool, users: dict[str, int]) -> None:
    async with seeded_pool.acquire() as conn:
        rows, total = await call_kpis(conn, OCTOBER, "agent")
    got = {r.name: r.as_dict() for r in rows}
    assert list(got) == ["话务员1001", "话务员1002", "Agent 9009", "（未接通）"]
    assert got["话务员1001"]["agent_user_id"] == users["agent1001"] and got["话务员1001"]["username"] == "agent1001"
    # agent1001: c1, c2 -> ASA 12.5, AHT 150, both within 15 s.
    assert pick(got["话务员1001"], *KPIS) == (2, 2, 0, 2, 2, 1.0, 1.0, 1.0, 12.5, 150.0)
    # agent1002: c3 (16 s), c5 (25 s) -> none within 15, c3 within 20; ASA 20.5, AHT 400.
    assert pick(got["话务员1002"], *KPIS) == (2, 2, 0, 0, 1, 1.0, 0.0, 0.5, 20.5, 400.0)
    # A queue member with no hotline user: named by its AMI member name.
    assert got["Agent 9009"]["agent_user_id"] is None
    assert pick(got["Agent 9009"], *KPIS) == (1, 1, 0, 0, 1, 1.0, 0.0, 1.0, 20.0, 400.0)
    # Calls no agent took: c6, c7.
    assert pick(got["（未接通）"], *KPIS) == (2, 0, 2, 0, 0, 0.0, 0.0, 0.0, None, None)
    assert sum(r["offered"] for r in got.values()) == total.counts["offered"]


async def test_by_hour_has_every_hour(seeded_pool: asyncpg.Pool, users: dict[str, int]) -> None:
    async with seeded_pool.acquire() as conn:
        rows, _ = await call_kpis(conn, OCTOBER, "hour")
    assert [r.key["hour"] for r in rows] == list(range(24))
    offered = {r.key["hour"]: r.counts["offered"] for r in rows if r.counts["offered"]}
    # Shanghai hours: 09 c1 c2; 10 c3 c4; 14 c5 c6; 23 c7 (15:50 UTC).
    assert offered == {9: 2, 10: 2, 14: 2, 23: 1}
    assert rows[0].as_dict()["answer_rate"] is None and rows[0].name == "00:00"


async def test_empty_period(seeded_pool: asyncpg.Pool, users: dict[str, int]) -> None:
    async with seeded_pool.acquire() as conn:
        rows, total = await call_kpis(conn, period_of("day", date(2026, 10, 20)), "queue")
    assert rows == []
    assert pick(total.as_dict(), *KPIS) == (0, 0, 0, 0, 0, None, None, None, None, None)


async def test_day_bounds_are_shanghai(seeded_pool: asyncpg.Pool, users: dict[str, int]) -> None:
    async with seeded_pool.acquire() as conn:
        _, sep30 = await call_kpis(conn, period_of("day", date(2026, 9, 30)))
        _, nov1 = await call_kpis(conn, period_of("day", date(2026, 11, 1)))
    assert sep30.counts["offered"] == 1 and nov1.counts["offered"] == 1  # c8, c9


async def _both(pool: asyncpg.Pool, by: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(as read now, counted live with no rollup): they must be equal."""
    async with pool.acquire() as conn:
        rows, total = await call_kpis(conn, OCTOBER, by)  # type: ignore[arg-type]
        read = [r.as_dict() for r in rows] + [total.as_dict()]
        assert await conn.fetchval("SELECT count(*) FROM figures_day_calls") > 0
        undo = conn.transaction()
        await undo.start()
        await conn.execute("UPDATE figures_rollup_days SET built_changes = NULL")  # no day clean: all live
        rows, total = await call_kpis(conn, OCTOBER, by)  # type: ignore[arg-type]
        await undo.rollback()
        live = [r.as_dict() for r in rows] + [total.as_dict()]
    return read, live


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE calls SET talk_time = 999 WHERE linkedid = 'c1'",
        "UPDATE calls SET outcome = 'abandoned', agent_user_id = NULL WHERE linkedid = 'c2'",
        "UPDATE calls SET entered_at = entered_at + interval '3 days 3 hours' WHERE linkedid = 'c3'",
        "DELETE FROM calls WHERE linkedid = 'c4'",
        "INSERT INTO calls (node, linkedid, queue, state, outcome, entered_at, hold_time) "
        "VALUES ('pbx1', 'late', 'vip', 'ended', 'abandoned', '2026-10-09 12:00+08', 7)",
    ],
)
async def test_a_change_to_a_built_day_is_counted_at_once(seeded_pool: asyncpg.Pool, change: str) -> None:
    await load_calls(seeded_pool)
    await build_days(seeded_pool, date(2026, 9, 1), date(2026, 11, 30))
    before, _ = await _both(seeded_pool, "hour")
    await seeded_pool.execute(change)
    for by in ("queue", "agent", "hour"):
        read, live = await _both(seeded_pool, by)
        assert read == live, by
    assert (await _both(seeded_pool, "hour"))[0] != before  # the change shows


async def test_the_cel_pass_finalizing_a_built_days_call_is_counted_at_once(seeded_pool: asyncpg.Pool) -> None:
    await load_calls(seeded_pool)
    await build_days(seeded_pool, date(2026, 9, 1), date(2026, 11, 30))
    call_id = await seeded_pool.fetchval("SELECT id FROM calls WHERE linkedid = 'c1'")
    async with seeded_pool.acquire() as conn, conn.transaction():
        # what the CEL pass writes: the call's legs, then the call marked finalized
        leg = await conn.fetchval(
            """INSERT INTO call_agent_legs (call_id, seq, queue, channel, uniqueid, interface, wait_seconds,
                                            talk_seconds, ended_by)
               VALUES ($1, 1, '12345', 'Local/1001@agents-1;1', 'u1', 'Local/1001@agents', 3, 42, 'caller')
               RETURNING id""",
            call_id,
        )
        await conn.execute(
            """INSERT INTO call_queue_legs (call_id, seq, queue, channel, uniqueid, joined_at, outcome, agent_leg_id)
               SELECT $1, 1, '12345', 'Local/12345@hotline-in-1;2', 'u0', entered_at, 'answered', $2
               FROM calls WHERE id = $1""",
            call_id,
            leg,
        )
        await conn.execute("UPDATE calls SET finalized_at = now() WHERE id = $1", call_id)
    read, live = await _both(seeded_pool, "queue")
    assert read == live
    await seeded_pool.execute("UPDATE call_agent_legs SET talk_seconds = 50 WHERE id = $1", leg)
    read, live = await _both(seeded_pool, "agent")
    assert read == live

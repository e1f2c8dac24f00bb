"""The deadline clock against real PostgreSQL and Redis: fires each warning and overdue once,
skips stopped clocks, survives being down, a crash mid-batch, and several clocks at once."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from hotline import bus, db
from hotline.deadlines.clock import DeadlineClock
from hotline.orders import actions
from hotline.orders.states import Action
from tests.orders_helpers import new_order, unit_id, who

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=SH)  # a Tuesday


def later(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


@pytest.fixture
def services() -> actions.Services:
    return actions.Services(clock=lambda: T0)


async def dispatch(pool: asyncpg.Pool, services: actions.Services, n: int = 1, **fields) -> list[int]:
    """``n`` consult orders dispatched to 城管局 at T0: sign-by 11:00 (warning 10:36), reply-by Wed 17:30."""
    agent = await who(pool, "agent1001")
    cgj = await unit_id(pool, "city.cgj")
    ids = []
    for _ in range(n):
        order = await new_order(pool, kind="consult", **fields)
        body = actions.parse_payload(Action.DISPATCH, {"unit_id": cgj})
        await actions.act(pool, services, agent, order["id"], Action.DISPATCH, body)
        ids.append(order["id"])
    return ids


async def fired(pool: asyncpg.Pool) -> list[tuple[int, str, str]]:
    rows = await pool.fetch(
        """SELECT order_id, action, payload->>'clock' AS clock FROM audit_events
           WHERE action LIKE 'deadline_%' ORDER BY order_id, id"""
    )
    return [(r["order_id"], r["action"], r["clock"]) for r in rows]


async def test_warning_then_overdue_each_once(seeded_pool, services) -> None:
    [oid] = await dispatch(seeded_pool, services)
    clock = DeadlineClock(seeded_pool)
    assert await clock.tick(later(minutes=30)) == 0
    assert await clock.tick(later(minutes=96)) == 1  # 80 % of 2 working hours
    assert await clock.tick(later(minutes=100)) == 0  # not twice
    assert await clock.tick(later(hours=2)) == 1
    assert await fired(seeded_pool) == [(oid, "deadline_warning", "sign"), (oid, "deadline_overdue", "sign")]
    row = await seeded_pool.fetchrow(
        "SELECT from_status, to_status, actor_user_id, payload FROM audit_events WHERE action = 'deadline_overdue'"
    )
    assert row["from_status"] == row["to_status"] == "dispatched" and row["actor_user_id"] is None
    assert datetime.fromisoformat(row["payload"]["due_at"]) == later(hours=2)


async def test_reminders_go_to_the_units_system_and_the_live_bus(seeded_pool, redis, services) -> None:
    await seeded_pool.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook' WHERE code = 'city.cgj'")
    [oid] = await dispatch(seeded_pool, services)
    cgj = await unit_id(seeded_pool, "city.cgj")
    pubsub = redis.pubsub()
    await pubsub.subscribe(bus.channel(redis, f"unit:{cgj}"), bus.channel(redis, "deadlines"))
    await pubsub.get_message(timeout=1)
    await pubsub.get_message(timeout=1)
    assert await DeadlineClock(seeded_pool, redis).tick(later(hours=2)) == 1  # warning superseded by overdue
    received = []
    for _ in range(2):
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        assert msg is not None
        received.append(json.loads(msg["data"]))
    await pubsub.aclose()
    assert {(e["type"], e["order_id"], e["clock"]) for e in received} == {("deadline.overdue", oid, "sign")}
    out = await seeded_pool.fetch("SELECT topic, unit_id, payload FROM outbox WHERE order_id = $1 ORDER BY id", oid)
    topics = [r["topic"] for r in out]
    assert topics == ["order.dispatched", "order.overdue"]
    assert out[1]["unit_id"] == cgj and out[1]["payload"]["clock"] == "sign"
    assert out[1]["payload"]["order"]["caller_number"] == "139****1234"  # masked for the unit


async def test_stopped_clocks_are_skipped(seeded_pool, services) -> None:
    """Signed in time: no sign reminders; replied: no reply reminders either."""
    [oid] = await dispatch(seeded_pool, services)
    cgj = await who(seeded_pool, "cgj")
    await actions.act(seeded_pool, services, cgj, oid, Action.SIGN, actions.parse_payload(Action.SIGN, {}))
    clock = DeadlineClock(seeded_pool)
    assert await clock.tick(later(hours=3)) == 0
    reply = actions.parse_payload(Action.REPLY, {"text": "已电话答复"})
    await actions.act(seeded_pool, services, cgj, oid, Action.REPLY, reply)
    assert await clock.tick(later(days=30)) == 0
    outcomes = await seeded_pool.fetch("SELECT DISTINCT outcome FROM deadline_timers")
    assert {r["outcome"] for r in outcomes} == {"skipped"}
    assert await fired(seeded_pool) == []


async def test_returned_and_redispatched_assignments_stop_their_clocks(seeded_pool, services) -> None:
    [oid] = await dispatch(seeded_pool, services)
    cgj = await who(seeded_pool, "cgj")
    await actions.act(
        seeded_pool, services, cgj, oid, Action.RETURN, actions.parse_payload(Action.RETURN, {"reason": "非本单位职责"})
    )
    assert await DeadlineClock(seeded_pool).tick(later(days=30)) == 0


async def test_a_clock_that_was_down_catches_up_once(seeded_pool, services) -> None:
    """Nothing ran for a month: each clock of each assignment reports overdue once (the stale
    warnings are superseded), and a restarted clock finds nothing left to send."""
    ids = await dispatch(seeded_pool, services, n=5)
    clock = DeadlineClock(seeded_pool, batch=3)  # several batches
    assert await clock.tick(later(days=30)) == 10
    assert await DeadlineClock(seeded_pool).tick(later(days=30, minutes=1)) == 0
    got = await fired(seeded_pool)
    assert got == [(oid, "deadline_overdue", c) for oid in ids for c in ("sign", "reply")]
    superseded = await seeded_pool.fetchval("SELECT count(*) FROM deadline_timers WHERE outcome = 'superseded'")
    assert superseded == 10


async def test_a_clock_killed_mid_batch_leaves_its_timers_for_the_next(
    seeded_pool, seeded_database_url, services
) -> None:
    """A clock holds half the due timers when its process dies: the survivor skips them
    (SKIP LOCKED) instead of waiting or sending them twice; once the dead one's transaction
    is gone they are sent, exactly once."""
    ids = await dispatch(seeded_pool, services, n=6)
    doomed = await asyncpg.connect(seeded_database_url)
    tx = doomed.transaction()
    await tx.start()
    held = await doomed.fetch(
        """SELECT assignment_id FROM deadline_timers
           WHERE fired_at IS NULL AND fire_at <= $1 AND order_id = ANY($2::bigint[])
           ORDER BY fire_at, assignment_id LIMIT 3 FOR UPDATE SKIP LOCKED""",
        later(minutes=100), ids,
    )  # fmt: skip
    assert len(held) == 3
    # half-written work of the dying clock, which must vanish with it
    await doomed.execute(
        "UPDATE deadline_timers SET fired_at = now(), outcome = 'sent' WHERE assignment_id = ANY($1::bigint[])",
        [r["assignment_id"] for r in held],
    )
    survivor = DeadlineClock(seeded_pool)
    assert await survivor.tick(later(minutes=100)) == 3  # the other three sign warnings
    pid = doomed.get_server_pid()
    assert await seeded_pool.fetchval("SELECT pg_terminate_backend($1)", pid)  # the process dies
    # The backend exits (and drops its locks) a moment after the signal: wait for the server to
    # say it is gone rather than probing the dead connection, whose client side races the
    # termination notice.
    for _ in range(200):
        if not await seeded_pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the terminated backend did not exit")
    doomed.terminate()
    assert await survivor.tick(later(minutes=100)) == 3
    got = await fired(seeded_pool)
    assert sorted(got) == sorted((oid, "deadline_warning", "sign") for oid in ids)


async def test_two_clocks_at_once_send_each_timer_once(seeded_pool, seeded_database_url, services) -> None:
    ids = await dispatch(seeded_pool, services, n=20)
    other_pool = await db.create_pool(seeded_database_url, min_size=1, max_size=4)
    try:
        a, b = DeadlineClock(seeded_pool, batch=4), DeadlineClock(other_pool, batch=4)
        sent = await asyncio.gather(*(c.tick(later(days=30)) for c in (a, b, a, b)))
    finally:
        await other_pool.close()
    assert sum(sent) == 40
    got = await fired(seeded_pool)
    assert len(got) == len(set(got)) == 40
    assert {oid for oid, _, _ in got} == set(ids)


async def test_worker_runs_in_the_background_and_stops_cleanly(seeded_pool, services) -> None:
    """The worker ticks on its own clock (pinned here past both warnings, before either deadline)."""
    [oid] = await dispatch(seeded_pool, services)
    worker = DeadlineClock(seeded_pool, interval=0.05, clock=lambda: later(hours=1, minutes=50))
    await worker.start()
    try:
        for _ in range(100):
            if len(await fired(seeded_pool)) >= 1:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # more ticks: nothing is sent twice
    finally:
        await worker.stop()
    assert await fired(seeded_pool) == [(oid, "deadline_warning", "sign")]


async def test_tick_reads_only_the_due_index(seeded_pool) -> None:
    """The cost of a tick follows the timers coming due: its scan is the partial index on fire_at."""
    async with seeded_pool.acquire() as conn:
        await conn.execute("SET enable_seqscan = off")  # on an empty table a seq scan would be cheapest
        plan = await conn.fetch(
            """EXPLAIN SELECT assignment_id FROM deadline_timers
               WHERE fired_at IS NULL AND fire_at <= now() ORDER BY fire_at LIMIT 500"""
        )
        await conn.execute("RESET enable_seqscan")
    assert "deadline_timers_due" in "\n".join(r[0] for r in plan)

"""Return visits: satisfied closes, unsatisfied goes back to the same unit with new clocks,
three unanswered calls close the order as unreachable."""

from __future__ import annotations

import asyncpg

from hotline.orders.handlers import MAX_VISIT_ATTEMPTS
from hotline.orders.states import Action
from tests.orders_helpers import do, order_at, unit_id


async def test_accepted_reply_joins_the_visit_queue_with_a_due_time(seeded_pool: asyncpg.Pool) -> None:
    order = await order_at(seeded_pool, "awaiting_visit")
    row = await seeded_pool.fetchrow(
        "SELECT visit_due_at, updated_at, visit_attempts FROM work_orders WHERE id = $1", order["id"]
    )
    assert row["visit_due_at"] is not None and row["visit_due_at"] > row["updated_at"]
    assert row["visit_attempts"] == 0


async def test_satisfied_visit_then_close(seeded_pool: asyncpg.Pool) -> None:
    order = await order_at(seeded_pool, "visited")
    closed = await do(seeded_pool, "agent1001", order["id"], Action.CLOSE)
    assert closed["status"] == "closed" and closed["close_reason"] == "visited"
    visits = await seeded_pool.fetch("SELECT attempt, reached, satisfaction, resolved, unit_id FROM visits")
    assert [tuple(v) for v in visits] == [(1, True, "satisfied", True, await unit_id(seeded_pool, "city.cgj"))]


async def test_unsatisfied_visit_reopens_to_the_same_unit_with_a_new_assignment(seeded_pool: asyncpg.Pool) -> None:
    await seeded_pool.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook' WHERE code = 'city.cgj'")
    order = await order_at(seeded_pool, "awaiting_visit")
    after = await do(
        seeded_pool,
        "agent1002",
        order["id"],
        Action.VISIT,
        reached=True,
        satisfaction="basically_satisfied",
        resolved=False,
    )
    assert after["status"] == "dispatched" and after["reopen_count"] == 1
    rows = await seeded_pool.fetch(
        "SELECT unit_id, status FROM assignments WHERE order_id = $1 ORDER BY id", order["id"]
    )
    cgj = await unit_id(seeded_pool, "city.cgj")
    assert [tuple(r) for r in rows] == [(cgj, "done"), (cgj, "dispatched")]
    trail = await seeded_pool.fetch(
        "SELECT action, from_status, to_status FROM audit_events WHERE order_id = $1 ORDER BY id DESC LIMIT 2",
        order["id"],
    )
    assert [tuple(r) for r in trail] == [
        ("dispatch", "reopened", "dispatched"),
        ("visit", "awaiting_visit", "reopened"),
    ]
    topics = [
        r["topic"]
        for r in await seeded_pool.fetch("SELECT topic FROM outbox WHERE order_id = $1 ORDER BY id", order["id"])
    ]
    assert topics == ["order.dispatched", "order.reopened"]
    # the unit works it again from the start: sign, reply, and the centre visits again
    await do(seeded_pool, "cgj", order["id"], Action.SIGN)
    await do(seeded_pool, "cgj", order["id"], Action.REPLY, text="再次处理，已取缔")
    again = await do(seeded_pool, "agent1001", order["id"], Action.REVIEW, accept=True)
    assert again["status"] == "awaiting_visit" and again["visit_attempts"] == 0


async def test_three_unanswered_visit_calls_close_the_order_as_unreachable(seeded_pool: asyncpg.Pool) -> None:
    order = await order_at(seeded_pool, "awaiting_visit")
    statuses = []
    for _ in range(MAX_VISIT_ATTEMPTS):
        statuses.append((await do(seeded_pool, "agent1002", order["id"], Action.VISIT, reached=False))["status"])
    assert statuses == ["awaiting_visit"] * (MAX_VISIT_ATTEMPTS - 1) + ["closed"]
    row = await seeded_pool.fetchrow("SELECT close_reason, visit_attempts FROM work_orders WHERE id = $1", order["id"])
    assert tuple(row) == ("unreachable", MAX_VISIT_ATTEMPTS)
    assert (
        await seeded_pool.fetchval("SELECT count(*) FROM visits WHERE order_id = $1 AND NOT reached", order["id"]) == 3
    )

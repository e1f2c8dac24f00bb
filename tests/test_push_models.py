"""What the relay sends matches the push models the OpenAPI document lists as webhooks: each
topic the actions, the deadline service and the clock queue, walked for real, validates against
its model (the order pushed back to the unit, order.reopened, has test_visits' walk)."""

from __future__ import annotations

import asyncpg
from pydantic import TypeAdapter

from adapters.webhook.relay import OutboxRelay, Target
from hotline.api.pushes import PUSHES, Push, topic_of
from hotline.deadlines.clock import DeadlineClock
from hotline.orders.states import Action
from tests.orders_helpers import do, new_order, unit_id

BY_TOPIC = {topic_of(p): p for p in PUSHES}


async def test_every_queued_push_matches_its_model(seeded_pool: asyncpg.Pool) -> None:
    cgj = await unit_id(seeded_pool, "city.cgj")
    await seeded_pool.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook' WHERE id = $1", cgj)
    order = await new_order(seeded_pool)
    oid = order["id"]
    await do(seeded_pool, "agent1001", oid, Action.DISPATCH, unit_id=cgj)
    await do(seeded_pool, "agent1001", oid, Action.REMIND, note="请尽快处理")
    await do(seeded_pool, "supervisor", oid, Action.SUPERVISE, note="督办")
    await do(seeded_pool, "cgj", oid, Action.SIGN)
    await do(seeded_pool, "cgj", oid, Action.REQUEST_EXTENSION, days=2, reason="需协调多部门")
    await do(seeded_pool, "agent1001", oid, Action.DECIDE_EXTENSION, approve=True)
    reply_timers = await seeded_pool.fetch(
        """SELECT kind, fire_at FROM deadline_timers
           WHERE order_id = $1 AND clock = 'reply' AND fired_at IS NULL ORDER BY fire_at""",
        oid,
    )
    clock = DeadlineClock(seeded_pool)
    for t in reply_timers:  # the warning first, then the overdue
        await clock.tick(t["fire_at"])

    rows = await seeded_pool.fetch(
        """SELECT o.*, u.code AS unit_code FROM outbox o JOIN units u ON u.id = o.unit_id
           WHERE o.order_id = $1 ORDER BY o.id""",
        oid,
    )
    topics = [r["topic"] for r in rows]
    assert set(topics) == {
        "order.dispatched", "order.reminded", "order.supervised", "order.extended", "order.deadline_changed",
        "order.deadline_warning", "order.overdue",
    }, topics  # fmt: skip
    for row in rows:
        envelope = OutboxRelay.envelope(row, Target(None, None, None, row["unit_code"]))
        push = TypeAdapter(BY_TOPIC[row["topic"]]).validate_python(envelope)  # extra="forbid": no drift either way
        assert isinstance(push, Push) and push.order.id == oid

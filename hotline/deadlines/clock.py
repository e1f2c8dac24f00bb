"""The deadline clock: fires warnings (80 %) and overdue (100 %) once each.

A tick takes the unfired timers whose time has come, oldest first, locked with
``FOR UPDATE SKIP LOCKED`` so several clocks never take the same one, and in one
transaction per batch writes, for each still relevant, an audit event and an
outbox reminder to the unit, then marks it fired. Live events go to the bus
after the commit. Restart-safe by construction: a timer is fired exactly when
its transaction commits, so a clock that dies mid-batch leaves its timers for
the next tick, and one that was down finds them all waiting (fire_at <= now).

Only the partial index on unfired ``fire_at`` is read, so a tick costs what comes
due, not what is open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis

from hotline import bus
from hotline.orders import store
from hotline.orders.assignment_states import CLOCK_RUNNING
from hotline.orders.notify import push_payload
from hotline.periodic import Periodic

log = logging.getLogger(__name__)

TOPICS = {"warning": "order.deadline_warning", "overdue": "order.overdue"}


@dataclass
class Fired:
    """One timer a tick sent, for the live event after the commit."""

    order_id: int
    number: str
    assignment_id: int
    unit_id: int
    clock: str
    kind: str
    due_at: datetime


class DeadlineClock(Periodic):
    name = "deadline-clock"

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: aioredis.Redis | None = None,
        *,
        interval: float = 15.0,
        batch: int = 500,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pool, self.redis, self.interval, self.batch = pool, redis, interval, batch
        # What time it is for the background worker; tests pin it.
        self.clock = clock

    # ------------------------------------------------------------ worker

    async def step(self) -> object:
        return await self.tick()

    # ------------------------------------------------------------ tick

    async def tick(self, now: datetime | None = None) -> int:
        """Fire everything due at ``now`` (default: the clock's time), batch by batch; return how many were sent."""
        now = now or self.clock()
        sent = 0
        while True:
            taken, fired = await self._batch(now)
            sent += len(fired)
            await self._publish(fired)
            if taken < self.batch:
                return sent

    async def _batch(self, now: datetime) -> tuple[int, list[Fired]]:
        async with self.pool.acquire() as conn, conn.transaction():
            timers = await conn.fetch(
                """SELECT t.assignment_id, t.clock, t.kind, t.generation, t.fire_at, t.due_at,
                          a.order_id, a.unit_id, a.role, a.status AS assignment_status
                   FROM deadline_timers t
                   JOIN assignments a ON a.id = t.assignment_id
                   JOIN work_orders o ON o.id = t.order_id
                   WHERE t.fired_at IS NULL AND t.fire_at <= $1 AND o.status <> 'suspended'
                   ORDER BY t.fire_at
                   LIMIT $2
                   FOR UPDATE OF t SKIP LOCKED""",
                now, self.batch,
            )  # fmt: skip
            if not timers:
                return 0, []
            orders = {
                r["id"]: r
                for r in await conn.fetch(
                    "SELECT * FROM work_orders WHERE id = ANY($1::bigint[])", list({t["order_id"] for t in timers})
                )
            }
            outcomes = [(t["assignment_id"], t["clock"], t["kind"], t["generation"], _outcome(t, now)) for t in timers]
            to_send = [t for t, o in zip(timers, outcomes, strict=True) if o[-1] == "sent"]
            await self._record(conn, orders, to_send)
            await conn.execute(
                """UPDATE deadline_timers t SET fired_at = now(), outcome = f.outcome
                   FROM unnest($1::bigint[], $2::text[], $3::text[], $4::smallint[], $5::text[])
                        AS f(assignment_id, clock, kind, generation, outcome)
                   WHERE t.assignment_id = f.assignment_id AND t.clock = f.clock AND t.kind = f.kind
                     AND t.generation = f.generation""",
                *map(list, zip(*outcomes, strict=True)),
            )
        fired = [
            Fired(t["order_id"], orders[t["order_id"]]["number"], t["assignment_id"], t["unit_id"], t["clock"],
                  t["kind"], t["due_at"])
            for t in to_send
        ]  # fmt: skip
        if fired:
            log.info("deadline timers fired", extra={"sent": len(fired), "taken": len(timers)})
        return len(timers), fired

    async def _record(
        self, conn: asyncpg.Connection, orders: dict[int, asyncpg.Record], timers: list[asyncpg.Record]
    ) -> None:
        """The audit events and the reminders to the units' systems, in the tick's transaction,
        written a batch at a time (one round trip each, not one per timer)."""
        audit, outbox = [], []
        for t in timers:
            order = orders[t["order_id"]]
            detail = {"clock": t["clock"], "due_at": t["due_at"].isoformat(), "fire_at": t["fire_at"].isoformat()}
            audit.append((order["id"], t["assignment_id"], f"deadline_{t['kind']}", order["status"], detail))
            topic = TOPICS[t["kind"]]
            outbox.append(
                (topic, order["id"], t["unit_id"], push_payload(order, t["assignment_id"], topic, t["role"]) | detail)
            )
        await store.audit_batch(conn, audit)
        await store.enqueue_batch(conn, outbox)

    async def _publish(self, fired: list[Fired]) -> None:
        for f in fired:
            event = {
                "type": f"deadline.{f.kind}",
                "order_id": f.order_id,
                "number": f.number,
                "assignment_id": f.assignment_id,
                "unit_id": f.unit_id,
                "clock": f.clock,
                "due_at": f.due_at.isoformat(),
            }
            await bus.publish(self.redis, f"unit:{f.unit_id}", event)
            await bus.publish(self.redis, "deadlines", event)


def _outcome(t: asyncpg.Record, now: datetime) -> str:
    """Sent, or skipped when the clock has stopped (signed, replied, returned…), or superseded
    when a warning comes due only after its deadline has passed too (the overdue says it all)."""
    if t["assignment_status"] not in CLOCK_RUNNING[t["clock"]]:
        return "skipped"
    if t["kind"] == "warning" and t["due_at"] <= now:
        return "superseded"
    return "sent"

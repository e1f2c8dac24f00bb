"""The figures an operator watches on /metrics, beyond HTTP: the AMI link per node and its event
rate, live calls, the outbox backlog and dead deliveries, overdue assignments, callers waiting and
agents by state per queue.

The AMI figures come from the adapter, which runs in one process (role ``ami``): ``AmiMetricsSync``
copies its node stats into the registry every few seconds there, so under ``--workers`` any
process's /metrics shows them (prometheus multiprocess files). The database figures are read at
scrape time by whichever process answers (they are the same from every process).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from hotline.orders.assignment_states import REPLY_CLOCK_RUNNING, SIGN_CLOCK_RUNNING
from hotline.periodic import Periodic
from hotline.wallboard.view import STATES


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        latest: Any = {"multiprocess_mode": "mostrecent"}
        self.ami_link = Gauge("hotline_ami_link_up", "1 while logged in to the Asterisk node", ["node"],
                              registry=registry, **latest)  # fmt: skip
        self.ami_events = Counter("hotline_ami_events", "AMI events received", ["node"], registry=registry)
        self.ami_live_calls = Gauge("hotline_ami_live_calls", "calls the adapter follows now", ["node"],
                                    registry=registry, **latest)  # fmt: skip
        self.ami_reconnects = Counter("hotline_ami_disconnects", "AMI connections lost", ["node"], registry=registry)
        self.outbox = Gauge("hotline_outbox_deliveries", "webhook deliveries by status (pending = backlog)",
                            ["status"], registry=registry, **latest)  # fmt: skip
        self.overdue = Gauge("hotline_assignments_overdue", "open assignments past their sign-by / reply-by",
                             ["clock"], registry=registry, **latest)  # fmt: skip
        self.waiting = Gauge("hotline_queue_callers_waiting", "callers waiting in the queue now", ["queue"],
                             registry=registry, **latest)  # fmt: skip
        self.longest_wait = Gauge("hotline_queue_longest_wait_seconds", "the longest wait in the queue now",
                                  ["queue"], registry=registry, **latest)  # fmt: skip
        self.agents = Gauge("hotline_queue_agents", "queue members by state (offline, ready, ringing, in_call, "
                            "wrapup, paused)", ["queue", "state"], registry=registry, **latest)  # fmt: skip
        self._seen: dict[tuple[str, str], int] = {}

    def sync_ami(self, status: dict[str, dict[str, Any]]) -> None:
        """Copy the adapter's per-node stats (``AmiAdapter.status()``) into the registry."""
        for node, stats in status.items():
            if node.startswith("_"):
                continue
            self.ami_link.labels(node).set(1 if stats.get("connected") else 0)
            self.ami_live_calls.labels(node).set(stats.get("live_calls", 0))
            self._advance(self.ami_events, node, "events", int(stats.get("events", 0)))
            self._advance(self.ami_reconnects, node, "disconnects", int(stats.get("disconnects", 0)))

    def _advance(self, counter: Counter, node: str, name: str, total: int) -> None:
        before = self._seen.get((node, name), 0)
        if total > before:
            counter.labels(node).inc(total - before)
        self._seen[(node, name)] = total

    async def sync_database(self, conn: asyncpg.Connection, now: datetime) -> None:
        for r in await conn.fetch(
            "SELECT s.status, count(o.id) AS n FROM unnest(ARRAY['pending', 'dead']) s (status)"
            " LEFT JOIN outbox o ON o.status = s.status GROUP BY s.status"
        ):
            self.outbox.labels(r["status"]).set(r["n"])
        row = await conn.fetchrow(
            """SELECT count(*) FILTER (WHERE status = ANY ($2::text[]) AND sign_due_at < $1) AS sign,
                      count(*) FILTER (WHERE status = ANY ($3::text[]) AND reply_due_at < $1) AS reply
               FROM assignments WHERE status = ANY ($2::text[] || $3::text[])""",
            now,
            sorted(SIGN_CLOCK_RUNNING),
            sorted(REPLY_CLOCK_RUNNING),
        )
        self.overdue.labels("sign").set(row["sign"])
        self.overdue.labels("reply").set(row["reply"])
        await self._sync_queues(conn, now)

    async def _sync_queues(self, conn: asyncpg.Connection, now: datetime) -> None:
        """Callers waiting and agents by state per queue (a queue with none shows 0, not nothing)."""
        waiting = await conn.fetch(
            "SELECT queue, count(*) AS n, max(extract(epoch FROM $1 - entered_at)) AS longest FROM calls"
            " WHERE state = 'queued' AND queue IS NOT NULL GROUP BY queue",
            now,
        )
        members = await conn.fetch("SELECT queue, state, count(*) AS n FROM member_states GROUP BY queue, state")
        by_queue = {r["queue"]: r for r in waiting}
        for queue in {r["queue"] for r in members} | set(by_queue):
            row = by_queue.get(queue)
            self.waiting.labels(queue).set(row["n"] if row else 0)
            self.longest_wait.labels(queue).set(max(0.0, float(row["longest"] or 0)) if row else 0)
            counts = {r["state"]: r["n"] for r in members if r["queue"] == queue}
            for state in STATES:
                self.agents.labels(queue, state).set(counts.get(state, 0))


class AmiMetricsSync(Periodic):
    """In the adapter's process: its node stats into the registry every ``interval`` seconds."""

    name = "ami-metrics"

    def __init__(self, adapter: Any, metrics: OperatorMetrics, interval: float = 5.0) -> None:
        self.adapter, self.metrics, self.interval = adapter, metrics, interval

    async def step(self) -> None:
        self.metrics.sync_ami(self.adapter.status())

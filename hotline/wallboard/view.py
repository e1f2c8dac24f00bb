"""What the wallboard shows, read from PostgreSQL, so every API process, and the push from the
adapter's process, show the same thing: per queue, the callers waiting now (``calls`` still
``queued``) with their wait, the longest wait, the members and their states (``member_states``),
agents counted by state, and today's offered / answered / abandoned / service level (the same
counts as ``GET /api/figures/calls``).

No caller number or name is on the wallboard: it is shown on a screen in the room. A waiting
call is its Linkedid, node and wait.

Several Asterisk nodes: a queue of the same name on two nodes is one queue on the wallboard (the
same service); each member and each waiting call names its node.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hotline.figures.calls import call_kpis
from hotline.figures.periods import TZ, period_of

# Today's call figures by queue name (None: calls with no queue), as call_kpis' rows give them.
TodayFigures = dict[str | None, dict[str, Any]]

STATES = ("offline", "ready", "ringing", "in_call", "wrapup", "paused")

_WAITING = """
SELECT node, queue, linkedid, entered_at, incomplete FROM calls
 WHERE state = 'queued' AND queue IS NOT NULL ORDER BY entered_at NULLS LAST, id
"""
_MEMBERS = """
SELECT node, queue, interface, member_name, membership, state, paused, reason, linkedid, calls_taken, since
  FROM member_states ORDER BY queue, member_name NULLS LAST, interface, node
"""


def _seconds(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, int((now - since).total_seconds()))


async def today_by_queue(conn: asyncpg.Connection, now: datetime) -> TodayFigures:
    """Today's call figures per queue (Shanghai day of ``now``). Today is never rolled up yet, so
    this counts the day's calls live: the costly part of a board on a busy day."""
    rows, _ = await call_kpis(conn, period_of("day", now.astimezone(TZ).date()), "queue")
    return {r.key.get("queue"): r.as_dict() for r in rows}


async def wallboard(
    conn: asyncpg.Connection, now: datetime, today: TodayFigures | None = None
) -> dict[str, Any]:
    """The board at ``now``; ``today`` as ``today_by_queue`` gave it a moment ago, or counted now."""
    waiting = await conn.fetch(_WAITING)
    members = await conn.fetch(_MEMBERS)
    if today is None:
        today = await today_by_queue(conn, now)
    names = sorted({r["queue"] for r in waiting} | {r["queue"] for r in members} | {q for q in today if q})
    queues = []
    for queue in names:
        calls = [
            {"node": r["node"], "linkedid": r["linkedid"], "since": r["entered_at"],
             "wait": _seconds(r["entered_at"], now), "incomplete": r["incomplete"]}
            for r in waiting if r["queue"] == queue
        ]  # fmt: skip
        people = [
            {"node": r["node"], "interface": r["interface"], "name": r["member_name"], "state": r["state"],
             "paused": r["paused"], "reason": r["reason"], "since": r["since"], "in_state": _seconds(r["since"], now),
             "linkedid": r["linkedid"], "calls_taken": r["calls_taken"]}
            for r in members if r["queue"] == queue
        ]  # fmt: skip
        by_state = dict.fromkeys(STATES, 0)
        for p in people:
            by_state[p["state"]] += 1
        figures = today.get(queue, {})
        queues.append({
            "queue": queue,
            "waiting": calls,
            "longest_wait": max((c["wait"] for c in calls if c["wait"] is not None), default=None),
            "members": people,
            "agents_by_state": by_state,
            "today": {k: figures.get(k, 0) for k in ("offered", "answered", "abandoned")}
            | {"service_level_15s": figures.get("service_level_15s")},
        })  # fmt: skip
    return {"at": now, "queues": queues}

"""An agent's day (话务员日报): signed-in time, busy time by reason, talk, ringing, wrap-up and ready
time, occupancy and calls taken, counted from the queue members' state changes (sql/026).

Counting rule
-------------
* **The agent** is the queue member's ``interface`` (``users.agent_interface`` names the user
  behind it). One agent may be a member of several queues, on several nodes.
* **A membership's timeline.** A change row starts a state that lasts until that membership's
  (node, queue, interface) next change; changes at the same instant apply in ``id`` order. The
  state at the day's start is the membership's last change before it (carried over); the last
  state lasts until the day's end, or until ``now`` when the day is today. Everything is clipped
  to the day, half-open ``[00:00, 24:00)`` Shanghai time, so a change at exactly midnight belongs
  to the day it starts.
* **The agent's state** at a moment is the highest of their memberships' states in the order
  in_call > ringing > wrapup > paused > ready > offline: talking in one queue while paused in
  another is talk, and a pause only counts as busy while nothing more pressing holds. A
  membership ``ready`` with the paused flag set counts as paused (the flag is the pause; the
  adapter may report the two apart). While several memberships are paused, the reason is that
  of the latest pause; a pause without a reason is counted under ``NO_REASON``.
* **Figures**, whole seconds: ``talk`` (in_call), ``ringing``, ``wrapup``, ``ready``, ``busy``
  per reason and ``busy_total`` their sum; ``signed_in`` = the sum of those (every moment the
  agent was not offline in all queues, counted once however many queues they are in), so the
  parts add up. ``occupancy`` = (talk + wrapup) / (signed_in − busy_total), rounded to 4
  places, ``None`` when the agent had no available time. ``calls`` = distinct linkedids the
  agent went in_call on that day (a call taken before midnight is counted on its own day, its
  talk after midnight on this one). An agent appears when signed in or on a call that day.
* **Which memberships.** Those with a change on the day, and those of ``member_states`` (the
  adapter keeps every member it has seen, one who left as offline). A membership offline since
  before the day (``member_states.since``) holds nothing that day and is not looked up; every
  other one costs one backward probe of ``member_state_changes (interface, at)`` for its carry-over.

The per-membership rows come from SQL in one snapshot (``session.reporting``); the merge of an
agent's memberships by precedence is a sweep over their changes in time order, in Python: at each
instant the agent's state is the top of their memberships' current states, which SQL would need a
self-join of every interval with every other to say.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any

import asyncpg

from hotline.figures.counting import rate
from hotline.figures.periods import midnight
from hotline.figures.session import reporting

# Lowest first: an agent's state is the highest of their memberships'.
PRECEDENCE = ("offline", "ready", "paused", "wrapup", "ringing", "in_call")
_RANK = {state: rank for rank, state in enumerate(PRECEDENCE)}
NO_REASON = "未注明"  # a pause the agent gave no reason for

# $1 the day's start, $2 where it stops (its end, or now). Day rows come by the (at) index; each
# membership's carry-over by one backward probe of (interface, at), its start moved to $1.
_CHANGES = """
WITH day_rows AS (
    SELECT id, node, queue, interface, member_name, state, paused, reason, linkedid, at
    FROM member_state_changes WHERE at >= $1 AND at < $2
), memberships AS (
    SELECT node, queue, interface FROM day_rows
    UNION
    SELECT node, queue, interface FROM member_states WHERE NOT (state = 'offline' AND since <= $1)
)
SELECT b.id, b.node, b.queue, b.interface, b.member_name, b.state, b.paused, b.reason, b.linkedid,
       $1::timestamptz AS at, true AS carried
FROM memberships m
CROSS JOIN LATERAL (
    SELECT c.* FROM member_state_changes c
    WHERE c.interface = m.interface AND c.at < $1 AND c.node = m.node AND c.queue = m.queue
    ORDER BY c.at DESC, c.id DESC LIMIT 1
) b
UNION ALL
SELECT id, node, queue, interface, member_name, state, paused, reason, linkedid, at, false FROM day_rows
ORDER BY interface, at, carried DESC, id
"""
_USERS = """
SELECT agent_interface, id, username, display_name FROM users WHERE agent_interface = ANY($1::text[])
"""


@dataclass
class AgentDay:
    interface: str
    member_name: str | None = None
    user_id: int | None = None
    username: str | None = None
    display_name: str | None = None
    busy: dict[str, int] = field(default_factory=dict)
    talk: int = 0
    ringing: int = 0
    wrapup: int = 0
    ready: int = 0
    calls: int = 0

    @property
    def busy_total(self) -> int:
        return sum(self.busy.values())

    @property
    def signed_in(self) -> int:
        return self.busy_total + self.talk + self.ringing + self.wrapup + self.ready

    @property
    def occupancy(self) -> float | None:
        return rate(self.talk + self.wrapup, self.signed_in - self.busy_total)

    def figures(self) -> dict[str, Any]:
        """The figures alone (what the total row has)."""
        return {
            "signed_in": self.signed_in,
            "busy": dict(sorted(self.busy.items())),
            "busy_total": self.busy_total,
            "talk": self.talk,
            "ringing": self.ringing,
            "wrapup": self.wrapup,
            "ready": self.ready,
            "occupancy": self.occupancy,
            "calls": self.calls,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "interface": self.interface,
            "member_name": self.member_name,
            "user_id": self.user_id,
            "username": self.username,
            "display_name": self.display_name,
            **self.figures(),
        }


@dataclass(frozen=True)
class _Held:
    """A membership's current state, as it counts toward the agent's."""

    state: str
    reason: str | None
    order: int  # change id: among memberships of equal state, the latest one's reason counts


async def agent_days(conn: asyncpg.Connection, day: date, now: datetime) -> list[AgentDay]:
    """Every agent's figures for the Shanghai ``day``, up to ``now`` if it is today (none for a
    day still to come), by interface."""
    start, end = midnight(day), midnight(day + timedelta(days=1))
    stop = min(end, now)
    if stop <= start:
        return []
    async with reporting(conn):
        changes = await conn.fetch(_CHANGES, start, stop)
        days = [d for _, rows in groupby(changes, key=lambda r: r["interface"]) if (d := _day(list(rows), stop))]
        users = await conn.fetch(_USERS, [d.interface for d in days])
    by_interface = {u["agent_interface"]: u for u in users}
    for d in days:
        if (user := by_interface.get(d.interface)) is not None:
            d.user_id, d.username, d.display_name = user["id"], user["username"], user["display_name"]
    return days


def total_of(days: Iterable[AgentDay]) -> AgentDay:
    """The sums over the agents (a call two agents shared counts for each); occupancy of the sums."""
    total = AgentDay(interface="")
    for d in days:
        for reason, seconds in d.busy.items():
            total.busy[reason] = total.busy.get(reason, 0) + seconds
        total.talk += d.talk
        total.ringing += d.ringing
        total.wrapup += d.wrapup
        total.ready += d.ready
        total.calls += d.calls
    return total


def _day(changes: Sequence[asyncpg.Record], stop: datetime) -> AgentDay | None:
    """One agent's figures from their changes in time order (carry-overs first, at the start);
    None when they were neither signed in nor on a call."""
    spent = _sweep(changes, stop)
    calls = {c["linkedid"] for c in changes if c["state"] == "in_call" and c["linkedid"] and not c["carried"]}
    if not calls and not any(state != "offline" and t > timedelta(0) for (state, _), t in spent.items()):
        return None
    seconds = {key: round(t.total_seconds()) for key, t in spent.items()}
    busy: dict[str, int] = defaultdict(int)
    for (state, reason), s in seconds.items():
        if state == "paused" and s:
            busy[reason or NO_REASON] += s
    names = [c["member_name"] for c in changes if c["member_name"]]
    return AgentDay(
        interface=changes[0]["interface"],
        member_name=names[-1] if names else None,
        busy=dict(busy),
        talk=seconds.get(("in_call", None), 0),
        ringing=seconds.get(("ringing", None), 0),
        wrapup=seconds.get(("wrapup", None), 0),
        ready=seconds.get(("ready", None), 0),
        calls=len(calls),
    )


def _sweep(changes: Sequence[asyncpg.Record], stop: datetime) -> dict[tuple[str, str | None], timedelta]:
    """Time spent per (agent state, pause reason): between one instant with changes and the next,
    the agent is in the top state of their memberships as those changes left them."""
    held: dict[tuple[str, str], _Held] = {}  # (node, queue) → its current state
    spent: dict[tuple[str, str | None], timedelta] = defaultdict(timedelta)
    clock = changes[0]["at"]
    for at, together in groupby(changes, key=lambda r: r["at"]):
        _spend(spent, held, at - clock)
        for c in together:
            held[(c["node"], c["queue"])] = _held(c)
        clock = at
    _spend(spent, held, stop - clock)
    return spent


def _held(change: asyncpg.Record) -> _Held:
    state = "paused" if change["state"] == "ready" and change["paused"] else change["state"]
    return _Held(state, change["reason"] if state == "paused" else None, change["id"])


def _spend(spent: dict[tuple[str, str | None], timedelta], held: dict[tuple[str, str], _Held], t: timedelta) -> None:
    """``t`` more of the agent's state now: the top of their memberships'."""
    if t <= timedelta(0) or not held:
        return
    top = max(held.values(), key=lambda h: (_RANK[h.state], h.order))
    spent[(top.state, top.reason)] += t

"""Call-centre KPIs from the call records (DESIGN.md §6), per queue, agent or hour of day.

They count per *segment* (the ``call_segments`` view, sql/012_cel.sql): a call the CEL pass
has finalized counts once in each queue it waited in, answered there by the agent who took it
there, its hold measured from that queue's own join and its talk time from that agent's own
leg; so a transferred call is offered to both queues and answered by both agents. A call only
AMI has seen so far counts as its one row. (Before, a transfer counted once, under the last
queue and agent only, with the first queue's wait.)

A segment counts in the period it entered its queue (``entered_at``). offered = segments;
answered / abandoned by outcome; 接通率 answer rate = answered / offered; service
level = answered within 15 s (and 20 s) of hold / offered (GB/T 33358-2016 asks for 15 s);
ASA = average hold of answered calls; AHT = average talk time of answered calls (the AMI
records no wrap-up time, so AHT here is talk time only).

Grouped by agent, a call belongs to the agent who answered it: calls no agent took
(abandoned, still queued) form one row with no agent, so the rows add up to the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from hotline.figures.counting import rate
from hotline.figures.periods import TZ_NAME, Period
from hotline.figures.session import reporting

CallsBy = Literal["queue", "agent", "hour"]
SERVICE_LEVEL_SECONDS = (15, 20)

# Two steps: partial sums per key in the period (``_INNER``), then the rows and the total from
# them. For hours the first step groups by the hour as an instant (cheap) and only its ~720
# buckets a month are turned into Shanghai clock hours: converting every call's time zone cost
# more than the rest of the query. Buckets start on whole hours; Shanghai's offset is whole hours.
_INNER_KEYS: dict[str, tuple[str, ...]] = {
    "queue": ("c.queue",),
    "agent": ("c.agent_user_id", "CASE WHEN c.agent_user_id IS NULL THEN c.agent_name END"),
    "hour": ("date_bin('1 hour', c.entered_at, TIMESTAMPTZ '2000-01-01 00:00+08')",),
}
_OUTER_KEYS: dict[str, tuple[str, ...]] = {
    "queue": ("k1 AS queue",),
    "agent": ("k1 AS agent_user_id", "k2 AS agent_name"),
    "hour": (f"extract(hour FROM k1 AT TIME ZONE '{TZ_NAME}')::int AS hour",),
}
_KEY_NAMES: dict[str, tuple[str, ...]] = {"queue": ("queue",), "agent": ("agent_user_id", "agent_name"),
                                          "hour": ("hour",)}  # fmt: skip

_INNER = """
SELECT {keys}, count(*) AS offered,
       count(*) FILTER (WHERE c.outcome = 'answered') AS answered,
       count(*) FILTER (WHERE c.outcome = 'abandoned') AS abandoned,
       count(*) FILTER (WHERE c.outcome = 'answered' AND c.hold_time <= 15) AS within_15,
       count(*) FILTER (WHERE c.outcome = 'answered' AND c.hold_time <= 20) AS within_20,
       sum(c.hold_time) FILTER (WHERE c.outcome = 'answered') AS hold_sum,
       count(c.hold_time) FILTER (WHERE c.outcome = 'answered') AS hold_n,
       sum(c.talk_time) FILTER (WHERE c.outcome = 'answered') AS talk_sum,
       count(c.talk_time) FILTER (WHERE c.outcome = 'answered') AS talk_n
FROM call_segments c WHERE c.entered_at >= $1 AND c.entered_at < $2
GROUP BY {positions}
"""
_OUTER = """
SELECT {names}, GROUPING({names}) > 0 AS is_total,
       coalesce(sum(offered), 0)::int AS offered, coalesce(sum(answered), 0)::int AS answered,
       coalesce(sum(abandoned), 0)::int AS abandoned, coalesce(sum(within_15), 0)::int AS answered_within_15s,
       coalesce(sum(within_20), 0)::int AS answered_within_20s,
       round(sum(hold_sum)::numeric / nullif(sum(hold_n), 0), 1)::float AS asa_seconds,
       round(sum(talk_sum)::numeric / nullif(sum(talk_n), 0), 1)::float AS aht_seconds
FROM (SELECT {outer_keys}, p.* FROM ({inner}) p) k
GROUP BY GROUPING SETS (({names}), ())
"""


def _sql(by: CallsBy) -> str:
    inner_keys = _INNER_KEYS[by]
    keys = ", ".join(f"{expr} AS k{n}" for n, expr in enumerate(inner_keys, 1))
    positions = ", ".join(str(n) for n in range(1, len(inner_keys) + 1))
    inner = _INNER.format(keys=keys, positions=positions)
    return _OUTER.format(names=", ".join(_KEY_NAMES[by]), outer_keys=", ".join(_OUTER_KEYS[by]), inner=inner)


@dataclass
class CallRow:
    key: dict[str, Any]  # queue / agent_user_id + agent_name / hour; empty for the total
    name: str
    counts: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            **self.key,
            "name": self.name,
            **c,
            "answer_rate": rate(c["answered"], c["offered"]),
            "service_level_15s": rate(c["answered_within_15s"], c["offered"]),
            "service_level_20s": rate(c["answered_within_20s"], c["offered"]),
        }


_EMPTY = {"offered": 0, "answered": 0, "abandoned": 0, "answered_within_15s": 0, "answered_within_20s": 0,
          "asa_seconds": None, "aht_seconds": None}  # fmt: skip


async def call_kpis(conn: asyncpg.Connection, period: Period, by: CallsBy = "queue") -> tuple[list[CallRow], CallRow]:
    """(rows, total). By hour every hour 0–23 is present; by agent the names come from users."""
    async with reporting(conn):
        records = await conn.fetch(_sql(by), period.start, period.end)
    total = CallRow({}, "合计", dict(_EMPTY))
    rows: list[CallRow] = []
    for r in records:
        counts = {k: r[k] for k in _EMPTY}
        if r["is_total"]:
            total.counts = counts
        else:
            key = {k: r[k] for k in _KEY_NAMES[by]}
            rows.append(CallRow(key, "", counts))
    if by == "hour":
        rows = _every_hour(rows)
    elif by == "agent":
        await _name_agents(conn, rows)
    else:
        for row in rows:
            row.name = row.key["queue"] or "（无队列）"
    rows.sort(key=_order(by))
    return rows, total


def _every_hour(rows: list[CallRow]) -> list[CallRow]:
    by_hour = {row.key["hour"]: row for row in rows}
    every = [by_hour.get(h) or CallRow({"hour": h}, "", dict(_EMPTY)) for h in range(24)]
    for row in every:
        row.name = f"{row.key['hour']:02d}:00"
    return every


async def _name_agents(conn: asyncpg.Connection, rows: list[CallRow]) -> None:
    """The user's display name; else the queue member's name; else the row of calls no agent took."""
    ids = [row.key["agent_user_id"] for row in rows if row.key["agent_user_id"] is not None]
    users = await conn.fetch("SELECT id, display_name, username FROM users WHERE id = ANY($1::bigint[])", ids)
    by_id = {u["id"]: u for u in users}
    for row in rows:
        user = by_id.get(row.key["agent_user_id"])
        row.key["username"] = user["username"] if user else None
        row.name = user["display_name"] if user else row.key["agent_name"] or "（未接通）"


def _order(by: CallsBy) -> Any:
    if by == "hour":
        return lambda row: row.key["hour"]
    # Busiest first; the no-agent / no-queue row last.
    return lambda row: (all(v is None for v in row.key.values()), -row.counts["offered"], row.name)

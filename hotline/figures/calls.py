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

A period's partial sums come from the daily rollup for its clean days (``figures_day_calls``,
sql/033, built with the figures rollup) and are counted live for the rest, so a month costs
about the same at any size; the rows are the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import asyncpg

from hotline.figures.clean import clean_days, live_runs
from hotline.figures.counting import rate
from hotline.figures.periods import TZ_NAME, Period, period_of
from hotline.figures.session import reporting

CallsBy = Literal["queue", "agent", "hour"]
BYS: tuple[CallsBy, ...] = ("queue", "agent", "hour")
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
FROM call_segments c WHERE c.entered_at >= {start} AND c.entered_at < {end}
GROUP BY {positions}
"""
_SUMS = "offered, answered, abandoned, within_15, within_20, hold_sum, hold_n, talk_sum, talk_n"
# The rollup's keys as the live query types them (an hour is kept as its start in epoch seconds).
_ROLLED_KEYS: dict[str, tuple[str, ...]] = {
    "queue": ("k1",), "agent": ("k1::bigint", "k2"), "hour": ("to_timestamp(k1::bigint)",),
}  # fmt: skip
_STORED_KEYS: dict[str, tuple[str, ...]] = {"queue": ("k1", "NULL"), "agent": ("k1::text", "k2"),
                                            "hour": ("extract(epoch FROM k1)::bigint::text", "NULL")}  # fmt: skip
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


def _live_sql(by: CallsBy, start: str, end: str) -> str:
    """The partial sums of ``[start, end)`` (parameter references) counted from the segments."""
    inner_keys = _INNER_KEYS[by]
    keys = ", ".join(f"{expr} AS k{n}" for n, expr in enumerate(inner_keys, 1))
    positions = ", ".join(str(n) for n in range(1, len(inner_keys) + 1))
    return _INNER.format(keys=keys, positions=positions, start=start, end=end)


def _rolled_sql(by: CallsBy, days: str) -> str:
    """The partial sums of the clean ``days`` (a parameter reference), read from the rollup."""
    keys = ", ".join(f"{expr} AS k{n}" for n, expr in enumerate(_ROLLED_KEYS[by], 1))
    return f"SELECT {keys}, {_SUMS} FROM figures_day_calls WHERE grp = '{by}' AND day = ANY ({days}::date[])"


def _sql(by: CallsBy, inner: str) -> str:
    return _OUTER.format(names=", ".join(_KEY_NAMES[by]), outer_keys=", ".join(_OUTER_KEYS[by]), inner=inner)


async def count_calls_day(conn: asyncpg.Connection, day: date) -> None:
    """Count one day's partial sums into the rollup (inside the figures rollup's build of the day)."""
    period = period_of("day", day)
    await conn.execute("DELETE FROM figures_day_calls WHERE day = $1", day)
    for by in BYS:
        k1, k2 = _STORED_KEYS[by]
        await conn.execute(
            f"""INSERT INTO figures_day_calls (day, grp, k1, k2, {_SUMS})
                SELECT $3::date, '{by}', {k1}, {k2}, {_SUMS} FROM ({_live_sql(by, "$1", "$2")}) p""",
            period.start,
            period.end,
            day,
        )


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
        clean = await clean_days(conn, period)
        parts, args = [], []
        if clean:
            args.append(clean)
            parts.append(_rolled_sql(by, "$1"))
        for run in live_runs(period, clean):
            args += [run.start, run.end]
            parts.append(_live_sql(by, f"${len(args) - 1}", f"${len(args)}"))
        records = await conn.fetch(_sql(by, " UNION ALL ".join(parts)), *args)
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

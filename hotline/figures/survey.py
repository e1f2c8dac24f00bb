"""End-of-call survey figures (按键评价) per agent, queue or day, beside the return visit's verdict.

A call counts in the period it entered its queue, once its survey played (``survey_at``). Its
key is read on the deployment's scale (``HOTLINE_SURVEY_SCALE``, default 1 满意, 2 基本满意,
3 不满意 — the prompt of most 12345 centres and the one our SMS survey uses); a key off the scale
is counted as ``off_scale``, nothing pressed as ``asked`` only. Beside it, the return visit
(回访) of the orders taken on the call: its latest reached visit's verdict, so a supervisor sees
where the citizen's word at the phone and at the visit part.
"""

from __future__ import annotations

from typing import Any, Literal

import asyncpg

from hotline.figures.counting import rate
from hotline.figures.periods import TZ_NAME, Period
from hotline.figures.session import reporting

SurveyBy = Literal["agent", "queue", "day"]
Verdict = Literal["satisfied", "basically_satisfied", "unsatisfied"]
DEFAULT_SCALE: dict[str, Verdict] = {"1": "satisfied", "2": "basically_satisfied", "3": "unsatisfied"}
_KEYS: dict[str, str] = {
    "agent": "c.agent_user_id::text",
    "queue": "c.queue",
    "day": f"((c.entered_at AT TIME ZONE '{TZ_NAME}')::date)::text",
}
COUNTS = ("asked", "answered", "satisfied", "basically_satisfied", "unsatisfied", "off_scale", "visited",
          "visit_satisfied")  # fmt: skip

_SQL = """
WITH surveyed AS (
    SELECT {key} AS key, c.survey_digit AS digit,
           (SELECT v.satisfaction FROM work_orders o JOIN visits v ON v.order_id = o.id AND v.reached
             WHERE o.call_id = c.id ORDER BY v.id DESC LIMIT 1) AS visit
    FROM calls c
    WHERE c.survey_at IS NOT NULL AND c.entered_at >= $1 AND c.entered_at < $2
)
SELECT key, GROUPING(key) = 1 AS is_total, count(*) AS asked, count(digit) AS answered,
       count(*) FILTER (WHERE digit = ANY ($3::text[])) AS satisfied,
       count(*) FILTER (WHERE digit = ANY ($4::text[])) AS basically_satisfied,
       count(*) FILTER (WHERE digit = ANY ($5::text[])) AS unsatisfied,
       count(*) FILTER (WHERE digit IS NOT NULL AND NOT digit = ANY ($3::text[] || $4::text[] || $5::text[]))
           AS off_scale,
       count(visit) AS visited,
       count(*) FILTER (WHERE visit IN ('satisfied', 'basically_satisfied')) AS visit_satisfied
FROM surveyed GROUP BY GROUPING SETS ((key), ()) ORDER BY GROUPING(key), key
"""


def parse_scale(text: str) -> dict[str, Verdict]:
    """``1=satisfied,2=basically_satisfied,3=unsatisfied`` → key → verdict (ValueError when bad)."""
    scale: dict[str, Verdict] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, _, verdict = part.partition("=")
        if len(key) != 1 or key not in "0123456789*#" or verdict not in ("satisfied", "basically_satisfied",
                                                                          "unsatisfied"):  # fmt: skip
            raise ValueError(f"a survey scale entry is KEY=satisfied|basically_satisfied|unsatisfied, not {part!r}")
        scale[key] = verdict  # type: ignore[assignment]
    if not scale:
        raise ValueError("the survey scale is empty")
    return scale


async def survey_figures(
    conn: asyncpg.Connection, period: Period, by: SurveyBy, scale: dict[str, Verdict] = DEFAULT_SCALE
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(rows, total): per key the counts, 满意率 over answered and the visits' 满意率 beside it."""
    keys = {v: [k for k, verdict in scale.items() if verdict == v] for v in ("satisfied", "basically_satisfied",
                                                                          "unsatisfied")}  # fmt: skip
    async with reporting(conn):
        found = await conn.fetch(
            _SQL.format(key=_KEYS[by]), period.start, period.end,
            keys["satisfied"], keys["basically_satisfied"], keys["unsatisfied"],
        )  # fmt: skip
    rows, total = [], _row(None, {})
    for r in found:
        row = _row(r["key"], r)
        if r["is_total"]:
            total = row
        else:
            rows.append(row)
    return rows, total


def _row(key: str | None, r: Any) -> dict[str, Any]:
    counts = {name: int(r[name]) for name in COUNTS} if r else dict.fromkeys(COUNTS, 0)
    on_scale = counts["satisfied"] + counts["basically_satisfied"] + counts["unsatisfied"]
    return {
        "key": key,
        **counts,
        "satisfaction_rate": rate(counts["satisfied"] + counts["basically_satisfied"], on_scale),
        "visit_satisfaction_rate": rate(counts["visit_satisfied"], counts["visited"]),
    }

"""Which days of a period the rollups may answer (clean: built, nothing changed since), and the
runs of days that must be counted live."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import asyncpg

from hotline.figures.periods import Period


async def clean_days(conn: asyncpg.Connection, period: Period) -> list[date]:
    """The period's days whose rollup equals the base tables in this snapshot."""
    rows = await conn.fetch(
        "SELECT day FROM figures_rollup_days WHERE day BETWEEN $1 AND $2 AND built_changes = changes ORDER BY day",
        period.first,
        period.last,
    )
    return [r["day"] for r in rows]


def live_runs(period: Period, clean: list[date]) -> Iterator[Period]:
    """The maximal runs of the period's days that are not clean, each as a period of its own."""
    done, start = set(clean), None
    for day in period.each_day():
        if day in done:
            if start is not None:
                yield Period(start, day - timedelta(days=1))
                start = None
        elif start is None:
            start = day
    if start is not None:
        yield Period(start, period.last)

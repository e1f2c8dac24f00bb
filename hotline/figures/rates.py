"""The figures table (counts and rates per group over a period) and one metric's daily trend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg

from hotline.figures import rollups
from hotline.figures.counting import (
    ASSIGNMENT_COUNTS,
    COUNTS,
    DEFAULT_RESPONSE_LIMIT,
    NULL_KEY,
    ORDER_COUNTS,
    RATES,
    Grouping,
    GroupName,
    Level,
    count_for,
    counted_args,
    counted_sql,
    grouping,
    rate,
    received_sql,
)
from hotline.figures.periods import TZ_NAME, Period
from hotline.figures.session import reporting


@dataclass
class FigureRow:
    key: str | None  # unit id, division code or category code; None: orders with no such place/topic
    code: str | None  # unit code, division code or category code
    name: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))

    @property
    def rates(self) -> dict[str, float | None]:
        return {name: rate(self.counts[n], self.counts[d]) for name, (n, d) in RATES.items()}

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "code": self.code, "name": self.name, **self.counts, **self.rates}


@dataclass
class FiguresTable:
    group: GroupName
    period: Period
    rows: list[FigureRow]
    total: FigureRow

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "period": self.period.as_dict(),
            "rows": [r.as_dict() for r in self.rows],
            "total": self.total.as_dict(),
        }


async def figures(
    conn: asyncpg.Connection,
    period: Period,
    group: GroupName = "unit",
    *,
    level: Level | None = None,
    category_depth: int = 1,
    response_limit: timedelta = DEFAULT_RESPONSE_LIMIT,
) -> FiguresTable:
    """Counts and rates per group, every group of the kind listed (zeros for the quiet ones), plus a total."""
    g = grouping(group, category_depth)
    total = FigureRow(None, None, "合计")
    async with reporting(conn):
        rows = {key: FigureRow(key, code, name) for key, code, name in await _universe(conn, g, level)}
        listed = len(rows)

        def add(found: list[asyncpg.Record], names: dict[str, str]) -> None:
            for r in found:
                target = total if r["is_total"] else _row(rows, r["key"])
                for name in names:
                    target.counts[name] += r[name]

        # Clean days from the rollup, the rest (recent or changed days) counted live; the rollup
        # holds the default response limit only, so another limit is counted live throughout.
        clean = await rollups.clean_days(conn, period) if response_limit == DEFAULT_RESPONSE_LIMIT else []
        if clean:
            add(await rollups.assignment_counts(conn, group, category_depth, clean, level), ASSIGNMENT_COUNTS)
            add(await rollups.order_counts(conn, group, category_depth, clean), ORDER_COUNTS)
        for run in rollups.live_runs(period, clean):
            add(await _assignment_counts(conn, g, run, response_limit, level), ASSIGNMENT_COUNTS)
            add(await _order_counts(conn, g, run), ORDER_COUNTS)
        await _name_strays(conn, g, rows)
    # Rows outside the listed groups follow them in key order (no place / topic last), however
    # the counts arrived (rollup days first, live days after).
    ordered = list(rows.values())
    ordered[listed:] = sorted(ordered[listed:], key=lambda r: (r.key is None, r.key or ""))
    return FiguresTable(group, period, ordered, total)


def _row(rows: dict[str | None, FigureRow], key: str | None) -> FigureRow:
    # A key outside the listed groups (an inactive unit, a city-level place, no place): its own row.
    if key not in rows:
        rows[key] = FigureRow(key, key, "" if key is not None else "（未定）")
    return rows[key]


async def _assignment_counts(
    conn: asyncpg.Connection, g: Grouping, period: Period, response_limit: timedelta, level: Level | None
) -> list[asyncpg.Record]:
    cols = ", ".join(f"count(*) FILTER (WHERE {col}) AS {name}" for name, col in ASSIGNMENT_COUNTS.items())
    return await conn.fetch(
        f"""WITH counted AS ({counted_sql(g)})
            SELECT key, GROUPING(key) = 1 AS is_total, {cols}
            FROM counted GROUP BY GROUPING SETS ((key), ())""",
        *counted_args(period, response_limit, level),
    )


async def _order_counts(conn: asyncpg.Connection, g: Grouping, period: Period) -> list[asyncpg.Record]:
    cols = ", ".join(f"count(*) FILTER (WHERE {name}) AS {name}" for name in ORDER_COUNTS)
    if g.order_key_sql is None:
        # Orders have no unit: grouped by unit, only the total row gets order-level counts.
        select, group_by = "NULL::text AS key, true AS is_total", ""
    else:
        select, group_by = "key, GROUPING(key) = 1 AS is_total", "GROUP BY GROUPING SETS ((key), ())"
    return await conn.fetch(
        f"WITH received AS ({received_sql(g)}) SELECT {select}, {cols} FROM received {group_by}",
        period.start,
        period.end,
    )


async def _universe(conn: asyncpg.Connection, g: Grouping, level: Level | None) -> list[tuple[str, str, str]]:
    """Every group of the kind, in display order, so a group with nothing still shows."""
    if g.name == "unit":
        rows = await conn.fetch(
            """SELECT id::text AS key, code, name FROM units
               WHERE active AND ($1::text IS NULL OR level = $1::text)
               ORDER BY array_position(ARRAY['city', 'district', 'street'], level), code""",
            level,
        )
    elif g.name == "category":
        rows = await conn.fetch(
            "SELECT code AS key, code, name FROM categories WHERE active AND depth = $1 ORDER BY code",
            g.category_depth,
        )
    else:
        rows = await conn.fetch("SELECT code AS key, code, name FROM divisions WHERE level = $1 ORDER BY code", g.name)
    return [(r["key"], r["code"], r["name"]) for r in rows]


async def _name_strays(conn: asyncpg.Connection, g: Grouping, rows: dict[str | None, FigureRow]) -> None:
    """Names for rows outside the listed groups (e.g. an inactive unit, the city itself)."""
    strays = [r for r in rows.values() if r.key is not None and not r.name]
    if not strays:
        return
    keys = [r.key for r in strays]
    if g.name == "unit":
        found = await conn.fetch("SELECT id::text AS key, code, name FROM units WHERE id::text = ANY($1)", keys)
    elif g.name == "category":
        found = await conn.fetch("SELECT code AS key, code, name FROM categories WHERE code = ANY($1)", keys)
    else:
        found = await conn.fetch("SELECT code AS key, code, name FROM divisions WHERE code = ANY($1)", keys)
    by_key = {r["key"]: r for r in found}
    for row in strays:
        if row.key in by_key:
            row.code, row.name = by_key[row.key]["code"], by_key[row.key]["name"]


@dataclass(frozen=True)
class TrendPoint:
    day: date
    numerator: int
    denominator: int
    value: float | int | None

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "numerator": self.numerator, "denominator": self.denominator,
                "value": self.value}  # fmt: skip


async def trend(
    conn: asyncpg.Connection,
    metric: str,
    period: Period,
    group: GroupName = "unit",
    key: str | None = None,
    *,
    level: Level | None = None,
    category_depth: int = 1,
    response_limit: timedelta = DEFAULT_RESPONSE_LIMIT,
) -> list[TrendPoint]:
    """One metric per Shanghai day, every day of ``period`` present (0 / None on empty days).

    ``key`` narrows to one group (all groups when None; ``NULL_KEY`` for the no-place row).
    A count metric's value is the count; a rate's is numerator / denominator."""
    g = grouping(group, category_depth)
    numerator, denominator = count_for(metric, "numerator"), count_for(metric, "denominator")
    if numerator in ORDER_COUNTS:
        base, args = received_sql(g), [period.start, period.end]
        day_at, num, den = "created_at", numerator, denominator
    else:
        base, args = counted_sql(g), counted_args(period, response_limit, level)
        day_at, num, den = "counted_at", ASSIGNMENT_COUNTS[numerator], ASSIGNMENT_COUNTS[denominator]
    if key is not None and numerator in ORDER_COUNTS and g.order_key_sql is None:
        raise ValueError("orders have no unit: order-level counts exist only for the total")
    where = "true"
    if key == NULL_KEY:
        where = "key IS NULL"
    elif key is not None:
        args.append(key)
        where = f"key = ${len(args)}"
    by_day: dict[date, tuple[int, int]] = {}
    async with reporting(conn):
        clean = await rollups.clean_days(conn, period) if response_limit == DEFAULT_RESPONSE_LIMIT else []
        if clean:
            by_day.update(await rollups.trend_counts(
                conn, group, category_depth, clean, level, (numerator, denominator), key, key == NULL_KEY
            ))  # fmt: skip
        for run in rollups.live_runs(period, clean):
            # The live SQL's first two parameters are the period's bounds: narrowed to the run.
            rows = await conn.fetch(
                f"""WITH base AS ({base})
                    SELECT ({day_at} AT TIME ZONE '{TZ_NAME}')::date AS day,
                           count(*) FILTER (WHERE {num}) AS numerator, count(*) FILTER (WHERE {den}) AS denominator
                    FROM base WHERE {where} GROUP BY 1""",
                run.start,
                run.end,
                *args[2:],
            )
            by_day.update({r["day"]: (r["numerator"], r["denominator"]) for r in rows})
    points = []
    for day in period.each_day():
        n, d = by_day.get(day, (0, 0))
        points.append(TrendPoint(day, n, d, rate(n, d) if metric in RATES else n))
    return points

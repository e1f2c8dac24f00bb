"""Supervisor figures at scale: the monthly reply-rate-per-unit table and the call-centre KPIs,
each beside a bare ``count(*)`` over the same rows and period, measured in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/figures.py [--orders-per-month 167000] [--years 1] [--calls-per-order 1.2] [--keep]

A scratch database of a new name (``hotline_bench_figures_<random>``) is created on
DATABASE_URL's server, migrated, seeded with the 徐州 demo data and loaded with
``--orders-per-month`` work orders a month over ``--years`` years ending 2026-10-31 (Shanghai),
so the measured month (``--month``, by default 2026-10, the history's last) holds the same orders whatever the
history's length (``--years 0.125`` is that month and the orders due in it); their lead assignments (about 1 in 10 dispatched to a
district hub that re-dispatched it to a street), visits of most replies and the calls they
came from, all with ``INSERT … SELECT FROM generate_series`` so loading takes minutes. Then
``VACUUM ANALYZE`` and the timings: each query runs once to warm the cache, then ``--runs``
times; the median is printed with its ratio to the baseline, and the last line is JSON (label ->
milliseconds). Dropped at the end unless --keep (which prints its name); ``--reuse NAME`` measures a
kept database again without loading or dropping it. Only a database this run created is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline import db  # noqa: E402
from hotline.cli import DEFAULT_DIVISIONS  # noqa: E402
from hotline.figures import call_kpis, drill_down, figures, midnight, period_of, trend  # noqa: E402
from hotline.figures.counting import DEFAULT_RESPONSE_LIMIT, PERIOD_AT  # noqa: E402
from hotline.figures.rollups import build_day, due_days  # noqa: E402
from hotline.seed import seed_demo  # noqa: E402

HISTORY_END = midnight(date(2026, 11, 1))
RESULTS: dict[str, float] = {}

# Orders: created evenly over the year; 15 % answered directly, the rest dispatched.
LOAD_ORDERS = """
INSERT INTO work_orders (number, kind, category_code, content, division_code, status, close_reason, created_at,
                         updated_at)
SELECT to_char(t.at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-' || lpad((g % 1000000)::text, 6, '0'),
       (ARRAY['consult', 'help', 'complaint', 'report', 'suggestion'])[1 + g % 5],
       ($3::text[])[1 + (g * 7) % cardinality($3::text[])], 'benchmark order',
       ($4::text[])[1 + (g * 13) % cardinality($4::text[])],
       CASE WHEN g % 20 < 3 THEN 'closed' ELSE 'dispatched' END,
       CASE WHEN g % 20 < 3 THEN 'resolved_directly' END,
       t.at, t.at
FROM generate_series(1, $1::int) g,
     LATERAL (SELECT $2::timestamptz + (g::float8 / $1) * $5::interval AS at) t
"""

# One lead per dispatched order: sign due in 2 h, reply due in 10 days; most on time, some late,
# some never; 3 % returned. Units drawn from every unit except the centre.
LOAD_ASSIGNMENTS = """
INSERT INTO assignments (order_id, unit_id, level, role, status, dispatched_at, sign_due_at, signed_at, reply_due_at,
                         replied_at, returned_at, first_contact_at, created_at, updated_at)
SELECT o.id, u.id, u.level, 'lead',
       CASE WHEN r.ret THEN 'returned' WHEN r.reply IS NOT NULL THEN 'done' ELSE 'signed' END,
       o.created_at + interval '30 minutes', o.created_at + interval '150 minutes',
       o.created_at + interval '30 minutes' + r.sign,
       o.created_at + interval '10 days 30 minutes',
       CASE WHEN NOT r.ret THEN o.created_at + r.reply END,
       CASE WHEN r.ret THEN o.created_at + interval '2 hours' END,
       o.created_at + r.contact, o.created_at, o.created_at
FROM work_orders o
JOIN LATERAL (SELECT ($1::bigint[])[1 + (o.id * 7919) % cardinality($1::bigint[])] AS unit_id) pick ON true
JOIN units u ON u.id = pick.unit_id
CROSS JOIN LATERAL (
    SELECT o.id % 33 = 0 AS ret,
           random() * interval '3 hours' AS sign,
           CASE WHEN o.id % 10 = 0 THEN NULL ELSE random() * interval '12 days' END AS reply,
           CASE WHEN o.id % 4 = 0 THEN NULL ELSE random() * interval '40 hours' END AS contact
) r
WHERE o.status = 'dispatched'
"""

# Half of the hubs' assignments were re-dispatched to a street under the hub.
LOAD_CHILDREN = """
WITH parents AS (
    SELECT a.*, (SELECT s.id FROM units s WHERE s.parent_id = a.unit_id AND s.kind = 'office'
                 ORDER BY s.id LIMIT 1) AS street_id
    FROM assignments a JOIN units h ON h.id = a.unit_id AND h.kind = 'hub'
    WHERE a.id % 2 = 0
)
INSERT INTO assignments (order_id, unit_id, parent_id, dispatcher_unit_id, level, role, status, dispatched_at,
                         sign_due_at, signed_at, reply_due_at, replied_at, returned_at, first_contact_at)
SELECT p.order_id, p.street_id, p.id, p.unit_id, 'street', 'lead', p.status, p.dispatched_at + interval '1 hour',
       p.sign_due_at + interval '1 hour', p.signed_at + interval '1 hour', p.reply_due_at - interval '1 day',
       p.replied_at, p.returned_at, p.first_contact_at
FROM parents p WHERE p.street_id IS NOT NULL
"""

# Visits: 80 % of the centre's replied assignments reached, verdicts spread over the three.
LOAD_VISITS = """
INSERT INTO visits (order_id, assignment_id, unit_id, attempt, reached, satisfaction, resolved, created_at)
SELECT a.order_id, a.id, a.unit_id, 1, true,
       (ARRAY['satisfied', 'satisfied', 'basically_satisfied', 'unsatisfied'])[1 + a.id % 4],
       a.id % 5 <> 0, a.replied_at + interval '1 day'
FROM assignments a
WHERE a.parent_id IS NULL AND a.replied_at IS NOT NULL AND a.id % 5 <> 1
"""

# Calls spread over the same year; 88 % answered by one of the four demo agents (or a member
# with no user), hold times 0..59 s.
LOAD_CALLS = """
INSERT INTO calls (node, linkedid, queue, state, outcome, entered_at, answered_at, ended_at, hold_time, talk_time,
                   agent_user_id, agent_name)
SELECT 'pbx1', 'bench-' || g, (ARRAY['12345', '12345', '12345', 'vip', 'en'])[1 + g % 5], 'ended',
       CASE WHEN g % 25 < 3 THEN 'abandoned' ELSE 'answered' END,
       t.at, CASE WHEN g % 25 >= 3 THEN t.at + make_interval(secs => g % 60) END,
       t.at + make_interval(secs => g % 60 + 180), g % 60,
       CASE WHEN g % 25 >= 3 THEN 60 + g % 600 END,
       CASE WHEN g % 25 >= 3 AND g % 9 <> 0 THEN ($3::bigint[])[1 + g % cardinality($3::bigint[])] END,
       CASE WHEN g % 25 >= 3 AND g % 9 = 0 THEN 'Agent 9' || (g % 7) END
FROM generate_series(1, $1::int) g,
     LATERAL (SELECT $2::timestamptz + (g::float8 / $1) * $4::interval AS at) t
"""


async def load(conn: asyncpg.Connection, orders: int, calls: int, years: float) -> None:
    categories = [r["code"] for r in await conn.fetch("SELECT code FROM categories ORDER BY code")]
    streets = [r["code"] for r in await conn.fetch("SELECT code FROM divisions WHERE level = 'street' ORDER BY code")]
    units = [r["id"] for r in await conn.fetch("SELECT id FROM units WHERE kind <> 'centre' ORDER BY id")]
    agents = [r["id"] for r in await conn.fetch("SELECT id FROM users WHERE role = 'agent' ORDER BY id")]
    span = timedelta(days=round(365 * years))
    start = HISTORY_END - span
    await step(conn, "orders", LOAD_ORDERS, orders, start, categories, streets, span)
    await step(conn, "assignments", LOAD_ASSIGNMENTS, units)
    await step(conn, "re-dispatched to streets", LOAD_CHILDREN)
    await step(conn, "visits", LOAD_VISITS)
    await step(conn, "calls", LOAD_CALLS, calls, start, agents, span)
    t = time.perf_counter()
    await conn.execute("VACUUM ANALYZE")
    print(f"  vacuum analyze {time.perf_counter() - t:8.1f} s", flush=True)


async def build_rollup(conn: asyncpg.Connection) -> None:
    """What the rollup worker does over time, at once: every settled day of the history."""
    t, built = time.perf_counter(), 0
    while days := await due_days(conn, HISTORY_END.date(), 1000):
        for day in days:
            built += await build_day(conn, day)
    print(f"  rollup: {built} days built in {time.perf_counter() - t:.1f} s", flush=True)


async def step(conn: asyncpg.Connection, what: str, sql: str, *args: Any) -> None:
    t = time.perf_counter()
    status = await conn.execute(sql, *args)
    print(f"  {what:<26}{status.split()[-1]:>10} rows {time.perf_counter() - t:8.1f} s", flush=True)


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> float:
    """Median seconds of ``runs`` calls after one warm-up call."""
    await fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def line(label: str, seconds: float, baseline: float) -> None:
    RESULTS[label] = round(seconds * 1000, 2)
    print(f"  {label:<52}{seconds * 1000:9.1f} ms   baseline {baseline * 1000:8.1f} ms   x{seconds / baseline:6.1f}")


async def measure(conn: asyncpg.Connection, runs: int, first: date) -> None:
    month = period_of("month", first)
    day = period_of("day", first.replace(day=15))
    counted = await conn.fetchval(
        f"SELECT count(*) FROM assignments a WHERE a.role = 'lead' AND {PERIOD_AT} >= $1 AND {PERIOD_AT} < $2",
        month.start, month.end,
    )  # fmt: skip
    offered = await conn.fetchval(
        "SELECT count(*) FROM calls WHERE entered_at >= $1 AND entered_at < $2", month.start, month.end
    )
    print(f"\n{first:%Y-%m}: {counted} lead assignments due, {offered} calls offered; median of {runs} runs\n")

    async def count_assignments(period: Any = month) -> None:
        await conn.fetchval(
            f"SELECT count(*) FROM assignments a WHERE a.role = 'lead' AND {PERIOD_AT} >= $1 AND {PERIOD_AT} < $2",
            period.start, period.end,
        )  # fmt: skip

    async def count_calls() -> None:
        await conn.fetchval("SELECT count(*) FROM calls WHERE entered_at >= $1 AND entered_at < $2", month.start,
                            month.end)  # fmt: skip

    base = await timed(count_assignments, runs)
    line("figures(month, by unit)", await timed(lambda: figures(conn, month, "unit"), runs), base)
    # Another response limit is not in the rollup: the same table counted live, as before rollups.
    live = DEFAULT_RESPONSE_LIMIT + timedelta(seconds=1)
    line(
        "figures(month, by unit) counted live",
        await timed(lambda: figures(conn, month, "unit", response_limit=live), runs),
        base,
    )
    line("figures(month, by district)", await timed(lambda: figures(conn, month, "district"), runs), base)
    line("figures(month, by category)", await timed(lambda: figures(conn, month, "category"), runs), base)
    line("trend(reply_rate, month by day)", await timed(lambda: trend(conn, "reply_rate", month), runs), base)
    line(
        "drill_down(month, replied on time, 50 rows)",
        await timed(lambda: drill_down(conn, month, "reply_on_time_rate"), runs),
        base,
    )
    day_base = await timed(lambda: count_assignments(day), runs)
    line("figures(day, by unit) [baseline: count(*) that day]", await timed(lambda: figures(conn, day), runs), day_base)
    calls_base = await timed(count_calls, runs)
    line("call_kpis(month, by queue)", await timed(lambda: call_kpis(conn, month, "queue"), runs), calls_base)
    line("call_kpis(month, by agent)", await timed(lambda: call_kpis(conn, month, "agent"), runs), calls_base)
    line("call_kpis(month, by hour)", await timed(lambda: call_kpis(conn, month, "hour"), runs), calls_base)


async def main(args: argparse.Namespace) -> None:
    name = args.reuse or f"hotline_bench_figures_{uuid.uuid4().hex[:10]}"
    url = db.with_database(args.database_url, name)
    if not args.reuse:
        await db.create_database(args.database_url, name)  # a new name: fails rather than replace anything
    try:
        conn = await asyncpg.connect(url, command_timeout=3600)
        try:
            if not args.reuse:
                await db.migrate(conn)
                await seed_demo(conn, DEFAULT_DIVISIONS)
                orders = int(args.orders_per_month * 12 * args.years)
                calls = int(orders * args.calls_per_order)
                print(f"loading {orders} orders and {calls} calls over {args.years} years into {name}", flush=True)
                t = time.perf_counter()
                await load(conn, orders, calls, args.years)
                print(f"  loaded in {time.perf_counter() - t:.0f} s", flush=True)
                await build_rollup(conn)
            await measure(conn, args.runs, date.fromisoformat(args.month + "-01"))
        finally:
            await conn.close()
    finally:
        if args.keep or args.reuse:
            print(f"kept database {name}", file=sys.stderr)
        else:
            await db.drop_database(args.database_url, name)
    print(json.dumps({"orders_per_month": args.orders_per_month, "years": args.years, "month": args.month,
                      "ms": RESULTS}))  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL")
                        or "postgresql://postgres@127.0.0.1:5432/postgres")  # fmt: skip
    parser.add_argument("--orders-per-month", type=int, default=167_000)
    parser.add_argument(
        "--years", type=float, default=1, help="history length, ending 2026-10-31 (0.125: October and the orders due in it)"
    )
    parser.add_argument("--month", default="2026-10", help="the month measured (YYYY-MM, inside the history)")
    parser.add_argument("--calls-per-order", type=float, default=1.2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database for EXPLAIN afterwards")
    parser.add_argument("--reuse", metavar="NAME", help="measure a database kept by --keep, without loading")
    asyncio.run(main(parser.parse_args()))

"""The deadline clock at scale: one tick when 1,000 of 1,000,000 open assignments come due,
beside the bare indexed query that finds them, measured in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        /tmp/venv/bin/python benchmarks/deadlines.py [--assignments 1000000] [--due 1000] [--keep]

A scratch database is created on DATABASE_URL's server, migrated, seeded with the 徐州 demo
data and loaded with bulk SQL (the load is not what is measured): ``--assignments`` open
orders each with one open assignment and its two unfired reply timers (warning, overdue),
every unit with a webhook so each reminder also writes an outbox row. ``--due`` of the
warnings are made due now. Then, each ``--repeat`` times (timers re-armed in between):

1. baseline: the bare indexed query for the due timers (``fired_at IS NULL AND fire_at <= now()
   ORDER BY fire_at LIMIT n``), nothing else;
2. the measured tick: ``DeadlineClock.tick`` — lock with SKIP LOCKED, check each assignment,
   write its audit event, outbox row and fired mark, one transaction a batch;
3. an idle tick: nothing due, to show a tick's cost does not follow the open assignments.

Printed: medians in milliseconds and the ratio of the tick to the bare query.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline import db  # noqa: E402
from hotline.cli import DEFAULT_DIVISIONS  # noqa: E402
from hotline.deadlines.clock import DeadlineClock  # noqa: E402
from hotline.seed import seed_demo  # noqa: E402

BARE = """SELECT assignment_id, clock, kind, generation FROM deadline_timers
          WHERE fired_at IS NULL AND fire_at <= now() ORDER BY fire_at LIMIT $1"""


async def load(conn: asyncpg.Connection, n: int, due: int) -> None:
    await conn.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook'")
    # Orders: numbers unique per day, 100,000 a day back from 2026-11-20.
    await conn.execute(
        """INSERT INTO work_orders (number, kind, category_code, content, division_code, caller_number, status,
                                    created_at)
           SELECT to_char(date '2026-11-20' - (i / 100000), 'YYYYMMDD') || '-' || lpad((i % 100000)::text, 6, '0'),
                  (ARRAY['consult','help','complaint','report','suggestion'])[1 + i % 5], '0101', '占道经营',
                  '320302001', '139' || lpad((i % 100000000)::text, 8, '0'), 'signed',
                  now() - (i % 30) * interval '1 day'
           FROM generate_series(1, $1) i""",
        n,
    )
    await conn.execute(
        """INSERT INTO assignments (order_id, unit_id, level, role, status, dispatched_at, signed_at, sign_due_at,
                                    reply_due_at)
           SELECT o.id, u.ids[1 + o.id % array_length(u.ids, 1)], 'city', 'lead', 'signed', o.created_at,
                  o.created_at + interval '1 hour', o.created_at + interval '2 hours',
                  now() + interval '5 days' + (o.id % 1000) * interval '1 minute'
           FROM work_orders o, (SELECT array_agg(id ORDER BY id) AS ids FROM units WHERE kind <> 'centre') u"""
    )
    await conn.execute(
        """INSERT INTO deadline_timers (assignment_id, clock, kind, order_id, unit_id, fire_at, due_at)
           SELECT a.id, 'reply', k.kind, a.order_id, a.unit_id,
                  CASE k.kind WHEN 'overdue' THEN a.reply_due_at ELSE a.reply_due_at - interval '2 days' END,
                  a.reply_due_at
           FROM assignments a, (VALUES ('warning'), ('overdue')) k(kind)"""
    )
    await conn.execute("ANALYZE")
    await arm(conn, due)


async def arm(conn: asyncpg.Connection, due: int) -> None:
    """Make ``due`` warnings due now (and un-fire them if a previous round fired them)."""
    await conn.execute(
        """UPDATE deadline_timers SET fire_at = now() - interval '1 minute', fired_at = NULL, outcome = NULL
           WHERE kind = 'warning' AND assignment_id IN (SELECT id FROM assignments ORDER BY id LIMIT $1)""",
        due,
    )


async def timed(fn) -> float:
    t = time.perf_counter()
    await fn()
    return (time.perf_counter() - t) * 1000


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignments", type=int, default=1_000_000)
    ap.add_argument("--due", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args()
    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"hotline_bench_deadlines_{uuid.uuid4().hex[:6]}"
    url = await db.create_database(base, name)
    try:
        conn = await asyncpg.connect(url)
        await db.migrate(conn)
        await seed_demo(conn, DEFAULT_DIVISIONS)
        started = time.perf_counter()
        await load(conn, args.assignments, args.due)
        print(f"loaded {args.assignments:,} open assignments, {2 * args.assignments:,} unfired timers "
              f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
        pool = await db.create_pool(url, min_size=1, max_size=4)
        clock = DeadlineClock(pool, batch=args.due)
        bare, ticks, idle = [], [], []
        for _ in range(args.repeat):
            await arm(conn, args.due)
            await conn.fetch(BARE, args.due)  # warm the cache the same way for both
            bare.append(await timed(lambda: conn.fetch(BARE, args.due)))
            sent = 0

            async def tick() -> None:
                nonlocal sent
                sent = await clock.tick()

            ticks.append(await timed(tick))
            assert sent == args.due, f"the tick sent {sent}, expected {args.due}"
            idle.append(await timed(clock.tick))
        await pool.close()
        await conn.close()
        b, t, i = statistics.median(bare), statistics.median(ticks), statistics.median(idle)
        print(f"bare indexed query for {args.due:,} due timers: {b:8.2f} ms")
        print(f"deadline clock tick, {args.due:,} sent:          {t:8.2f} ms  ({t / b:.1f}× the bare query, "
              f"{1000 * t / args.due:.0f} µs a reminder with audit + outbox)")  # fmt: skip
        print(f"deadline clock tick, nothing due:        {i:8.2f} ms")
    finally:
        if not args.keep:
            await db.drop_database(base, name)


if __name__ == "__main__":
    asyncio.run(main())

"""A scratch database of a unique name for one benchmark run, and latency percentiles.

The database (tests/scratch.py: a new name each run, migrated) is seeded with the 徐州 demo
data and dropped at the end — only it, since this run created it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline import db  # noqa: E402
from hotline.cli import DEFAULT_DIVISIONS  # noqa: E402
from hotline.seed import seed_demo  # noqa: E402
from tests.scratch import scratch_database as tests_scratch  # noqa: E402


def server_url() -> str:
    return os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


@asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a new, migrated database seeded with the 徐州 demo data (tests/scratch.py
    makes and drops it)."""
    async with tests_scratch(server_url(), migrate=True, prefix=prefix) as url:
        print(f"scratch database {url.rsplit('/', 1)[-1]}", file=sys.stderr, flush=True)
        pool = await db.create_pool(url, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                await seed_demo(conn, DEFAULT_DIVISIONS)
                yield conn
        finally:
            await pool.close()


async def latencies(fn: Callable[[int], Awaitable[Any]], runs: int) -> list[float]:
    """Seconds of each of ``runs`` calls ``fn(i)`` after ten warm-up calls."""
    for i in range(10):
        await fn(i)
    samples = []
    for i in range(runs):
        t = time.perf_counter()
        await fn(i)
        samples.append(time.perf_counter() - t)
    return samples


def pct(samples: list[float], p: float) -> float:
    """The p-th percentile in milliseconds (nearest rank)."""
    ordered = sorted(samples)
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000, 2)


async def step(conn: asyncpg.Connection, what: str, sql: str, *args: Any) -> None:
    t = time.perf_counter()
    status = await conn.execute(sql, *args, timeout=3600)
    print(f"  {what:<28}{status.split()[-1]:>10} rows {time.perf_counter() - t:8.1f} s", file=sys.stderr, flush=True)

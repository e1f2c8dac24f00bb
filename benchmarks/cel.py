"""CEL pass throughput: CEL rows per second turned into call records, beside a bare SELECT of the
same rows. Used by benchmarks/ami.py (which prints the JSON line); runnable alone as well.

outage.cel.csv (30 calls, 606 rows) is repeated ``rounds`` times with distinct ids, Linkedids
and Uniqueids per round, loaded into the ``cel`` table of a scratch database, then:
- bare: ``SELECT * FROM cel ORDER BY id`` fetched whole (the rows the pass has to read);
- pass: the CEL worker's batches from cursor 0 until every row is read and every call written.
"""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg

from adapters.cel.rows import COLUMNS, read_csv
from adapters.cel.worker import CelWorker


def recording(root: Path, name: str) -> Path:
    """A recording from the repository's copy, else from ../shared beside the clone."""
    for base in (root / "tests" / "data" / "shared", root.parent / "shared"):
        if (base / name).is_file():
            return base / name
    raise SystemExit(f"{name} is neither in tests/data/shared nor in ../shared")


def _rows(path: Path, rounds: int) -> list[tuple[object, ...]]:
    base = list(read_csv(path))
    span = max(row_id for row_id, _ in base)
    out = []
    for r in range(rounds):
        for row_id, values in base:
            v = dict(values, linkedid=f"{values['linkedid']}-{r}", uniqueid=f"{values['uniqueid']}-{r}")
            out.append((row_id + r * span, *(v[c] for c in COLUMNS)))
    return out


async def cel_rates(pool: asyncpg.Pool, path: Path, rounds: int) -> tuple[float, float, int, int]:
    """(bare SELECT rows/s, CEL pass rows/s, rows, calls written)."""
    rows = _rows(path, rounds)
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("cel", records=rows, columns=["id", *COLUMNS])
        await conn.execute("ANALYZE cel")
        start = time.perf_counter()
        fetched = await conn.fetch("SELECT * FROM cel ORDER BY id")
        bare = len(fetched) / (time.perf_counter() - start)
    worker = CelWorker(pool, "bench")
    start = time.perf_counter()
    while await worker.step():
        pass
    passed = len(rows) / (time.perf_counter() - start)
    calls = await pool.fetchval("SELECT count(*) FROM calls WHERE source = 'cel'")
    return bare, passed, len(rows), calls

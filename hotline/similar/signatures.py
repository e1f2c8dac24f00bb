"""The MinHash bands of each order, written in the transaction that takes the order in, and
pruned once they are older than any content window looks back."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from hotline import chinese
from hotline.similar import minhash


async def index_order(conn: asyncpg.Connection, order_id: int, content: str, created_at: datetime) -> None:
    keys = minhash.bands(chinese.token_set(content))
    if keys:
        await conn.execute(
            """INSERT INTO order_signatures (band_hash, created_at, order_id)
               SELECT k, $2, $3 FROM unnest($1::bigint[]) AS k ON CONFLICT DO NOTHING""",
            keys, created_at, order_id,
        )  # fmt: skip


async def prune(conn: asyncpg.Connection, now: datetime, keep: timedelta, batch: int = 10_000) -> int:
    """Drop bands older than ``keep`` a batch at a time (short transactions, no long lock)."""
    removed = 0
    while True:
        status = await conn.execute(
            """DELETE FROM order_signatures WHERE ctid = ANY(ARRAY(
                   SELECT ctid FROM order_signatures WHERE created_at < $1 LIMIT $2))""",
            now - keep, batch,
        )  # fmt: skip
        count = int(status.split()[-1])
        removed += count
        if count < batch:
            return removed

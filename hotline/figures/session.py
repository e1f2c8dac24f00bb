"""How a report talks to PostgreSQL: one read-only snapshot, no JIT, room to sort in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

# JIT: a month's figures cost enough in the planner's eyes to be compiled, and compiling
# took ~220 ms of a ~600 ms query in the 2-million-order benchmark — on every run, since
# nothing is cached. work_mem: the month's assignments are sorted for the anti-join with
# re-dispatched hubs; 4 MB (the default) spills that sort to disk.
_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '32MB'"


@asynccontextmanager
async def reporting(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Run a report's queries in one repeatable-read, read-only transaction, so its numbers agree
    with each other (e.g. the assignment counts and the order counts of one table). Inside a
    caller's transaction the settings apply to that transaction and its snapshot is used."""
    if conn.is_in_transaction():
        await conn.execute(_SETTINGS)
        yield
        return
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute(_SETTINGS)
        yield

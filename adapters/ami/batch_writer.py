"""A writer that persists what the event callbacks hand it, in order, in batches, and never drops
any of it.

Items queue up unbounded (an event callback must never block or fail); the writer takes what has
accumulated and stores it in one transaction. A database outage is retried with growing backoff —
the batch stays in hand, nothing is lost; a batch the database rejects (a bug, not an outage) is
stored item by item, so one bad row is logged and skipped and cannot block everything after it.
Only after the commit does :meth:`BatchWriter.committed` run: nothing is announced that was not
stored.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Generic, TypeVar, cast

import asyncpg
import asyncpg.exceptions as pgerr

log = logging.getLogger(__name__)

T = TypeVar("T")  # what the callbacks submit
R = TypeVar("R")  # what is stored

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    pgerr.PostgresConnectionError,
    pgerr.OperatorInterventionError,  # admin shutdown, cannot connect now
    pgerr.InsufficientResourcesError,  # too many connections, disk full
)


class BatchWriter(Generic[T, R]):
    what = "items"  # for the logs

    def __init__(self, pool: asyncpg.Pool, *, batch_max: int = 1000, retry_max: float = 5.0) -> None:
        self._pool = pool
        self._batch_max = batch_max
        self._retry_max = retry_max
        self._queue: asyncio.Queue[T] = asyncio.Queue()
        self.rows_written = 0
        self.batches = 0
        self.rejected = 0
        self.retries = 0

    def submit(self, item: T) -> None:
        self._queue.put_nowait(item)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def join(self) -> None:
        """Wait until everything submitted so far is committed."""
        await self._queue.join()

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._persist(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    # -- for subclasses -------------------------------------------------------------------------

    def rows(self, batch: list[T]) -> list[R]:
        """What to store for a batch (e.g. only the newest snapshot of each call)."""
        return cast(list[R], batch)

    async def write(self, conn: asyncpg.Connection, rows: list[R]) -> None:
        raise NotImplementedError

    def committed(self, batch: list[T]) -> None:
        """Runs after the batch's commit."""

    def describe(self, row: R) -> dict[str, object]:
        return {}

    # -- storing --------------------------------------------------------------------------------

    async def _persist(self, batch: list[T]) -> None:
        rows = self.rows(batch)
        delay = 0.1
        while True:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    await self.write(conn, rows)
                break
            except TRANSIENT_ERRORS as exc:
                self.retries += 1
                log.error(
                    f"{self.what} not stored yet; retrying",
                    extra={"rows": len(rows), "retry_in": delay, "error": repr(exc)},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
            except asyncpg.PostgresError:
                log.exception(f"{self.what} batch rejected; storing one by one", extra={"rows": len(rows)})
                await self._persist_one_by_one(rows)
                break
        self.rows_written += len(rows)
        self.batches += 1
        self.committed(batch)

    async def _persist_one_by_one(self, rows: list[R]) -> None:
        for row in rows:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    await self.write(conn, [row])
            except asyncpg.PostgresError:
                self.rejected += 1
                log.exception(f"{self.what} row rejected by the database", extra=self.describe(row))

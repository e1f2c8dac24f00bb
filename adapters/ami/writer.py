"""The writer: persists call changes in order, in batches, and never drops one.

Changes queue up unbounded (the event callback must never block or fail); the
writer takes what has accumulated, keeps the newest snapshot per call and
upserts them in one transaction. A database outage is retried with growing
backoff — the batch stays in hand, nothing is lost; a row the database rejects
(a bug, not an outage) is logged with its linkedid and skipped so it cannot
block every call after it. Only after the commit are answered calls handed on
(screen-pop): nothing is announced for a change that was not stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
import asyncpg.exceptions as pgerr

from adapters.ami.records import CallChange, CallRecord
from adapters.ami.store import coalesce_latest, upsert_calls

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    pgerr.PostgresConnectionError,
    pgerr.OperatorInterventionError,  # admin shutdown, cannot connect now
    pgerr.InsufficientResourcesError,  # too many connections, disk full
)


class CallWriter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        on_answered: Callable[[CallRecord], None] | None = None,
        batch_max: int = 1000,
        retry_max: float = 5.0,
    ) -> None:
        self._pool = pool
        self._on_answered = on_answered
        self._batch_max = batch_max
        self._retry_max = retry_max
        self._queue: asyncio.Queue[CallChange] = asyncio.Queue()
        self.rows_written = 0
        self.batches = 0
        self.rejected = 0
        self.retries = 0

    def submit(self, change: CallChange) -> None:
        self._queue.put_nowait(change)

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

    async def _persist(self, batch: list[CallChange]) -> None:
        records = coalesce_latest([c.call for c in batch])
        delay = 0.1
        while True:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    await upsert_calls(conn, records)
                break
            except TRANSIENT_ERRORS as exc:
                self.retries += 1
                log.error(
                    "call records not stored yet; retrying",
                    extra={"calls": len(records), "retry_in": delay, "error": repr(exc)},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
            except asyncpg.PostgresError:
                log.exception("call batch rejected; storing one by one", extra={"calls": len(records)})
                await self._persist_one_by_one(records)
                break
        self.rows_written += len(records)
        self.batches += 1
        if self._on_answered is not None:
            for change in batch:
                if change.kind == "answered" and change.live:
                    self._on_answered(change.call)

    async def _persist_one_by_one(self, records: list[CallRecord]) -> None:
        for rec in records:
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    await upsert_calls(conn, [rec])
            except asyncpg.PostgresError:
                self.rejected += 1
                log.exception("call record rejected by the database", extra=rec.log_extra())

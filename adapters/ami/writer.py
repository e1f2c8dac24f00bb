"""The call writer: persists call changes in order, in batches, and never drops one
(:class:`adapters.ami.batch_writer.BatchWriter`). Of a batch only the newest snapshot per call is
upserted. Only after the commit are answered calls handed on (screen-pop) and the listeners told
(the wallboard): nothing is announced for a change that was not stored.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from adapters.ami.batch_writer import TRANSIENT_ERRORS, BatchWriter
from adapters.ami.records import CallChange, CallRecord
from adapters.ami.store import coalesce_latest, upsert_calls

__all__ = ["TRANSIENT_ERRORS", "CallWriter"]


class CallWriter(BatchWriter[CallChange, CallRecord]):
    what = "call records"

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        on_answered: Callable[[CallRecord], None] | None = None,
        on_committed: Callable[[], None] | None = None,
        batch_max: int = 1000,
        retry_max: float = 5.0,
    ) -> None:
        super().__init__(pool, batch_max=batch_max, retry_max=retry_max)
        self._on_answered = on_answered
        self._on_committed = on_committed

    def rows(self, batch: list[CallChange]) -> list[CallRecord]:
        return coalesce_latest([c.call for c in batch])

    async def write(self, conn: asyncpg.Connection, rows: list[CallRecord]) -> None:
        await upsert_calls(conn, rows)

    def describe(self, row: CallRecord) -> dict[str, object]:
        return row.log_extra()

    def committed(self, batch: list[CallChange]) -> None:
        if self._on_answered is not None:
            for change in batch:
                if change.kind == "answered" and change.live:
                    self._on_answered(change.call)
        if self._on_committed is not None:
            self._on_committed()

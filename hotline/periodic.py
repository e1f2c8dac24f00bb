"""A background loop that runs one step every ``interval`` seconds until stopped.

The deadline clock, the hotspot watch and the calendar watch are each one of these: their
state is in PostgreSQL, so a step that fails because the database went away for a moment is
logged and simply tried again at the next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

log = logging.getLogger(__name__)


class Periodic:
    name = "periodic"  # the task's name, and the worker's in the log
    interval: float
    _task: asyncio.Task[None] | None = None

    async def step(self) -> object:
        raise NotImplementedError

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                # Nothing was marked done; the next step retries.
                log.warning("%s step failed; retrying", self.name, exc_info=True, extra={"worker": self.name})
            await asyncio.sleep(self.interval)

"""The wallboard, pushed on the supervisors' channel (``hotline.bus``) after the AMI adapter has
stored a change that it shows: a call joining, leaving or answered, a member changing state.

Changes come in bursts (a call's AgentCalled, AgentConnect and QueueCallerLeave land within a
millisecond), so a push is sent at most every ``interval`` seconds, always after the last commit
it follows: a supervisor sees the state of the database, never a half-applied burst.

Callers waiting and members' states are read at every push; today's call figures, which count
the whole day's calls, at most every ``today_every`` seconds (and at midnight), so a busy day's
bursts of pushes do not recount the day twice a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

import asyncpg
import redis.asyncio as aioredis

from hotline import bus
from hotline.figures.periods import TZ
from hotline.wallboard.view import TodayFigures, today_by_queue, wallboard

log = logging.getLogger(__name__)

EVENT = "wallboard"


class WallboardPush:
    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: aioredis.Redis | None,
        *,
        interval: float = 0.5,
        today_every: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._pool = pool
        self._redis = redis
        self._interval = interval
        self._today_every = today_every
        self._monotonic = monotonic
        # The services' clock, as GET /api/wallboard reads it: a pushed frame and the board asked
        # for at the same moment count the same day and the same waits.
        self._clock = clock or (lambda: datetime.now(UTC))
        self._today: tuple[date, float, TodayFigures] | None = None  # day, when, figures
        self._dirty = asyncio.Event()
        self.pushed = 0

    def nudge(self) -> None:
        if self._redis is not None:
            self._dirty.set()

    async def run(self) -> None:
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self._interval)  # let the burst land
            self._dirty.clear()
            try:
                async with self._pool.acquire() as conn:
                    now = self._clock()
                    board = await wallboard(conn, now, await self._today_figures(conn, now))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("wallboard not pushed: database unavailable", exc_info=True)
                continue
            await bus.publish(self._redis, "supervisors", {"type": EVENT, "wallboard": board})
            self.pushed += 1

    async def _today_figures(self, conn: asyncpg.Connection, now: datetime) -> TodayFigures:
        day, tick = now.astimezone(TZ).date(), self._monotonic()
        if self._today is None or self._today[0] != day or tick - self._today[1] >= self._today_every:
            self._today = (day, tick, await today_by_queue(conn, now))
        return self._today[2]

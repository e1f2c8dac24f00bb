"""The wallboard, pushed on the supervisors' channel (``hotline.bus``) after the AMI adapter has
stored a change that it shows: a call joining, leaving or answered, a member changing state.

Changes come in bursts (a call's AgentCalled, AgentConnect and QueueCallerLeave land within a
millisecond), so a push is sent at most every ``interval`` seconds, always after the last commit
it follows: a supervisor sees the state of the database, never a half-applied burst.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import asyncpg
import redis.asyncio as aioredis

from hotline import bus
from hotline.wallboard.view import wallboard

log = logging.getLogger(__name__)

EVENT = "wallboard"


class WallboardPush:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis | None, *, interval: float = 0.5) -> None:
        self._pool = pool
        self._redis = redis
        self._interval = interval
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
                    board = await wallboard(conn, datetime.now(UTC))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("wallboard not pushed: database unavailable", exc_info=True)
                continue
            await bus.publish(self._redis, "supervisors", {"type": EVENT, "wallboard": board})
            self.pushed += 1

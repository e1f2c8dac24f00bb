"""Screen-pop: when an agent answers, their desktop shows who is calling and the
caller's earlier work orders.

Published on the agent's bus channel ``desktop:{user_id}`` (Redis
``hotline:desktop:{user_id}``) after the answered call is committed. The user is
the one whose ``agent_interface`` is the queue member's Interface, else whose
``agent_name`` is its MemberName. No such user: logged and skipped. Best-effort
like every live view: a failure is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from adapters.ami.records import CallRecord
from adapters.ami.store import caller_history, find_agent_user
from hotline.bus import publish

log = logging.getLogger(__name__)

HISTORY_LIMIT = 10


def screen_pop_event(call: CallRecord, history: list[dict[str, Any]], call_id: int | None = None) -> dict[str, Any]:
    return {
        "type": "screen_pop",
        "call": {
            "id": call_id,  # calls.id: what POST /api/calls/{id}/order takes
            "linkedid": call.linkedid,
            "caller_number": call.caller_number,
            "caller_name": call.caller_name,
            "queue": call.queue,
            "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        },
        "history": history,
    }


class ScreenPop:
    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis | None, *, history_limit: int = HISTORY_LIMIT) -> None:
        self._pool = pool
        self._redis = redis
        self._history_limit = history_limit
        self._queue: asyncio.Queue[CallRecord] = asyncio.Queue()
        self.published = 0
        self.skipped = 0

    def submit(self, call: CallRecord) -> None:
        self._queue.put_nowait(call)

    async def join(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        while True:
            call = await self._queue.get()
            try:
                await self.pop(call)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("screen-pop failed", extra=call.log_extra())
            finally:
                self._queue.task_done()

    async def pop(self, call: CallRecord) -> int:
        """Publish one screen-pop; returns the receivers reached (0 when skipped)."""
        async with self._pool.acquire() as conn:
            user_id = await find_agent_user(conn, call.agent_interface, call.agent_name)
            if user_id is None:
                self.skipped += 1
                log.info(
                    "screen-pop skipped: no user for this agent",
                    extra={**call.log_extra(), "agent_interface": call.agent_interface, "agent_name": call.agent_name},
                )
                return 0
            history = await caller_history(conn, call.caller_number, self._history_limit) if call.caller_number else []
            call_id = await conn.fetchval(
                "SELECT id FROM calls WHERE node = $1 AND linkedid = $2", call.node, call.linkedid
            )
        receivers = await publish(self._redis, f"desktop:{user_id}", screen_pop_event(call, history, call_id))
        if receivers and call.caller_number:
            await self._log_look(user_id, call_id)
        self.published += 1
        log.info(
            "screen-pop published",
            extra={**call.log_extra(), "user_id": user_id, "receivers": receivers, "history": len(history)},
        )
        return receivers

    async def _log_look(self, user_id: int, call_id: int | None) -> None:
        """The agent's desktop showed the caller's number: on the access log, like any response."""
        async with self._pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO personal_data_access (user_id, unit_id, username, call_id, fields, method, route)
                   SELECT id, unit_id, username, $2, ARRAY['caller_number', 'caller_name'], 'WS', $3
                   FROM users WHERE id = $1""",
                user_id, call_id, "/api/desktop/ws (screen-pop)",
            )  # fmt: skip

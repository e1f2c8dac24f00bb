"""The SMS relay: claims due notices (SKIP LOCKED, with a lease so nothing is held open
while the gateway answers), sends them, and records the outcome; a failure is retried
with growing backoff, never into quiet hours unless urgent, and given up after
``MAX_ATTEMPTS``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from hotline.sms.quiet import send_at
from hotline.sms.senders import Outgoing, Sender, SendFailed

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
BATCH = 20


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


class SmsRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        sender: Sender,
        tz: ZoneInfo,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        interval: float = 5.0,
    ) -> None:
        self.pool, self.sender, self.tz, self.clock, self.interval = pool, sender, tz, clock, interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.sender.start()
        self._task = asyncio.create_task(self._run(), name="sms-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.sender.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except (OSError, asyncpg.PostgresError):
                log.warning("sms relay pass failed", exc_info=True)
            await asyncio.sleep(self.interval)

    async def run_once(self) -> int:
        """One pass: send what is due now; return how many were handed to the gateway."""
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(
                """UPDATE sms_messages SET next_attempt_at = $1 + $2::interval
                   WHERE id IN (SELECT id FROM sms_messages WHERE status = 'pending' AND next_attempt_at <= $1
                                ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
                   RETURNING id, phone, body, urgent, attempts""",
                now, LEASE, BATCH,
            )  # fmt: skip
        sent = 0
        for row in due:
            sent += await self._send(row, now)
        return sent

    async def _send(self, row: asyncpg.Record, now: datetime) -> int:
        attempts = row["attempts"] + 1
        try:
            provider_id = await self.sender.send(Outgoing(f"sms-{row['id']}", row["phone"], row["body"]))
        except SendFailed as exc:
            dead = attempts >= MAX_ATTEMPTS
            retry = send_at(now + backoff(attempts), row["urgent"], self.tz)
            await self.pool.execute(
                """UPDATE sms_messages SET attempts = $2, last_error = $3, next_attempt_at = $4,
                                           status = CASE WHEN $5 THEN 'dead' ELSE status END WHERE id = $1""",
                row["id"], attempts, str(exc)[:500], retry, dead,
            )  # fmt: skip
            log.warning("sms not sent", extra={"sms_id": row["id"], "attempts": attempts, "error": str(exc)})
            return 0
        await self.pool.execute(
            """UPDATE sms_messages SET attempts = $2, status = 'sent', provider_id = $3, sent_at = $4, last_error = NULL
               WHERE id = $1""",
            row["id"], attempts, provider_id, now,
        )  # fmt: skip
        return 1

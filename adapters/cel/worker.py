"""The CEL worker (role ``cel``): reads new CEL rows by id after a stored cursor and writes the
call records of every Linkedid that ended (LINKEDID_END) among them.

Restart-safe: the cursor moves in the same transaction as the records it covers, so a worker
killed mid-batch redoes that batch (the writes are idempotent). Safe with two running: the
cursor row is locked for the batch and a second worker skips it (``SKIP LOCKED``) instead of
doing the same work twice. Where Asterisk's CEL lives in another database
(``HOTLINE_CEL_DATABASE_URL``) the rows are read from there and only the cursor and the
records are written here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from adapters.cel.store import rebuild

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CelWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        node: str,
        *,
        cel_url: str | None = None,
        name: str = "cel",
        batch: int = 5000,
        interval: float = 1.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._pool = pool
        self._cel_url = cel_url or None
        self._cel_pool: asyncpg.Pool | None = None
        self.node = node
        self.name = name
        self.batch = batch
        self.interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.calls_changed = 0

    async def step(self) -> int | None:
        """One batch. Returns how many CEL rows it read (0: nothing new), or None when another
        worker holds the cursor."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO cel_cursors (name) VALUES ($1) ON CONFLICT DO NOTHING", self.name)
            last = await conn.fetchval(
                "SELECT last_id FROM cel_cursors WHERE name = $1 FOR UPDATE SKIP LOCKED", self.name
            )
            if last is None:
                return None
            if self._cel_url is None:
                return await self._batch(conn, conn, last)
            if self._cel_pool is None:
                self._cel_pool = await asyncpg.create_pool(self._cel_url, min_size=1, max_size=2)
            async with self._cel_pool.acquire() as cel:
                return await self._batch(conn, cel, last)

    async def _batch(self, conn: asyncpg.Connection, cel: asyncpg.Connection, last: int) -> int:
        upto, rows = await cel.fetchrow(
            "SELECT max(id), count(*) FROM (SELECT id FROM cel WHERE id > $1 ORDER BY id LIMIT $2) b", last, self.batch
        )
        if upto is None:
            return 0
        ended = await cel.fetch(
            "SELECT linkedid FROM cel WHERE id > $1 AND id <= $2 AND eventtype = 'LINKEDID_END' ORDER BY id",
            last,
            upto,
        )
        linkedids = list(dict.fromkeys(r["linkedid"] for r in ended))
        changed = await rebuild(conn, cel, self.node, linkedids, now=self._clock())
        await conn.execute(
            "UPDATE cel_cursors SET last_id = $2, updated_at = $3 WHERE name = $1", self.name, upto, self._clock()
        )
        self.calls_changed += changed
        if linkedids:
            log.info("CEL calls written", extra={"node": self.node, "calls": len(linkedids), "changed": changed,
                                                 "cel_id": upto})  # fmt: skip
        return rows

    async def run(self) -> None:
        while True:
            try:
                moved = await self.step()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("CEL pass failed; retrying", extra={"error": repr(exc), "retry_in": self.interval})
                moved = 0
            if not moved:
                await asyncio.sleep(self.interval)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=f"cel-worker-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._cel_pool is not None:
            await self._cel_pool.close()
            self._cel_pool = None


def resolve_node(cel_node: str, ami_nodes: str) -> str:
    """The node name CEL records are written under: the setting, else the only AMI node, else pbx1."""
    from adapters.ami.config import parse_nodes

    if cel_node:
        return cel_node
    nodes = parse_nodes(ami_nodes)
    return nodes[0].name if len(nodes) == 1 else "pbx1"

"""Queue members' states in PostgreSQL (``sql/026_member_states.sql``): every change appended to
``member_state_changes``, the newest per member kept in ``member_states``. This module owns both
tables' writes; :class:`MemberWriter` batches the adapter's changes into one transaction each, and
:class:`MemberHistoryPrune` keeps the history to HOTLINE_MEMBER_HISTORY_DAYS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg

from adapters.ami.batch_writer import BatchWriter
from adapters.ami.members import Member, MemberChange
from hotline.periodic import Periodic

log = logging.getLogger(__name__)

_APPEND = """
INSERT INTO member_state_changes (node, queue, interface, member_name, state, paused, reason, linkedid, event, at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[],
                     $8::text[], $9::text[], $10::timestamptz[])
"""

_CURRENT = """
INSERT INTO member_states AS s (node, queue, interface, member_name, membership, state, paused, reason, linkedid,
                                calls_taken, since)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[],
                     $8::text[], $9::text[], $10::int[], $11::timestamptz[])
ON CONFLICT (node, queue, interface) DO UPDATE SET
    member_name = COALESCE(EXCLUDED.member_name, s.member_name),
    membership = COALESCE(EXCLUDED.membership, s.membership),
    state = EXCLUDED.state, paused = EXCLUDED.paused, reason = EXCLUDED.reason, linkedid = EXCLUDED.linkedid,
    calls_taken = EXCLUDED.calls_taken, since = EXCLUDED.since, updated_at = now()
"""


async def store_changes(conn: asyncpg.Connection, changes: list[MemberChange]) -> None:
    """Append the changes, in order, and move each member's current state to its newest."""
    if not changes:
        return
    await conn.execute(
        _APPEND,
        *_columns([(c.node, c.queue, c.interface, c.member_name, c.state, c.paused, c.reason, c.linkedid, c.event,
                    c.at) for c in changes]),
    )  # fmt: skip
    newest = {(c.node, c.queue, c.interface): c for c in changes}
    await conn.execute(
        _CURRENT,
        *_columns([(c.node, c.queue, c.interface, c.member_name, c.membership, c.state, c.paused, c.reason,
                    c.linkedid, c.calls_taken, c.at) for c in newest.values()]),
    )  # fmt: skip


def _columns(rows: list[tuple[object, ...]]) -> list[list[object]]:
    """Rows to the column arrays ``unnest`` takes."""
    return [list(column) for column in zip(*rows, strict=True)]


async def load_members(conn: asyncpg.Connection, node: str) -> list[Member]:
    """The node's members as a previous run left them (a restarted adapter starts from these)."""
    rows = await conn.fetch(
        "SELECT queue, interface, member_name, membership, state, paused, reason, linkedid, calls_taken, since"
        " FROM member_states WHERE node = $1",
        node,
    )
    return [
        Member(r["queue"], r["interface"], r["member_name"], r["membership"], member=r["state"] != "offline",
               paused=r["paused"], reason=r["reason"], ringing=r["linkedid"] if r["state"] == "ringing" else None,
               talking=(r["linkedid"] or "") if r["state"] == "in_call" else None, calls_taken=r["calls_taken"],
               since=r["since"])
        for r in rows
    ]  # fmt: skip


class MemberWriter(BatchWriter[MemberChange, MemberChange]):
    what = "member states"

    def __init__(self, pool: asyncpg.Pool, *, on_committed: Callable[[], None] | None = None) -> None:
        super().__init__(pool)
        self._on_committed = on_committed

    async def write(self, conn: asyncpg.Connection, rows: list[MemberChange]) -> None:
        await store_changes(conn, rows)

    def describe(self, row: MemberChange) -> dict[str, object]:
        return {"node": row.node, "queue": row.queue, "interface": row.interface, "state": row.state}

    def committed(self, batch: list[MemberChange]) -> None:
        if self._on_committed is not None:
            self._on_committed()


# Changes older than the cut-off, except each membership's newest one before it: that row is the
# state the first kept day starts in (hotline.figures.agent_days carries it over), so every kept
# day's figures stay exactly what they were. A batch at a time: short transactions, no long lock.
_PRUNE = """
DELETE FROM member_state_changes WHERE id = ANY(ARRAY(
    SELECT c.id FROM member_state_changes c
    WHERE c.at < $1 AND EXISTS (
        SELECT 1 FROM member_state_changes n
        WHERE n.interface = c.interface AND n.node = c.node AND n.queue = c.queue
          AND n.at < $1 AND (n.at, n.id) > (c.at, c.id))
    LIMIT $2))
"""


def history_kept_from(now: datetime, keep_days: int) -> datetime:
    """Where the kept member history starts: what the pruning drops and the figures refuse."""
    return now - timedelta(days=keep_days)


async def prune_changes(conn: asyncpg.Connection, before: datetime, batch: int = 10_000) -> int:
    """Drop the member history older than ``before`` but the carry-over rows; the count dropped."""
    removed = 0
    while True:
        count = int((await conn.execute(_PRUNE, before, batch)).split()[-1])
        removed += count
        if count < batch:
            return removed


class MemberHistoryPrune(Periodic):
    """Role ``ami``: keeps ``member_state_changes`` to ``keep_days`` (HOTLINE_MEMBER_HISTORY_DAYS), once an
    hour. Several processes may run it: two deleting the same rows at once only wait on each other."""

    name = "member-history-prune"

    def __init__(self, pool: asyncpg.Pool, keep_days: int, *, clock: Callable[[], datetime],
                 interval: float = 3600.0) -> None:  # fmt: skip
        self.pool, self.keep_days, self.clock, self.interval = pool, keep_days, clock, interval

    async def step(self) -> int:
        async with self.pool.acquire() as conn:
            removed = await prune_changes(conn, history_kept_from(self.clock(), self.keep_days))
        if removed:
            log.info("member history pruned", extra={"rows": removed, "keep_days": self.keep_days})
        return removed

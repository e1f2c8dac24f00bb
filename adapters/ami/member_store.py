"""Queue members' states in PostgreSQL (``sql/026_member_states.sql``): every change appended to
``member_state_changes``, the newest per member kept in ``member_states``. This module owns both
tables' writes; :class:`MemberWriter` batches the adapter's changes into one transaction each.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from adapters.ami.batch_writer import BatchWriter
from adapters.ami.members import Member, MemberChange

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

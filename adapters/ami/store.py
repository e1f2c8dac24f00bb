"""Persistence of call records: idempotent upserts keyed by (node, linkedid).

Every write carries the whole record as the interpreter knows it; the upsert
*merges* it with the row: a known value is never replaced by NULL, the state
never moves backwards (queued → connected → ended), counters only grow. So
replaying the same events, in any number of runs, converges to the same row —
and a row whose merged value equals the stored one is not touched at all
(``updated_at`` included).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from adapters.ami.records import CallRecord

_STATES = "ARRAY['queued', 'connected', 'ended']"

# column -> how the incoming value (EXCLUDED) merges with the stored one (c)
_MERGE: dict[str, str] = {
    "caller_uniqueid": "COALESCE(EXCLUDED.caller_uniqueid, c.caller_uniqueid)",
    "caller_channel": "COALESCE(EXCLUDED.caller_channel, c.caller_channel)",
    "caller_number": "COALESCE(EXCLUDED.caller_number, c.caller_number)",
    "caller_name": "COALESCE(EXCLUDED.caller_name, c.caller_name)",
    "queue": "COALESCE(EXCLUDED.queue, c.queue)",
    "state": (
        f"CASE WHEN array_position({_STATES}, EXCLUDED.state) >= array_position({_STATES}, c.state)"
        " THEN EXCLUDED.state ELSE c.state END"
    ),
    "outcome": (
        "CASE WHEN EXCLUDED.outcome IS NULL OR (EXCLUDED.outcome = 'unknown' AND c.outcome IS NOT NULL)"
        " THEN c.outcome ELSE EXCLUDED.outcome END"
    ),
    "entered_at": "COALESCE(EXCLUDED.entered_at, c.entered_at)",
    "answered_at": "COALESCE(EXCLUDED.answered_at, c.answered_at)",
    "ended_at": "COALESCE(EXCLUDED.ended_at, c.ended_at)",
    "hold_time": "COALESCE(EXCLUDED.hold_time, c.hold_time)",
    "ring_time": "COALESCE(EXCLUDED.ring_time, c.ring_time)",
    "talk_time": "COALESCE(EXCLUDED.talk_time, c.talk_time)",
    "ring_no_answer": "GREATEST(EXCLUDED.ring_no_answer, c.ring_no_answer)",
    "agent_interface": "COALESCE(EXCLUDED.agent_interface, c.agent_interface)",
    "agent_name": "COALESCE(EXCLUDED.agent_name, c.agent_name)",
    "agent_user_id": "COALESCE(EXCLUDED.agent_user_id, c.agent_user_id)",
    "complete_reason": "COALESCE(EXCLUDED.complete_reason, c.complete_reason)",
    "abandon_position": "COALESCE(EXCLUDED.abandon_position, c.abandon_position)",
    "hangup_cause": "COALESCE(EXCLUDED.hangup_cause, c.hangup_cause)",
    "hangup_cause_txt": "COALESCE(EXCLUDED.hangup_cause_txt, c.hangup_cause_txt)",
    "recording_file": "COALESCE(EXCLUDED.recording_file, c.recording_file)",
    # The first telling of the survey wins its time; a digit is never replaced by silence.
    "survey_digit": "COALESCE(EXCLUDED.survey_digit, c.survey_digit)",
    "survey_at": "COALESCE(c.survey_at, EXCLUDED.survey_at)",
    "survey_source": "COALESCE(c.survey_source, EXCLUDED.survey_source)",
    "transfers": (
        "CASE WHEN jsonb_array_length(EXCLUDED.transfers) >= jsonb_array_length(c.transfers)"
        " THEN EXCLUDED.transfers ELSE c.transfers END"
    ),
    "incomplete": "EXCLUDED.incomplete",
}

# The hotline user behind a queue member: by Interface first, then by MemberName.
AGENT_USER_SQL = (
    "COALESCE((SELECT u.id FROM users u WHERE u.agent_interface = {iface}),"
    " (SELECT u.id FROM users u WHERE u.agent_name = {name} ORDER BY u.active DESC, u.id LIMIT 1))"
)

_RECORD_COLUMNS = [c for c in _MERGE if c != "agent_user_id"]


def _build_upsert() -> str:
    params: dict[str, str] = {"node": "$1", "linkedid": "$2"}
    for i, col in enumerate(_RECORD_COLUMNS, start=3):
        params[col] = f"${i}::text::jsonb" if col == "transfers" else f"${i}"
    params["agent_user_id"] = AGENT_USER_SQL.format(iface=params["agent_interface"], name=params["agent_name"])
    columns = list(params)
    merged = [_MERGE[c] for c in _MERGE]
    return (
        f"INSERT INTO calls AS c ({', '.join(columns)}) VALUES ({', '.join(params.values())})"
        " ON CONFLICT (node, linkedid) DO UPDATE SET "
        + ", ".join(f"{c} = {_MERGE[c]}" for c in _MERGE)
        + ", updated_at = now()"
        + f" WHERE ({', '.join('c.' + c for c in _MERGE)}) IS DISTINCT FROM ({', '.join(merged)})"
        + " AND c.finalized_at IS NULL"  # the CEL pass wrote the final record: late AMI news cannot undo it
    )


UPSERT_SQL = _build_upsert()


def _args(rec: CallRecord) -> tuple[Any, ...]:
    values: list[Any] = [rec.node, rec.linkedid]
    for col in _RECORD_COLUMNS:
        if col == "transfers":
            values.append(json.dumps(rec.transfers, ensure_ascii=False))
        elif col == "incomplete":
            values.append(rec.incomplete)
        else:
            values.append(getattr(rec, col))
    return tuple(values)


# The one AMI news a final (CEL) row still takes: the survey's key, when CEL had none for it (the
# caller pressed nothing there, or its value was not one key). A key is never replaced by no key.
FILL_SURVEY_SQL = (
    "UPDATE calls SET survey_digit = $3, survey_at = $4, survey_source = 'ami', updated_at = now()"
    " WHERE node = $1 AND linkedid = $2 AND finalized_at IS NOT NULL AND survey_digit IS NULL"
)


async def upsert_calls(conn: asyncpg.Connection, records: Iterable[CallRecord]) -> None:
    """Upsert records (one statement, pipelined). Call inside a transaction for all-or-nothing."""
    records = list(records)
    rows = [_args(r) for r in records]
    if rows:
        await conn.executemany(UPSERT_SQL, rows)
    keys = [(r.node, r.linkedid, r.survey_digit, r.survey_at) for r in records if r.survey_digit is not None]
    if keys:
        await conn.executemany(FILL_SURVEY_SQL, keys)


async def load_open_calls(conn: asyncpg.Connection, node: str) -> list[CallRecord]:
    """Calls a previous process left open on this node: the interpreter adopts them on start."""
    rows = await conn.fetch("SELECT * FROM calls WHERE node = $1 AND state <> 'ended' ORDER BY id", node)
    out: list[CallRecord] = []
    for row in rows:
        transfers = row["transfers"]
        if isinstance(transfers, str):
            transfers = json.loads(transfers)
        rec = CallRecord(node=row["node"], linkedid=row["linkedid"], transfers=list(transfers or []))
        for col in _RECORD_COLUMNS:
            if col not in ("transfers", "incomplete"):
                setattr(rec, col, row[col])
        rec.gap = True
        out.append(rec)
    return out


async def find_agent_user(conn: asyncpg.Connection, interface: str | None, name: str | None) -> int | None:
    if not interface and not name:
        return None
    return await conn.fetchval("SELECT " + AGENT_USER_SQL.format(iface="$1", name="$2"), interface, name)


async def caller_history(conn: asyncpg.Connection, caller_number: str, limit: int = 10) -> list[dict[str, Any]]:
    """The caller's work orders, newest first."""
    rows = await conn.fetch(
        """SELECT number, kind, status, content, created_at
             FROM work_orders
            WHERE caller_number = $1
            ORDER BY created_at DESC, id DESC
            LIMIT $2""",
        caller_number,
        limit,
    )
    return [
        {
            "number": r["number"],
            "kind": r["kind"],
            "status": r["status"],
            "content": r["content"],
            "created_at": r["created_at"].isoformat(),
        }
        for r in rows
    ]


def coalesce_latest(records: Sequence[CallRecord]) -> list[CallRecord]:
    """Keep only the newest snapshot of each call (records are whole, so the last one wins)."""
    latest: dict[tuple[str, str], CallRecord] = {}
    for rec in records:
        latest.pop(rec.key, None)
        latest[rec.key] = rec
    return list(latest.values())

"""Write what the CEL interpreter made of a call: the call row (CEL wins) and its legs.

A CEL pass completes or corrects what AMI recorded live: a call AMI never saw is created, a
flagged (``incomplete``) one completed, and where AMI said otherwise both values are logged.
The row is then *final* (``finalized_at``): AMI upserts no longer change it. Writing the same
call twice changes nothing (the row and its legs are only rewritten when they differ), so a
rebuild is idempotent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from adapters.cel.interpreter import AgentLeg, CelCall, QueueSegment, interpret
from adapters.cel.rows import from_record

log = logging.getLogger(__name__)

TIME_TOLERANCE = timedelta(seconds=1)  # AMI Timestamp vs CEL eventtime: beyond this it is a disagreement
_COMPARED_TIMES = ("entered_at", "answered_at", "ended_at")

# The hotline user behind an agent interface: users.agent_interface is the queue member's
# Interface (Local/1001@agents/n); CEL knows the channel (Local/1001@agents-…;1 → Local/1001@agents).
# queue_log names the member instead (Agent 1001): users.agent_name.
AGENT_USER_BY_INTERFACE = (
    "(SELECT u.id FROM users u WHERE u.agent_interface = {iface}"
    " OR left(u.agent_interface, length({iface}) + 1) = {iface} || '/' OR u.agent_name = {iface}"
    " ORDER BY u.active DESC, u.id LIMIT 1)"
)

_CALL_COLUMNS = (
    "caller_uniqueid", "caller_channel", "caller_number", "caller_name", "queue", "outcome", "entered_at",
    "answered_at", "ended_at", "hold_time", "talk_time", "ring_no_answer", "agent_interface", "complete_reason",
    "hangup_cause", "transfers", "survey_digit", "survey_at", "survey_source",
)  # fmt: skip
_SURVEY_COLUMNS = ("survey_digit", "survey_at", "survey_source")
# What AMI knows and CEL does not: kept from the AMI row when it is about the same agent.
_SAME_AGENT = (
    "(c.agent_interface = EXCLUDED.agent_interface"
    " OR left(c.agent_interface, length(EXCLUDED.agent_interface) + 1) = EXCLUDED.agent_interface || '/')"
)
# The survey: CEL (durable) wins when it has a key. Without one (no survey row, as from a queue_log;
# the caller pressed nothing; a value that is not one key) a key AMI heard stays, with its time and
# source; with no key from either, CEL's telling stands.
_KEEP_SURVEY = "(EXCLUDED.survey_digit IS NULL AND (c.survey_digit IS NOT NULL OR EXCLUDED.survey_at IS NULL))"
_KEPT = {
    "agent_interface": f"CASE WHEN {_SAME_AGENT} THEN c.agent_interface ELSE EXCLUDED.agent_interface END",
    "agent_name": f"CASE WHEN {_SAME_AGENT} THEN c.agent_name END",
    "ring_time": f"CASE WHEN {_SAME_AGENT} THEN c.ring_time END",
    "finalized_at": "COALESCE(c.finalized_at, EXCLUDED.finalized_at)",
    **{col: f"CASE WHEN {_KEEP_SURVEY} THEN c.{col} ELSE EXCLUDED.{col} END" for col in _SURVEY_COLUMNS},
}
_SET = {
    **{col: f"EXCLUDED.{col}" for col in _CALL_COLUMNS if col not in _KEPT},
    **_KEPT,
    "agent_user_id": "EXCLUDED.agent_user_id",
    "state": "'ended'",
    # CEL completes the call; what stays doubtful is a survey value that was not one key.
    "incomplete": "EXCLUDED.incomplete",
    "source": "EXCLUDED.source",
}


def _upsert_sql() -> str:
    params = {"node": "$1", "linkedid": "$2"}
    for i, col in enumerate(_CALL_COLUMNS, start=3):
        params[col] = f"${i}::text::jsonb" if col == "transfers" else f"${i}"
    params["finalized_at"] = f"${len(params) + 1}"
    params["source"] = f"${len(params) + 1}"
    params["incomplete"] = f"${len(params) + 1}"
    params["agent_user_id"] = AGENT_USER_BY_INTERFACE.format(iface=params["agent_interface"])
    params["state"] = "'ended'"
    return (
        f"INSERT INTO calls AS c ({', '.join(params)}) VALUES ({', '.join(params.values())})"
        " ON CONFLICT (node, linkedid) DO UPDATE SET "
        + ", ".join(f"{col} = {expr}" for col, expr in _SET.items())
        + ", updated_at = now()"
        + f" WHERE ({', '.join('c.' + c for c in _SET)}) IS DISTINCT FROM ({', '.join(_SET.values())})"
        + " RETURNING id"
    )


UPSERT_SQL = _upsert_sql()

_AGENT_LEG_SQL = (
    "INSERT INTO call_agent_legs (call_id, seq, queue, channel, uniqueid, interface, agent_user_id, ringing_at,"
    " answered_at, ended_at, wait_seconds, talk_seconds, ended_by) VALUES ($1, $2, $3, $4, $5, $6,"
    f" {AGENT_USER_BY_INTERFACE.format(iface='$6')}, $7, $8, $9, $10, $11, $12)"
)
# The answering agent leg by its seq, so both kinds of leg go in as two pipelined batches.
_QUEUE_LEG_SQL = (
    "INSERT INTO call_queue_legs (call_id, seq, queue, channel, uniqueid, joined_at, left_at, position, outcome,"
    " agent_leg_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
    " (SELECT a.id FROM call_agent_legs a WHERE a.call_id = $1 AND a.seq = $10))"
)
_AGENT_FIELDS = ("seq", "queue", "channel", "uniqueid", "interface", "ringing_at", "answered_at", "ended_at",
                 "wait_seconds", "talk_seconds", "ended_by")  # fmt: skip
_QUEUE_FIELDS = ("seq", "queue", "channel", "uniqueid", "joined_at", "left_at", "outcome")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _agent_tuple(leg: AgentLeg) -> tuple[Any, ...]:
    return tuple(_ms(v) if isinstance(v, float) else v for v in (getattr(leg, f) for f in _AGENT_FIELDS))


def _queue_tuple(seg: QueueSegment) -> tuple[Any, ...]:
    return tuple(getattr(seg, f) for f in _QUEUE_FIELDS)


def disagreements(ami: asyncpg.Record | None, call: CelCall) -> list[dict[str, Any]]:
    """Where the AMI row said otherwise than CEL (times beyond :data:`TIME_TOLERANCE`)."""
    if ami is None or ami["finalized_at"] is not None:
        return []
    out: list[dict[str, Any]] = []
    for col in _COMPARED_TIMES:
        mine, theirs = ami[col], getattr(call, col)
        if (mine is None) != (theirs is None) or (mine and theirs and abs(mine - theirs) > TIME_TOLERANCE):
            out.append({"field": col, "ami": mine and mine.isoformat(), "cel": theirs and theirs.isoformat()})
    for col in ("queue", "outcome", "talk_time"):
        mine, theirs = ami[col], getattr(call, col)
        if col == "talk_time" and mine is not None and theirs is not None and abs(mine - theirs) <= 1:
            continue
        if mine is not None and mine != theirs:
            out.append({"field": col, "ami": mine, "cel": theirs})
    if ami["survey_digit"] is not None and call.survey_digit is not None and ami["survey_digit"] != call.survey_digit:
        out.append({"field": "survey_digit", "ami": ami["survey_digit"], "cel": call.survey_digit})
    iface = ami["agent_interface"]
    if iface and call.agent_interface and not (iface + "/").startswith(call.agent_interface + "/"):
        out.append({"field": "agent_interface", "ami": iface, "cel": call.agent_interface})
    return out


async def existing_calls(conn: asyncpg.Connection, node: str, linkedids: Sequence[str]) -> dict[str, asyncpg.Record]:
    """The stored rows of these calls, locked for the transaction (one query for a batch)."""
    rows = await conn.fetch(
        "SELECT * FROM calls WHERE node = $1 AND linkedid = ANY($2::text[]) ORDER BY id FOR UPDATE",
        node,
        list(linkedids),
    )
    return {r["linkedid"]: r for r in rows}


async def write_call(
    conn: asyncpg.Connection,
    node: str,
    call: CelCall,
    *,
    now: datetime,
    source: str = "cel",
    before: asyncpg.Record | None = None,
    looked_up: bool = False,
) -> bool:
    """Store one call and its legs (inside the caller's transaction). True when anything changed.
    ``source``: ``cel``, or ``queue_log`` for calls built from a queue_log. ``before``: its stored
    row when the caller already fetched it (``looked_up``; None then means there is none)."""
    if not looked_up:
        before = (await existing_calls(conn, node, [call.linkedid])).get(call.linkedid)
    for diff in disagreements(before, call):
        log.warning(
            f"AMI and {source} disagree; {source} wins", extra={"node": node, "linkedid": call.linkedid, **diff}
        )
    values = [getattr(call, col) for col in _CALL_COLUMNS]
    values[_CALL_COLUMNS.index("transfers")] = json.dumps(call.transfers, ensure_ascii=False)
    if call.survey_garbled:
        log.warning("CEL survey value is not one key; not stored, call flagged",
                    extra={"node": node, "linkedid": call.linkedid})  # fmt: skip
    call_id = await conn.fetchval(UPSERT_SQL, node, call.linkedid, *values, now, source, call.survey_garbled)
    changed = call_id is not None
    if call_id is None:
        assert before is not None
        call_id = before["id"]
    return await _write_legs(conn, call_id, call, new=before is None) or changed


async def _write_legs(conn: asyncpg.Connection, call_id: int, call: CelCall, *, new: bool) -> bool:
    if not new and await _same_legs(conn, call_id, call):
        return False
    if not new:
        await conn.execute("DELETE FROM call_queue_legs WHERE call_id = $1", call_id)
        await conn.execute("DELETE FROM call_agent_legs WHERE call_id = $1", call_id)
    await conn.executemany(_AGENT_LEG_SQL, [(call_id, *_agent_tuple(leg)) for leg in call.agent_legs])
    await conn.executemany(
        _QUEUE_LEG_SQL,
        [(call_id, s.seq, s.queue, s.channel, s.uniqueid, s.joined_at, s.left_at, None, s.outcome, s.agent_leg)
         for s in call.queue_legs],
    )  # fmt: skip
    return True


async def _same_legs(conn: asyncpg.Connection, call_id: int, call: CelCall) -> bool:
    agent_rows = await conn.fetch(
        f"SELECT {', '.join(_AGENT_FIELDS)} FROM call_agent_legs WHERE call_id = $1 ORDER BY seq", call_id
    )
    queue_rows = await conn.fetch(
        f"SELECT {', '.join(_QUEUE_FIELDS)} FROM call_queue_legs WHERE call_id = $1 ORDER BY seq", call_id
    )
    stored_agents = [tuple(float(v) if f.endswith("_seconds") and v is not None else v for f, v in r.items())
                     for r in agent_rows]  # fmt: skip
    return stored_agents == [_agent_tuple(a) for a in call.agent_legs] and [tuple(r.values()) for r in queue_rows] == [
        _queue_tuple(q) for q in call.queue_legs
    ]


async def rebuild(
    conn: asyncpg.Connection, cel: asyncpg.Connection, node: str, linkedids: Sequence[str], *, now: datetime
) -> int:
    """Rebuild the calls of these Linkedids from the CEL rows in ``cel`` (may be ``conn``).
    Returns how many call records changed. Linkedids still in progress or not queue calls are left."""
    if not linkedids:
        return 0
    records = await cel.fetch("SELECT * FROM cel WHERE linkedid = ANY($1::text[]) ORDER BY id", list(linkedids))
    by_linkedid: dict[str, list[Any]] = {}
    for record in records:
        by_linkedid.setdefault(record["linkedid"], []).append(from_record(record))
    stored = await existing_calls(conn, node, linkedids)
    changed = 0
    for linkedid in linkedids:
        call = interpret(by_linkedid.get(linkedid, ()))
        if call is not None and await write_call(
            conn, node, call, now=now, before=stored.get(linkedid), looked_up=True
        ):
            changed += 1
    return changed

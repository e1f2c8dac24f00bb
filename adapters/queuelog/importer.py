"""``hotline queue-log import FILE``: call records from Asterisk's queue_log, for a site whose
Asterisk cannot write CEL to PostgreSQL, with the same reconciliation as the CEL pass for the
fields queue_log carries (adapters/cel/store.py: created, completed, disagreements logged).

queue_log's callid is the Uniqueid of the channel that ran Queue(). It is mapped to its call's
Linkedid through what we know: a call record whose caller leg it is (AMI saw it), or a CEL row
of that channel; a call known to neither is keyed by that Uniqueid. Importing a file twice
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from adapters.cel.store import write_call
from adapters.queuelog.interpreter import Line, QueueLogError, interpret, parse_line

__all__ = ["ImportResult", "QueueLogError", "import_queue_log"]


@dataclass(frozen=True)
class ImportResult:
    lines: int
    calls: int
    calls_changed: int


def read_lines(path: Path) -> list[Line]:
    out = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, start=1):
            if text.strip():
                line = parse_line(text, number)
                if line is not None:
                    out.append(line)
    return out


async def _linkedids(conn: asyncpg.Connection, node: str, callids: list[str]) -> dict[str, str]:
    known = {
        r["caller_uniqueid"]: r["linkedid"]
        for r in await conn.fetch(
            "SELECT caller_uniqueid, linkedid FROM calls WHERE node = $1 AND caller_uniqueid = ANY($2::text[])",
            node,
            callids,
        )
    }
    missing = [c for c in callids if c not in known]
    for r in await conn.fetch(
        "SELECT DISTINCT ON (uniqueid) uniqueid, linkedid FROM cel WHERE uniqueid = ANY($1::text[]) ORDER BY uniqueid, id",
        missing,
    ):
        known[r["uniqueid"]] = r["linkedid"]
    return {c: known.get(c, c) for c in callids}


async def import_queue_log(conn: asyncpg.Connection, path: Path, node: str, *, now: datetime) -> ImportResult:
    lines = read_lines(path)
    callids = list(dict.fromkeys(line.callid for line in lines))
    async with conn.transaction():
        linkedid_of = await _linkedids(conn, node, callids)
        by_call: dict[str, list[Line]] = {}
        for line in lines:
            by_call.setdefault(linkedid_of[line.callid], []).append(line)
        changed = 0
        for linkedid, call_lines in by_call.items():
            call = interpret(linkedid, call_lines)
            if call is not None and await write_call(conn, node, call, now=now, source="queue_log"):
                changed += 1
    return ImportResult(len(lines), len(by_call), changed)

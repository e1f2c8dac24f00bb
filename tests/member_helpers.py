"""Helpers for the queue-member tests: the ``states`` recording, its facts file's member
timelines (read by the recording's own tools, independent of our code), and ours from the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg

from adapters.ami.replay import Cut, ReplayServer
from adapters.ami.trace import Trace, load_trace
from tests.ami_helpers import SECRET, USER

# The facts file's state names -> ours.
STATE = {"in call": "in_call", "removed": "offline"}

Entry = tuple[float, str, bool, str | None]  # time, state, paused, reason


def states_trace(shared_dir: Path) -> Trace:
    return load_trace(shared_dir / "asterisk" / "states.ami")


def states_facts(shared_dir: Path) -> dict[str, Any]:
    return json.loads((shared_dir / "asterisk" / "states.facts.json").read_text(encoding="utf-8"))


def member_key(queue: str, interface: str) -> str:
    """``hotline/1002`` for (hotline, Local/1002@agents/n), as the facts file names members."""
    return f"{queue}/{interface.split('/', 1)[1].split('@', 1)[0]}"


def expected_timelines(shared_dir: Path) -> dict[str, list[Entry]]:
    return {
        key: [(e["t"], STATE.get(e["state"], e["state"]), e["paused"], e["reason"]) for e in m["ami"]["timeline"]]
        for key, m in states_facts(shared_dir)["members"].items()
    }


def state_at(timeline: list[Entry], t: float) -> Entry:
    """The member's entry in force at time ``t``."""
    return [e for e in timeline if e[0] <= t][-1]


def states_server(shared_dir: Path, cuts: list[Cut] | None = None, **options: Any) -> ReplayServer:
    return ReplayServer(states_trace(shared_dir), username=USER, secret=SECRET, cuts=cuts or [],
                        answers_in_place=True, **options)  # fmt: skip


async def timelines(pool: asyncpg.Pool, node: str) -> dict[str, list[tuple[float, str, bool, str | None, str]]]:
    """Ours: every stored change of the node's members, in the order they were made."""
    out: dict[str, list[tuple[float, str, bool, str | None, str]]] = {}
    for r in await pool.fetch("SELECT * FROM member_state_changes WHERE node = $1 ORDER BY id", node):
        out.setdefault(member_key(r["queue"], r["interface"]), []).append(
            (r["at"].timestamp(), r["state"], r["paused"], r["reason"], r["event"])
        )
    return out


def agrees(ours: list[tuple[float, str, bool, str | None, str]], facts: list[Entry]) -> bool:
    """Same changes in the same order; times equal (to the ms) for the events, not for QueueStatus
    entries, which take the moment we asked."""
    if [o[1:4] for o in ours] != [f[1:] for f in facts]:
        return False
    return all(abs(o[0] - f[0]) < 0.002 for o, f in zip(ours, facts, strict=True) if o[4] != "QueueStatus")

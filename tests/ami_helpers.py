"""Shared helpers for the AMI adapter tests: traces, a fast node config, running the
adapter against a replay server until everything it sent is stored."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from adapters.ami.adapter import AmiAdapter
from adapters.ami.config import AmiNode
from adapters.ami.replay import ReplayServer
from adapters.ami.trace import Trace, TraceMessage, load_trace

NODE = "pbx1"
USER = "hotline"
SECRET = "s3cret"


def trace(shared_dir: Path, name: str) -> Trace:
    return load_trace(shared_dir / "ami-traces" / f"{name}.ami")


def node_for(server: ReplayServer, **overrides: Any) -> AmiNode:
    fields: dict[str, Any] = {
        "name": NODE,
        "host": "127.0.0.1",
        "port": server.port,
        "username": USER,
        "secret": SECRET,
        "ping_interval": 5.0,
        "ping_timeout": 2.0,
        "connect_timeout": 2.0,
        "action_timeout": 3.0,
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
    }
    fields.update(overrides)
    return AmiNode(**fields)


async def wait_for(predicate: Any, within: float = 20.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def settle(adapter: AmiAdapter, server: ReplayServer, within: float = 30.0) -> None:
    """Wait until the server played everything, the adapter received it and stored it."""
    await asyncio.wait_for(server.done.wait(), within)
    session = adapter.sessions[NODE]
    await wait_for(lambda: session.stats.events >= server.events_sent, within, "adapter to receive every event")
    await asyncio.wait_for(adapter.flush(), within)


async def replay_into(
    pool: asyncpg.Pool, redis: aioredis.Redis | None, server: ReplayServer, **node_overrides: Any
) -> AmiAdapter:
    """Run an adapter against ``server`` until the whole trace is stored; returns it stopped."""
    await server.start()
    adapter = AmiAdapter([node_for(server, **node_overrides)], pool, redis)
    await adapter.start()
    try:
        await settle(adapter, server)
    finally:
        await adapter.stop()
        await server.close()
    return adapter


async def calls(pool: asyncpg.Pool) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM calls ORDER BY linkedid")
    return {r["linkedid"]: dict(r) for r in rows}


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("id", "created_at", "updated_at")}


def linkedid_of(msg: TraceMessage) -> str | None:
    return msg.get("Linkedid") or msg.get("LinkedID")


def trace_facts(t: Trace) -> dict[str, Any]:
    """What the trace itself says, independent of our interpreter."""
    connects = t.events("AgentConnect")
    completes = t.events("AgentComplete")
    abandons = t.events("QueueCallerAbandon")
    joins = t.events("QueueCallerJoin")
    return {
        "joined": {m.get("Linkedid") for m in joins},
        "answered": {m.get("Linkedid") for m in connects},
        "abandoned": {m.get("Linkedid") for m in abandons},
        "talk_times": Counter(int(m.get("TalkTime") or 0) for m in completes),
        "talk_by_linkedid": {m.get("Linkedid"): int(m.get("TalkTime") or 0) for m in completes if m.get("Linkedid")},
        "names": {m.get("Linkedid"): m.get("CallerIDName") for m in joins},
        "numbers": {m.get("Linkedid"): m.get("CallerIDNum") for m in joins},
        "ring_no_answer": Counter(m.get("Linkedid") for m in t.events("AgentRingNoAnswer")),
    }

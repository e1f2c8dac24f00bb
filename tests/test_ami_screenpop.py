"""Screen-pop: an answered call reaches the answering agent's desktop channel with the caller's history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from adapters.ami.replay import ReplayServer
from hotline import bus
from tests.ami_helpers import SECRET, USER, calls, replay_into, trace

CITIZEN_0 = "13576397250"  # basic.ami's first call, answered by Agent 1001


async def _user(pool: asyncpg.Pool, username: str, interface: str | None, name: str | None) -> int:
    return await pool.fetchval(
        """INSERT INTO users (username, display_name, password_hash, role, agent_interface, agent_name)
           VALUES ($1, $1, 'x', 'agent', $2, $3) RETURNING id""",
        username,
        interface,
        name,
    )


async def _orders(pool: asyncpg.Pool, number: str, count: int, start: int) -> list[str]:
    base = datetime(2026, 11, 1, 9, tzinfo=UTC)
    numbers = []
    for i in range(count):
        order_number = f"20261101-{start + i:06d}"
        await pool.execute(
            """INSERT INTO work_orders (number, kind, status, content, caller_number, created_at)
               VALUES ($1, 'complaint', 'received', $2, $3, $4)""",
            order_number,
            f"第{i}次来电：噪音扰民",
            number,
            base + timedelta(days=i),
        )
        numbers.append(order_number)
    return numbers


async def _drain(pubsub: Any) -> list[tuple[str, dict[str, Any]]]:
    got, quiet = [], 0
    while quiet < 3:  # subscribe confirmations also come back as None: stop after a quiet spell
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if msg is None:
            quiet += 1
        else:
            quiet = 0
            got.append((msg["channel"], json.loads(msg["data"])))
    return got


async def test_answered_calls_pop_on_the_agents_desktop(
    pool: asyncpg.Pool, redis: aioredis.Redis, shared_dir: Path
) -> None:
    by_interface = await _user(pool, "agent1001", "Local/1001@agents/n", "Agent 1001")
    by_name = await _user(pool, "agent1002", None, "Agent 1002")  # no interface: found by MemberName
    ordered = await _orders(pool, CITIZEN_0, 12, 1)
    await _orders(pool, "13900000000", 1, 100)  # someone else's

    pubsub = redis.pubsub()
    await pubsub.subscribe(bus.channel(redis, f"desktop:{by_interface}"), bus.channel(redis, f"desktop:{by_name}"))
    t = trace(shared_dir, "basic")
    adapter = await replay_into(pool, redis, ReplayServer(t, username=USER, secret=SECRET))
    got = await _drain(pubsub)
    await pubsub.aclose()

    connects = t.events("AgentConnect")
    expected = {
        bus.channel(redis, f"desktop:{by_interface}"): sorted(m.get("Linkedid") for m in connects if m.get("Interface") == "Local/1001@agents/n"),
        bus.channel(redis, f"desktop:{by_name}"): sorted(m.get("Linkedid") for m in connects if m.get("MemberName") == "Agent 1002"),
    }  # fmt: skip
    for channel, linkedids in expected.items():
        assert sorted(e["call"]["linkedid"] for c, e in got if c == channel) == linkedids
    assert adapter.screenpop.published == len(got)
    assert adapter.screenpop.skipped == len(connects) - len(got) > 0  # Agents 1003/1004 map to nobody

    rows = await calls(pool)
    [(channel, pop)] = [(c, e) for c, e in got if e["call"]["caller_number"] == CITIZEN_0]
    row = rows[pop["call"]["linkedid"]]
    assert pop["type"] == "screen_pop"
    assert pop["call"] == {
        "id": row["id"],
        "linkedid": row["linkedid"],
        "caller_number": CITIZEN_0,
        "caller_name": "Citizen 0",
        "queue": "hotline",
        "answered_at": row["answered_at"].isoformat(),
    }
    assert [h["number"] for h in pop["history"]] == list(reversed(ordered))[:10]  # newest first, at most 10
    assert pop["history"][0] == {
        "number": ordered[-1],
        "kind": "complaint",
        "status": "received",
        "content": "第11次来电：噪音扰民",
        "created_at": datetime(2026, 11, 12, 9, tzinfo=UTC).isoformat(),
    }
    assert row["agent_user_id"] == by_interface
    assert {r["agent_user_id"] for r in rows.values() if r["agent_name"] == "Agent 1002"} == {by_name}
    others = [e for c, e in got if e["call"]["caller_number"] != CITIZEN_0]
    assert others and all(e["history"] == [] for e in others)

"""The wallboard (``GET /api/wallboard``, its live socket, the queue gauges on /metrics): right
after an adapter restart in the middle of calls it shows what QueueStatus says, and what the
recording's own facts say, of every member and every waiting caller."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis

from adapters.ami.adapter import AmiAdapter
from adapters.ami.replay import Cut, ReplayServer
from adapters.ami.trace import parse_headers
from hotline.figures import TZ
from hotline.wallboard.push import WallboardPush
from tests.ami_helpers import NODE, node_for, settle, wait_for
from tests.api_helpers import Client, running_server
from tests.member_helpers import expected_timelines, member_key, state_at, states_server, states_trace
from tests.test_operator_metrics import _value

RESTART_AT = 1796177430.0  # 1001 and 1003 in calls, two callers waiting, 1002 and 1004 paused, 1005 out


@pytest.fixture
async def db(seeded_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(seeded_database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


def _queue_status(server: ReplayServer) -> list[dict[str, str]]:
    """What the server answered (would answer) to QueueStatus now, as header dicts."""
    return [parse_headers(block) for block in server.state.queue_status("check").split(b"\r\n\r\n") if block]


async def _restart_mid_call(db: asyncpg.Pool, shared_dir: Path) -> ReplayServer:
    """One adapter until RESTART_AT, stopped; a new one connects and reconciles; the PBX then stays
    quiet so the board can be compared at that moment."""
    k = next(i for i, m in enumerate(states_trace(shared_dir).stream) if (m.timestamp or 0) >= RESTART_AT)
    server = states_server(shared_dir, cuts=[Cut(after_events=k, silent=True), Cut(after_events=k, silent=True)])
    await server.start()
    first = AmiAdapter([node_for(server, ping_interval=60)], db, None)
    await first.start()
    await wait_for(lambda: first.sessions[NODE].stats.events >= k, 20, "the first adapter to hear the calls")
    await first.flush()
    await first.stop()
    second = AmiAdapter([node_for(server, ping_interval=60)], db, None)
    await second.start()
    session = second.sessions[NODE]
    await wait_for(lambda: server.actions.count("QueueStatus") == 2 and session._held is None, 20, "reconcile")
    await second.flush()
    await second.stop()
    await server.close()
    return server


async def test_after_a_restart_mid_call_the_wallboard_is_queue_status(
    db: asyncpg.Pool, seeded_database_url: str, redis_url: str, shared_dir: Path
) -> None:
    server = await _restart_mid_call(db, shared_dir)
    status = _queue_status(server)
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as http:
        supervisor = await Client(http, base).login("supervisor")
        code, board = await supervisor.request("GET", "/api/wallboard")
        assert code == 200, board
        metrics = await (await http.get(f"{base}/metrics")).text()
    queues = {q["queue"]: q for q in board["queues"]}
    members = {member_key(q, m["interface"]): m for q, qb in queues.items() for m in qb["members"]}
    # every member QueueStatus lists, as it lists it
    listed = {member_key(m["Queue"], m["Location"]): m for m in status if m.get("Event") == "QueueMember"}
    assert set(listed) <= set(members)
    for key, m in listed.items():
        ours = members[key]
        in_call = m.get("InCall") == "1" or m.get("Status") in ("2", "3", "8")
        assert (ours["state"] == "in_call") == in_call, (key, ours, m)
        assert ours["paused"] == (m.get("Paused") == "1") and ours["reason"] == (m.get("PausedReason") or None), key
        assert ours["node"] == NODE
    # …and as the recording's facts have every member at that moment (1005, removed, offline)
    facts = expected_timelines(shared_dir)
    for key, timeline in facts.items():
        _, state, paused, reason = state_at(timeline, RESTART_AT)
        assert (members[key]["state"], members[key]["paused"], members[key]["reason"]) == (state, paused, reason), key
    assert sum(m["state"] == "in_call" for m in members.values()) == 2
    # the callers waiting are QueueStatus's entries, longest first, with no number or name
    entries = [m for m in status if m.get("Event") == "QueueEntry"]
    waiting = queues["hotline"]["waiting"]
    assert [w["linkedid"] for w in waiting] == [server.state.channels[e["Uniqueid"]].linkedid for e in entries]
    assert len(waiting) == 2 and queues["hotline"]["longest_wait"] == waiting[0]["wait"] > 0
    assert not any(k.startswith("caller") for w in waiting for k in w)
    assert queues["hotline"]["agents_by_state"] == {"offline": 1, "ready": 0, "ringing": 0, "in_call": 2,
                                                    "wrapup": 0, "paused": 2}  # fmt: skip
    assert queues["expert"]["agents_by_state"]["ready"] == 1
    # the operator's gauges say the same
    assert _value(metrics, "hotline_queue_callers_waiting", queue="hotline") == 2
    assert _value(metrics, "hotline_queue_agents", queue="hotline", state="in_call") == 2
    assert _value(metrics, "hotline_queue_agents", queue="hotline", state="paused") == 2


async def test_the_wallboard_counts_today_and_is_pushed_live(
    db: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis: aioredis.Redis, shared_dir: Path
) -> None:
    now = [datetime.fromtimestamp(RESTART_AT + 3600, UTC)]  # the recording's day, an hour after its calls
    async with (
        running_server(seeded_database_url, redis_url, clock=lambda: now[0]) as base,
        aiohttp.ClientSession() as http,
    ):
        supervisor = await Client(http, base).login("supervisor")
        async with http.ws_connect(f"{base}/api/wallboard/ws",
                                   headers={"Authorization": f"Bearer {supervisor.token}"}) as ws:  # fmt: skip
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            server = states_server(shared_dir)
            await server.start()
            adapter = AmiAdapter([node_for(server)], db, redis, clock=lambda: now[0])
            await adapter.start()
            try:
                await settle(adapter, server)
                frame = await _last_wallboard(ws)
            finally:
                await adapter.stop()
                await server.close()
        hotline = next(q for q in frame["wallboard"]["queues"] if q["queue"] == "hotline")
        assert {m["state"] for m in hotline["members"]} == {"ready"} and hotline["waiting"] == []
        # The frame is told at the services' clock, as GET /api/wallboard is: each member's time in
        # its state runs to that "now" (an hour after the recording), not to this machine's day.
        for m in hotline["members"]:
            since = datetime.fromisoformat(m["since"])
            assert m["in_state"] == int((now[0] - since).total_seconds()) and 0 < m["in_state"] < 2 * 3600, m
        assert adapter.wallboard.pushed >= 1
        code, board = await supervisor.request("GET", "/api/wallboard")
        today = next(q for q in board["queues"] if q["queue"] == "hotline")["today"]
        assert today == {"offered": 20, "answered": 20, "abandoned": 0, "service_level_15s": 1.0}
        now[0] += timedelta(days=1)  # the next day starts from nothing
        code, board = await supervisor.request("GET", "/api/wallboard")
        assert code == 200
        today = next(q for q in board["queues"] if q["queue"] == "hotline")["today"]
        assert today == {"offered": 0, "answered": 0, "abandoned": 0, "service_level_15s": None}


async def test_the_push_recounts_today_at_most_every_few_seconds_and_at_midnight(db: asyncpg.Pool) -> None:
    tick = [100.0]
    push = WallboardPush(db, None, today_every=5.0, monotonic=lambda: tick[0])
    evening = datetime(2026, 10, 5, 23, 59, 50, tzinfo=TZ)

    async def call(name: str, entered: datetime) -> None:
        await db.execute(
            """INSERT INTO calls (node, linkedid, queue, state, outcome, entered_at, hold_time, talk_time)
               VALUES ('pbx1', $1, 'hotline', 'ended', 'answered', $2, 5, 60)""", name, entered)  # fmt: skip

    async def offered(now: datetime) -> int:
        async with db.acquire() as conn:
            return (await push._today_figures(conn, now)).get("hotline", {}).get("offered", 0)

    await call("w1", evening - timedelta(minutes=5))
    assert await offered(evening) == 1
    await call("w2", evening - timedelta(minutes=1))
    tick[0] += 4.9
    assert await offered(evening) == 1  # within today_every: the counts of 4.9 s ago
    tick[0] += 0.1
    assert await offered(evening) == 2  # 5 s on: counted again
    await call("w3", evening + timedelta(seconds=15))  # 00:00:05 the next day
    tick[0] += 1
    assert await offered(evening + timedelta(seconds=20)) == 1  # a new day is counted at once, from nothing


async def _last_wallboard(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The newest wallboard frame once the pushes have stopped coming."""
    frame = None
    while True:
        try:
            msg = await ws.receive(timeout=2.0)
        except TimeoutError:
            break
        data = json.loads(msg.data)
        if data.get("type") == "wallboard":
            frame = data
    assert frame is not None, "no wallboard frame was pushed"
    return frame


@pytest.mark.parametrize("who", ["agent1001", "cgj"])
async def test_only_supervisors_see_the_wallboard(seeded_database_url: str, redis_url: str, who: str) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as http:
        code, body = await Client(http, base).request("GET", "/api/wallboard")
        assert code == 401 and body["error"]["code"]
        user = await Client(http, base).login(who)
        code, body = await user.request("GET", "/api/wallboard")
        assert code == 403 and body["error"]["code"] == "forbidden"
        async with http.get(f"{base}/api/wallboard/ws", headers={"Authorization": f"Bearer {user.token}"}) as r:
            assert r.status == 403


async def test_an_empty_centre_has_an_empty_wallboard(seeded_database_url: str, redis_url: str) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as http:
        supervisor = await Client(http, base).login("supervisor")
        code, board = await supervisor.request("GET", "/api/wallboard")
    assert code == 200 and board["queues"] == [] and board["at"]


async def test_an_agent_sees_only_their_own_state_in_each_queue(
    db: asyncpg.Pool, seeded_database_url: str, redis_url: str
) -> None:
    at = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    rows = [("pbx1", "hotline", "Local/1002@agents/n", "paused", True, "小休"),
            ("pbx1", "expert", "Local/1002@agents/n", "in_call", True, "小休"),
            ("pbx1", "hotline", "Local/1001@agents/n", "ready", False, None)]  # fmt: skip
    await db.executemany(
        "INSERT INTO member_states (node, queue, interface, state, paused, reason, since) VALUES ($1,$2,$3,$4,$5,$6,$7)",
        [(*r, at) for r in rows],
    )
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as http:
        agent = await Client(http, base).login("agent1002")
        code, me = await agent.request("GET", "/api/agents/me/presence")
        assert code == 200
        assert me["interface"] == "Local/1002@agents/n" and me["reasons"] == ["小休", "培训", "会议", "后处理"]
        assert [(q["queue"], q["state"], q["reason"]) for q in me["queues"]] == [
            ("expert", "in_call", "小休"), ("hotline", "paused", "小休")]  # fmt: skip
        supervisor = await Client(http, base).login("supervisor")
        code, body = await supervisor.request("GET", "/api/agents/me/presence")
        assert code == 403 and body["error"]["code"] == "forbidden"

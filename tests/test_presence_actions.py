"""Presence actions through the whole server and the command channel: the AMI server (built from
the recordings) receives exactly the QueueAdd / QueueRemove / QueuePause the states scenario sent,
each once, and answers them as recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.ami_helpers import wait_for
from tests.api_helpers import Client
from tests.c2c_helpers import centre, replay

ME = "/api/agents/me"


async def _states(pool, ids: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    rows = await pool.fetch("SELECT state FROM ami_commands WHERE id = ANY($1::bigint[]) ORDER BY id", ids)
    return [r["state"] for r in rows]


async def test_sign_in_pause_unpause_sign_out_reach_the_node_once_each(
    seeded_database_url: str, seeded_pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir)
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        agent = await Client(session, base).login("agent1002")
        ids = []
        for path, body in (("sign-in", {}), ("pause", {"reason": "小休"}), ("unpause", {}), ("sign-out", {})):
            status, commands = await agent.request("POST", f"{ME}/{path}", json=body, headers={"Idempotency-Key": path})
            assert status == 202, commands
            ids += [c["id"] for c in commands]
        # a repeat (the desktop retrying after a lost answer) is the same command, not a second one
        status, again = await agent.request(
            "POST", f"{ME}/pause", json={"reason": "小休"}, headers={"Idempotency-Key": "pause"}
        )
        assert status == 202 and [c["id"] for c in again] == [ids[1]]
        await wait_for(lambda: len(server.queue_actions) >= 4, 10, "the four actions")
        for _ in range(200):
            if await _states(seeded_pool, ids) == ["answered"] * 4:
                break
            await asyncio.sleep(0.05)
    sent = [
        (a["Action"], a.get("Queue"), a["Interface"], a.get("Paused"), a.get("Reason")) for a in server.queue_actions
    ]
    assert sent == [
        ("QueueAdd", "hotline", "Local/1002@agents/n", None, None),
        ("QueuePause", None, "Local/1002@agents/n", "true", "小休"),
        ("QueuePause", None, "Local/1002@agents/n", "false", None),
        ("QueueRemove", "hotline", "Local/1002@agents/n", None, None),
    ]
    assert server.queue_actions[0]["MemberName"] == "Agent 1002"
    assert await _states(seeded_pool, ids) == ["answered"] * 4
    assert [a["ActionID"] for a in server.queue_actions] == [f"cmd-{i}" for i in ids]


async def test_bad_reason_wrong_role_malformed_body_and_no_node(
    seeded_database_url: str, seeded_pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir)
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        agent = await Client(session, base).login("agent1001")
        status, body = await agent.request("POST", f"{ME}/pause", json={"reason": "打游戏"})
        assert status == 422 and "小休" in body["error"]["details"]["known"]
        assert (await agent.request("POST", f"{ME}/pause", json={}))[0] == 422
        assert (await agent.request("POST", f"{ME}/sign-in", json=[1]))[0] == 400
        assert (await agent.request("POST", f"{ME}/sign-in", json={"queue": "x"}))[0] == 422
        supervisor = await Client(session, base).login("supervisor")
        assert (await supervisor.request("POST", f"{ME}/sign-in", json={}))[0] == 403
        handler = await Client(session, base).login("gulou")
        assert (await handler.request("POST", f"{ME}/unpause", json={}))[0] == 403
    assert server.queue_actions == []
    assert await seeded_pool.fetchval("SELECT count(*) FROM ami_commands") == 0
    async with centre(seeded_database_url, redis_url, None) as (base, session):
        agent = await Client(session, base).login("agent1001")
        status, body = await agent.request("POST", f"{ME}/sign-in", json={})
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_the_desktop_socket_pauses_once_even_when_the_frame_is_sent_again(
    seeded_database_url: str, seeded_pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir)
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        agent = await Client(session, base).login("agent1003")
        frame = {"type": "presence", "action": "pause", "reason": "培训", "key": "p1"}
        async with session.ws_connect(
            f"{base}/api/desktop/ws", headers={"Authorization": f"Bearer {agent.token}"}
        ) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            await ws.send_str("not json")
            await ws.send_json({"type": "presence", "action": "dance"})
            bad = await ws.receive_json(timeout=5)
            assert bad["ok"] is False and bad["error"]["code"] == "invalid_input"
            await ws.send_json({**frame, "reason": "午睡"})
            assert (await ws.receive_json(timeout=5))["error"]["details"]["reason"] == "午睡"
            await ws.send_json(frame)
            first = await ws.receive_json(timeout=5)
        # the desktop reconnects and, not knowing whether it was done, sends the same frame again
        async with session.ws_connect(
            f"{base}/api/desktop/ws", headers={"Authorization": f"Bearer {agent.token}"}
        ) as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            await ws.send_json(frame)
            second = await ws.receive_json(timeout=5)
        assert (
            first["ok"]
            and second["ok"]
            and first["commands"] == [{**c, "state": first["commands"][0]["state"]} for c in second["commands"]]
        )
        await wait_for(lambda: len(server.queue_actions) >= 1, 10, "the pause")
        await asyncio.sleep(0.5)  # room for a second one, which must not come
    assert [(a["Action"], a["Reason"]) for a in server.queue_actions] == [("QueuePause", "培训")]


async def test_a_pause_whose_answer_is_lost_is_unknown_and_never_sent_again(
    seeded_database_url: str, seeded_pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir, cut_queue_actions=1)
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        agent = await Client(session, base).login("agent1001")
        status, lost = await agent.request("POST", f"{ME}/pause", json={"reason": "会议"})
        assert status == 202
        await wait_for(lambda: server.logins >= 2, 10, "the reconnect")
        status, ready = await agent.request("POST", f"{ME}/unpause", json={})
        await wait_for(lambda: len(server.queue_actions) >= 2, 10, "the unpause")
        for _ in range(200):
            if await _states(seeded_pool, [lost[0]["id"], ready[0]["id"]]) == ["unknown", "answered"]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # room for a re-sent pause, which must not come
    assert await _states(seeded_pool, [lost[0]["id"], ready[0]["id"]]) == ["unknown", "answered"]
    assert [a.get("Paused") for a in server.queue_actions] == ["true", "false"]

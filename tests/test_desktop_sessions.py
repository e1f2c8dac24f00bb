"""Desktop sockets end with their session, follow Redis outages, are for agents only, and
hear only their own deployment on a shared Redis."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest
from aiohttp import WSMsgType

from hotline import bus
from tests.api_helpers import Client, running_server
from tests.redis_server import RedisServer


async def _closed(ws: aiohttp.ClientWebSocketResponse, wait: float = 5) -> tuple[int | None, list]:
    """Read until the server closes; returns the close code and the frames seen before it."""
    frames = []
    while True:
        msg = await ws.receive(timeout=wait)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return ws.close_code, frames
        frames.append(msg.json())


async def _silent(ws: aiohttp.ClientWebSocketResponse, seconds: float = 0.3) -> bool:
    try:
        await ws.receive(timeout=seconds)
    except TimeoutError:
        return True
    return False


async def test_logout_closes_the_socket_with_4401(seeded_database_url: str, redis_url: str, redis) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        agent = await Client(session, base).login("agent1001")
        other = await Client(session, base).login("agent1001")  # a second session of the same agent
        async with session.ws_connect(f"{base}/api/desktop/ws?token={agent.token}") as ws, \
                session.ws_connect(f"{base}/api/desktop/ws?token={other.token}") as ws2:  # fmt: skip
            hello = await ws.receive_json(timeout=5)
            await ws2.receive_json(timeout=5)
            assert (await agent.request("POST", "/api/auth/logout"))[0] == 204
            code, frames = await _closed(ws)
            assert code == 4401 and frames == []
            # A pop after the logout reaches only the session still logged in.
            await bus.publish(redis, f"desktop:{hello['user_id']}", {"type": "screen_pop", "call": {}})
            assert (await ws2.receive_json(timeout=5))["type"] == "screen_pop"
        async with session.get(f"{base}/api/desktop/ws?token={agent.token}") as r:
            assert r.status == 401


async def test_an_expired_token_closes_the_socket(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis
) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        agent = await Client(session, base).login("agent1001")
        await seeded_pool.execute("UPDATE auth_tokens SET expires_at = now() + interval '1 second'")
        async with session.ws_connect(f"{base}/api/desktop/ws?token={agent.token}") as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            code, _ = await _closed(ws, wait=5)
            assert code == 4401


async def test_a_disabled_account_is_closed_on_the_recheck(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hotline.api import desktop

    monkeypatch.setattr(desktop, "RECHECK_SECONDS", 0.2)
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        agent = await Client(session, base).login("agent1001")
        async with session.ws_connect(f"{base}/api/desktop/ws?token={agent.token}") as ws:
            await ws.receive_json(timeout=5)
            # Revoked behind the bus's back: no logout announcement, the re-check finds it.
            await seeded_pool.execute("UPDATE users SET active = false WHERE username = 'agent1001'")
            code, _ = await _closed(ws)
            assert code == 4401


@pytest.mark.parametrize("username", ["supervisor", "admin", "cgj"])
async def test_only_agents_hold_the_desktop_socket(seeded_database_url: str, redis_url: str, username: str) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        user = await Client(session, base).login(username)
        async with session.get(f"{base}/api/desktop/ws?token={user.token}") as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "forbidden"


async def test_a_redis_outage_closes_the_socket_so_the_client_reconnects(
    seeded_database_url: str, own_redis: RedisServer
) -> None:
    async with running_server(seeded_database_url, own_redis.url) as base, aiohttp.ClientSession() as session:
        agent = await Client(session, base).login("agent1001")
        async with session.ws_connect(f"{base}/api/desktop/ws?token={agent.token}") as ws:
            hello = await ws.receive_json(timeout=5)
            own_redis.stop()
            code, _ = await _closed(ws, wait=20)
            assert code == 1012  # service restart: reconnect
        own_redis.start()
        async with session.ws_connect(f"{base}/api/desktop/ws?token={agent.token}") as ws:
            again = await ws.receive_json(timeout=5)
            assert again["type"] == "hello" and again["channel"] == hello["channel"]


async def test_two_instances_on_one_redis_never_hear_each_other(
    seeded_database_url: str, redis_url: str, redis
) -> None:
    servers = (running_server(seeded_database_url, redis_url, instance="city-a"),
               running_server(seeded_database_url, redis_url, instance="city-b"))  # fmt: skip
    async with servers[0] as base_a, servers[1] as base_b, aiohttp.ClientSession() as session:
        a = await Client(session, base_a).login("agent1001")
        b = await Client(session, base_b).login("agent1001")
        async with session.ws_connect(f"{base_a}/api/desktop/ws?token={a.token}") as ws_a, \
                session.ws_connect(f"{base_b}/api/desktop/ws?token={b.token}") as ws_b:  # fmt: skip
            hello_a, hello_b = await ws_a.receive_json(timeout=5), await ws_b.receive_json(timeout=5)
            assert hello_a["channel"] != hello_b["channel"]
            city_a = bus.connect(redis_url, "city-a")
            try:
                pop = {"type": "screen_pop", "call": {"caller_number": "13912348692"}}
                assert await bus.publish(city_a, f"desktop:{hello_a['user_id']}", pop) == 1
                assert await ws_a.receive_json(timeout=5) == pop
                assert await _silent(ws_b)
                # A logout on city-a closes nothing on city-b.
                assert (await a.request("POST", "/api/auth/logout"))[0] == 204
                assert (await _closed(ws_a))[0] == 4401
                assert await _silent(ws_b) and not ws_b.closed
            finally:
                await city_a.aclose()

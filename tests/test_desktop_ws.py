"""The agent desktop WebSocket relays the agent's own bus events, and only those."""

from __future__ import annotations

import asyncio

import aiohttp
import redis.asyncio as aioredis

from hotline import bus
from tests.api_helpers import Client, running_server


async def test_desktop_socket_relays_own_events_only(
    seeded_database_url: str, redis_url: str, redis: aioredis.Redis
) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        agent = await Client(session, base).login("agent1001")
        me = (await agent.request("GET", "/api/me"))[1]
        async with session.ws_connect(f"{base}/api/desktop/ws?token={agent.token}") as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello" and hello["user_id"] == me["id"]
            await bus.publish(redis, f"desktop:{me['id'] + 1}", {"type": "screen_pop", "for": "someone else"})
            await bus.publish(redis, f"desktop:{me['id']}", {"type": "screen_pop", "call": {"caller_name": "张三"}})
            got = await ws.receive_json(timeout=5)
            assert got == {"type": "screen_pop", "call": {"caller_name": "张三"}}
            with_timeout = asyncio.wait_for(ws.receive_json(), 0.3)
            try:
                extra = await with_timeout
            except TimeoutError:
                extra = None
            assert extra is None


async def test_desktop_socket_refuses_a_bad_token(seeded_database_url: str, redis_url: str) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        async with session.get(f"{base}/api/desktop/ws?token=nope") as r:
            assert r.status == 401
            assert (await r.json())["error"]["code"] == "unauthenticated"
        async with session.get(f"{base}/api/desktop/ws") as r:
            assert r.status == 401

"""A database that is down or restarting answers 503 ``database_unavailable`` with Retry-After,
never 500, and the server recovers by itself once PostgreSQL is back. The test's own
connections are cut (pg_terminate_backend) and the pool pointed at a closed port; the
machine's PostgreSQL server keeps running for everyone else."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from hotline.api.app import create_app
from hotline.api.keys import POOL
from hotline.config import Settings
from hotline.db import with_database
from tests.api_helpers import Client


@dataclass
class Env:
    app: web.Application
    client: Client
    database_url: str


@pytest.fixture
async def env(seeded_database_url: str, redis_url: str) -> AsyncIterator[Env]:
    app = create_app(Settings(database_url=seeded_database_url, redis_url=redis_url, roles=["api"]))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session:
            client = await Client(session, f"http://127.0.0.1:{port}").login("agent1001")
            yield Env(app, client, seeded_database_url)
    finally:
        await runner.cleanup()


def _closed_port_url(url: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{port}").geturl()


async def _cut_connections(database_url: str) -> None:
    """Terminate every other backend on the test's database and wait until the server lists
    them gone, so the pool's sockets are closed before the next request."""
    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(with_database(database_url, name))
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        for _ in range(100):
            left = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
            )
            if left == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    await asyncio.sleep(0.1)  # the pool's sockets see the server's goodbye


async def test_a_database_that_is_gone_is_a_503_and_the_server_recovers(env: Env) -> None:
    pool = env.app[POOL]
    assert (await env.client.request("GET", "/api/orders"))[0] == 200
    pool.set_connect_args(dsn=_closed_port_url(env.database_url))
    await _cut_connections(env.database_url)
    for path in ("/api/orders", "/api/me", "/api/figures"):
        status, body = await env.client.request("GET", path)
        assert status == 503, (path, body)
        assert body["error"]["code"] == "database_unavailable"
    async with env.client.session.post(
        env.client.base + "/api/auth/login", json={"username": "agent1001", "password": "x"}
    ) as r:
        assert r.status == 503 and r.headers["Retry-After"] == "5"
    status, body = await env.client.request("GET", "/healthz")
    assert status == 503 and body["checks"]["postgres"].startswith("error")

    pool.set_connect_args(dsn=env.database_url)  # PostgreSQL is back
    status, body = await env.client.request("GET", "/api/orders")
    assert status == 200, body
    assert (await env.client.request("GET", "/healthz"))[0] == 200


async def test_connections_cut_under_the_pool_are_never_a_500(env: Env) -> None:
    """A restart with the server reachable again: at worst the request that finds its
    connection dead is a 503; the pool reconnects for the next."""
    await _cut_connections(env.database_url)
    statuses = [(await env.client.request("GET", "/api/orders"))[0] for _ in range(3)]
    assert set(statuses) <= {200, 503} and statuses[-1] == 200, statuses

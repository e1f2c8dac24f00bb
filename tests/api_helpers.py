"""A real server on a real port, and a small client that logs in as a demo user."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from hotline.api.app import create_app
from hotline.api.keys import SERVICES
from hotline.config import Settings
from hotline.seed import DEMO_PASSWORD

# This test run's name on the shared Redis: its channels and keys never meet a server's or another run's.
TEST_INSTANCE = f"test-{os.getpid()}"


@asynccontextmanager
async def running_server(
    database_url: str, redis_url: str, clock: Callable[[], datetime] | None = None, **settings: Any
) -> AsyncIterator[str]:
    """The API alone unless ``roles`` says otherwise: tests start the workers they exercise.
    ``clock`` pins what time it is for the actions and /healthz."""
    settings.setdefault("roles", ["api"])
    settings.setdefault("instance", TEST_INSTANCE)
    app = create_app(Settings(database_url=database_url, redis_url=redis_url, **settings))
    if clock is not None:
        app[SERVICES].clock = clock
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class Client:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None = None) -> None:
        self.session, self.base, self.token = session, base, token

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = kw.pop("headers", {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        async with self.session.request(method, self.base + path, headers=headers, **kw) as r:
            body = await r.json(content_type=None) if r.content_type == "application/json" else await r.text()
            return r.status, body

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> Client:
        status, body = await self.request("POST", "/api/auth/login", json={"username": username, "password": password})
        assert status == 200, body
        return Client(self.session, self.base, body["token"])

"""Click-to-call and presence tests: the whole server with its ami role against an AMI server
answering from the recordings (adapters.ami.originate_replay)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from adapters.ami.originate_replay import OriginateReplay
from adapters.ami.trace import load_trace
from tests.ami_helpers import SECRET, USER
from tests.api_helpers import Client, running_server


def facts(shared_dir: Path) -> list[dict[str, Any]]:
    return json.loads((shared_dir / "asterisk" / "originate.facts.json").read_text())["originate_calls"]


def replay(shared_dir: Path, **options: Any) -> OriginateReplay:
    return OriginateReplay(
        load_trace(shared_dir / "asterisk" / "originate.ami"), username=USER, secret=SECRET, **options
    )


def node_url(port: int) -> str:
    return f"ami://{USER}:{SECRET}@127.0.0.1:{port}/pbx1?ping_interval=5&reconnect_min=0.05&reconnect_max=0.2&action_timeout=2"


@asynccontextmanager
async def centre(
    database_url: str, redis_url: str, server: OriginateReplay | None
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """The API with its ami role on ``server`` (None: no AMI node configured)."""
    if server is not None:
        await server.start()
    nodes = node_url(server.port) if server is not None else ""
    try:
        async with running_server(database_url, redis_url, ami_nodes=nodes, roles=["api", "ami"], pool_max=4) as base:
            async with aiohttp.ClientSession() as session:
                yield base, session
    finally:
        if server is not None:
            await server.close()


async def until(client: Client, path: str, predicate: Any, within: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status, body = await client.request("GET", path)
        assert status == 200, body
        if predicate(body):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting on {path}: {body}")
        await asyncio.sleep(0.05)

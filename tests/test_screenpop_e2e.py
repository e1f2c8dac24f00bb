"""The telephony edge through the whole server: a replayed Asterisk call is answered by agent 1001,
their desktop WebSocket gets the screen-pop, and they open an order on that call."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from adapters.ami.replay import ReplayServer
from tests.ami_helpers import SECRET, USER, trace
from tests.api_helpers import Client, running_server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_answered_call_pops_on_the_agents_desktop_and_becomes_an_order(
    seeded_database_url: str, redis_url: str, shared_dir: Path
) -> None:
    server = ReplayServer(trace(shared_dir, "basic"), username=USER, secret=SECRET, gate_actions=())
    port = _free_port()
    # Asterisk is "down" until the desktop is subscribed: the adapter keeps retrying meanwhile.
    nodes = f"ami://{USER}:{SECRET}@127.0.0.1:{port}/pbx1?ping_interval=5&reconnect_min=0.05&reconnect_max=0.2"
    try:
        async with running_server(seeded_database_url, redis_url, ami_nodes=nodes, roles=["api", "ami"]) as base:
            async with aiohttp.ClientSession() as session:
                agent = await Client(session, base).login("agent1001")
                async with session.ws_connect(f"{base}/api/desktop/ws?token={agent.token}") as ws:
                    assert (await ws.receive_json(timeout=5))["type"] == "hello"
                    await server.start(port=port)
                    pop = await ws.receive_json(timeout=30)
                assert pop["type"] == "screen_pop", pop
                call = pop["call"]
                assert call["caller_number"] and call["linkedid"] and isinstance(call["id"], int)
                status, order = await agent.request(
                    "POST", f"/api/calls/{call['id']}/order", json={"kind": "consult", "content": "咨询公积金提取"}
                )
                assert status == 201, order
                assert order["caller_number"] == call["caller_number"] and order["call_linkedid"] == call["linkedid"]
    finally:
        if server._server is not None:
            await server.close()

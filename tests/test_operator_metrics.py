"""/metrics carries what an operator watches: the AMI link per node and its events (from the
adapter's process), live calls, the outbox backlog and dead deliveries, overdue assignments."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import asyncpg

from tests.ami_helpers import SECRET, USER
from tests.api_helpers import running_server
from tests.test_ami_adapter import server_for


def _value(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


async def _scrape(session: aiohttp.ClientSession, base: str) -> str:
    async with session.get(f"{base}/metrics") as r:
        assert r.status == 200
        return await r.text()


async def test_the_ami_link_its_events_and_its_loss(seeded_database_url: str, redis_url: str, shared_dir: Path) -> None:
    server = server_for(shared_dir, "basic")
    await server.start()
    nodes = f"ami://{USER}:{SECRET}@127.0.0.1:{server.port}/pbx7?reconnect_min=0.05&reconnect_max=0.2"
    async with (
        running_server(seeded_database_url, redis_url, ami_nodes=nodes, roles=["api", "ami"]) as base,
        aiohttp.ClientSession() as session,
    ):
        await asyncio.wait_for(server.done.wait(), 30)
        found: dict[str, float | None] = {}

        async def scraped() -> bool:
            text = await _scrape(session, base)
            found.update(link=_value(text, "hotline_ami_link_up", node="pbx7"),
                         events=_value(text, "hotline_ami_events_total", node="pbx7"))  # fmt: skip
            return found["link"] == 1.0 and (found["events"] or 0) >= server.events_sent

        for _ in range(100):  # the sync runs every 5 s
            if await scraped():
                break
            await asyncio.sleep(0.1)
        assert found["link"] == 1.0 and found["events"] == server.events_sent, found
        await server.close()  # the PBX goes away
        for _ in range(100):
            text = await _scrape(session, base)
            if _value(text, "hotline_ami_link_up", node="pbx7") == 0.0:
                break
            await asyncio.sleep(0.1)
        assert _value(text, "hotline_ami_link_up", node="pbx7") == 0.0
        assert (_value(text, "hotline_ami_disconnects_total", node="pbx7") or 0) >= 1


async def test_outbox_backlog_dead_deliveries_and_overdue(
    seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str
) -> None:
    async with seeded_pool.acquire() as conn:
        unit = await conn.fetchval("SELECT id FROM units WHERE code = 'city.cgj'")
        order = await conn.fetchval(
            """INSERT INTO work_orders (number, kind, content, status, created_at, updated_at)
               VALUES ('20261001-900001', 'complaint', 'x', 'dispatched', now(), now()) RETURNING id"""
        )
        await conn.execute(
            """INSERT INTO assignments (order_id, unit_id, level, status, dispatched_at, sign_due_at, reply_due_at)
               VALUES ($1, $2, 'city', 'dispatched', now() - interval '3 days', now() - interval '2 days',
                       now() + interval '5 days'),
                      ($1, $2, 'city', 'signed', now() - interval '30 days', now() - interval '29 days',
                       now() - interval '1 day')""",
            order,
            unit,
        )
        for status in ("pending", "pending", "dead"):
            await conn.execute(
                "INSERT INTO outbox (unit_id, order_id, topic, payload, status) VALUES ($1, $2, 'order.dispatched', '{}', $3)",
                unit,
                order,
                status,
            )
        now = await conn.fetchval("SELECT now()")  # the clock the rows above were written by
    async with (
        running_server(seeded_database_url, redis_url, clock=lambda: now) as base,
        aiohttp.ClientSession() as session,
    ):
        text = await _scrape(session, base)
    assert _value(text, "hotline_outbox_deliveries", status="pending") == 2.0
    assert _value(text, "hotline_outbox_deliveries", status="dead") == 1.0
    assert _value(text, "hotline_assignments_overdue", clock="sign") == 1.0
    assert _value(text, "hotline_assignments_overdue", clock="reply") == 1.0

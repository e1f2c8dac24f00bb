"""The citizen's status lookup (number + phone tail) and the channel figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from tests.api_helpers import Client, running_server
from tests.orders_helpers import new_order, order_at

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def api(seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis) -> AsyncIterator[Client]:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        yield Client(session, base)


async def test_the_right_tail_shows_status_dates_and_reply_and_nothing_about_people(
    seeded_pool: asyncpg.Pool, api: Client
) -> None:
    order = await order_at(seeded_pool, "awaiting_visit")  # caller 13912341234, reply 已清理占道摊点
    status, body = await api.request("GET", f"/api/public/orders/{order['number']}?phone_tail=1234")
    assert status == 200, body
    assert body["number"] == order["number"] and body["status"] == "已答复"
    assert body["reply_text"] == "已清理占道摊点" and body["replied_at"] and body["received_at"]
    assert set(body) == {"number", "status", "received_at", "reply_due_at", "replied_at", "reply_text", "closed_at"}
    flat = str(body)
    assert "张三" not in flat and "1391234" not in flat and "中山北路" not in flat and "噪声" not in flat

    pending = await order_at(seeded_pool, "signed")
    status, body = await api.request("GET", f"/api/public/orders/{pending['number']}?phone_tail=1234")
    assert body["status"] == "办理中" and body["reply_text"] is None and body["reply_due_at"] is not None


async def test_a_wrong_tail_looks_exactly_like_a_missing_order(seeded_pool: asyncpg.Pool, api: Client) -> None:
    order = await order_at(seeded_pool, "awaiting_visit")
    anonymous_no_phone = await new_order(seeded_pool, caller_number=None, caller_name=None)
    wrong = await api.request("GET", f"/api/public/orders/{order['number']}?phone_tail=4321")
    missing = await api.request("GET", "/api/public/orders/20000101-000001?phone_tail=1234")
    no_phone = await api.request("GET", f"/api/public/orders/{anonymous_no_phone['number']}?phone_tail=0000")
    assert wrong == missing == no_phone and wrong[0] == 404
    assert (await api.request("GET", f"/api/public/orders/{order['number']}"))[0] == 422
    assert (await api.request("GET", f"/api/public/orders/{order['number']}?phone_tail=12a4"))[0] == 422
    assert (await api.request("GET", f"/api/public/orders/{order['number']}?phone_tail=123456"))[0] == 422


async def test_lookups_are_throttled_per_address(seeded_pool: asyncpg.Pool, api: Client) -> None:
    order = await new_order(seeded_pool)
    statuses = [
        (await api.request("GET", f"/api/public/orders/{order['number']}?phone_tail={n:04d}"))[0] for n in range(11)
    ]
    assert statuses[:10] == [200 if n == 1234 else 404 for n in range(10)] and statuses[10] == 429
    status, body = await api.request("GET", f"/api/public/orders/{order['number']}?phone_tail=1234")
    assert status == 429 and body["error"]["code"] == "too_many_requests"


async def test_orders_per_channel_and_shanghai_day(seeded_pool: asyncpg.Pool, api: Client) -> None:
    moments = {
        "phone": datetime(2026, 12, 1, 23, 30, tzinfo=TZ),
        "web": datetime(2026, 12, 2, 0, 30, tzinfo=TZ),
        "wechat": datetime(2026, 12, 2, 9, 0, tzinfo=TZ),
    }
    for channel, at in moments.items():
        o = await new_order(seeded_pool, channel=channel)
        await seeded_pool.execute("UPDATE work_orders SET created_at = $2 WHERE id = $1", o["id"], at)
    supervisor = await api.login("supervisor")
    status, body = await supervisor.request("GET", "/api/figures/channels?from=2026-12-01&to=2026-12-03")
    assert status == 200, body
    assert body["channels"] == ["phone", "web", "wechat"]
    assert body["days"] == [
        {"day": "2026-12-01", "phone": 1, "web": 0, "wechat": 0},
        {"day": "2026-12-02", "phone": 0, "web": 1, "wechat": 1},
        {"day": "2026-12-03", "phone": 0, "web": 0, "wechat": 0},
    ]
    assert body["total"] == {"phone": 1, "web": 1, "wechat": 1}
    assert (await supervisor.request("GET", "/api/figures/channels?from=2026-12-03&to=2026-12-01"))[0] == 422
    assert (await supervisor.request("GET", "/api/figures/channels?from=yesterday&to=2026-12-01"))[0] == 422
    assert (await supervisor.request("GET", "/api/figures/channels"))[0] == 422
    agent = await api.login("agent1001")
    assert (await agent.request("GET", "/api/figures/channels?from=2026-12-01&to=2026-12-03"))[0] == 403

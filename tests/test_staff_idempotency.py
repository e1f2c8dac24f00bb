"""Idempotency-Key on staff POSTs that create: a retried order is one order."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg

from tests.api_helpers import Client, running_server

ORDER = {"kind": "complaint", "content": "小区门口占道经营", "caller_number": "13912348692", "caller_name": "张三"}


async def _post(c: Client, path: str, body: dict, key: str | None) -> tuple[int, dict, dict]:
    headers = {"Authorization": f"Bearer {c.token}", **({"Idempotency-Key": key} if key else {})}
    async with c.session.post(c.base + path, json=body, headers=headers) as r:
        return r.status, await r.json(), dict(r.headers)


async def test_a_retried_order_is_one_order(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str
) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        agent = await Client(session, base).login("agent1001")
        status, first, headers = await _post(agent, "/api/orders", ORDER, "order-7f3a")
        assert status == 201 and "Idempotent-Replayed" not in headers
        # The client never saw that answer (a timeout, a restart) and retries, a few times at once.
        retries = await asyncio.gather(*(_post(agent, "/api/orders", ORDER, "order-7f3a") for _ in range(4)))
        for status, body, headers in retries:
            assert status == 201 and body == first and headers["Idempotent-Replayed"] == "true"
        status, body, _ = await _post(agent, "/api/orders", {**ORDER, "content": "另一件事"}, "order-7f3a")
        assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
        # Keys are per user: another agent's same key is another order.
        other = await Client(session, base).login("agent1002")
        status, second, _ = await _post(other, "/api/orders", ORDER, "order-7f3a")
        assert status == 201 and second["id"] != first["id"]
        # Without a key, two posts are two orders (as before).
        assert (await _post(agent, "/api/orders", ORDER, None))[0] == 201
        status, body, _ = await _post(agent, "/api/orders", ORDER, "has spaces")
        assert status == 400 and body["error"]["code"] == "idempotency_key_invalid"
    assert await seeded_pool.fetchval("SELECT count(*) FROM work_orders") == 3
    assert await seeded_pool.fetchval("SELECT count(*) FROM audit_events WHERE action = 'create'") == 3


async def test_a_failed_create_keeps_no_key_and_actions_replay(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str
) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        agent = await Client(session, base).login("agent1001")
        status, body, _ = await _post(agent, "/api/orders", {**ORDER, "category_code": "99"}, "k-1")
        assert status == 422  # unknown category: nothing stored, the key is free
        status, order, _ = await _post(agent, "/api/orders", ORDER, "k-1")
        assert status == 201
        supervisor = await Client(session, base).login("supervisor")
        path = f"/api/orders/{order['id']}/actions/suspend"
        body = {"reason": "等待市民补充材料"}
        first = await _post(supervisor, path, body, "s-1")
        assert first[0] == 200 and first[1]["status"] == "suspended", first[1]
        replay = await _post(supervisor, path, body, "s-1")
        assert replay[:2] == first[:2] and replay[2]["Idempotent-Replayed"] == "true"
        # Without the key the retry is a second suspend, which the state refuses.
        assert (await _post(supervisor, path, body, None))[0] == 409
        admin = await Client(session, base).login("admin")
        alias = {"alias": "老城区", "division_code": "320302001"}
        created = await _post(admin, "/api/admin/aliases", alias, "a-1")
        assert created[0] == 201
        assert (await _post(admin, "/api/admin/aliases", alias, "a-1"))[2]["Idempotent-Replayed"] == "true"
    events = await seeded_pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE order_id = $1 AND action = 'suspend'", order["id"]
    )
    assert events == 1

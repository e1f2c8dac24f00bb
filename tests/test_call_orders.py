"""An order taken on a call: linked to the call record, caller prefilled, the caller's history listed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from tests.api_helpers import Client, running_server
from tests.test_api import assert_error


@pytest.fixture
async def anon(seeded_database_url: str, redis_url: str) -> AsyncIterator[Client]:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        yield Client(session, base)


async def _a_call(url: str, number: str = "13512345678", name: str = "欧阳娜娜") -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            """INSERT INTO calls (node, linkedid, caller_number, caller_name, queue, state, outcome, entered_at)
               VALUES ('pbx1', '1795381244.2', $1, $2, 'hotline', 'connected', 'answered', now()) RETURNING id""",
            number,
            name,
        )
    finally:
        await conn.close()


async def test_order_from_a_call_is_linked_and_prefilled(anon: Client, seeded_database_url: str) -> None:
    call_id = await _a_call(seeded_database_url)
    agent = await anon.login("agent1001")
    status, order = await agent.request(
        "POST", f"/api/calls/{call_id}/order", json={"kind": "help", "content": "家里停水了", "category_code": "020101"}
    )
    assert status == 201, order
    assert (order["caller_number"], order["caller_name"], order["call_id"], order["call_linkedid"]) == (
        "13512345678",
        "欧阳娜娜",
        call_id,
        "1795381244.2",
    )
    status, call = await agent.request("GET", f"/api/calls/{call_id}")
    assert status == 200 and [o["id"] for o in call["orders"]] == [order["id"]]
    # the caller's history, as the screen-pop shows it
    status, history = await agent.request("GET", "/api/orders?caller_number=13512345678")
    assert [o["id"] for o in history["items"]] == [order["id"]]


async def test_what_the_agent_typed_wins_over_the_call(anon: Client, seeded_database_url: str) -> None:
    call_id = await _a_call(seeded_database_url)
    agent = await anon.login("agent1001")
    status, order = await agent.request(
        "POST",
        f"/api/calls/{call_id}/order",
        json={"kind": "consult", "content": "替母亲咨询", "caller_number": "13900000000", "caller_name": "李四"},
    )
    assert status == 201 and (order["caller_number"], order["caller_name"]) == ("13900000000", "李四")


async def test_unknown_call_bad_body_and_units_are_refused(anon: Client, seeded_database_url: str) -> None:
    call_id = await _a_call(seeded_database_url)
    agent = await anon.login("agent1001")
    status, body = await agent.request("POST", "/api/calls/999999/order", json={"kind": "consult", "content": "x"})
    assert_error(status, body, 404, "not_found")
    status, body = await agent.request("POST", f"/api/calls/{call_id}/order", json={"kind": "nonsense", "content": "x"})
    assert_error(status, body, 422, "invalid_input")
    cgj = await anon.login("cgj")
    status, body = await cgj.request("GET", f"/api/calls/{call_id}")
    assert_error(status, body, 403, "forbidden")
    conn = await asyncpg.connect(seeded_database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM work_orders") == 0
    finally:
        await conn.close()

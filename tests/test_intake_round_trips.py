"""The intake's and the dispatch's hot path (#19): how many statements they send, and the
in-process caches that spare the others — the deadline policy under its token, the Router's
decisions, the access log written in the change's own transaction, the live events' sender."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest

from dispatch.engine import Router, RouteRequest
from hotline import bus
from hotline.deadlines.service import Deadlines
from hotline.errors import InvalidInput
from hotline.orders import actions, numbers
from hotline.orders import models as m
from hotline.orders.states import Action
from tests.api_helpers import Client, running_server
from tests.orders_helpers import who

AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Shanghai
ORDER = {
    "kind": "complaint", "category_code": "010101", "content": "中山北路88号小区门口夜市占道经营，噪声扰民",
    "address": "鼓楼区黄楼街道中山北路88号", "division_code": "320302001",
    "caller_number": "13912341234", "caller_name": "张三", "contact_allowed": False,
}  # fmt: skip


async def _statements(conn: asyncpg.Connection, work) -> list[str]:
    sent: list[str] = []

    def logged(q: asyncpg.connection.LoggedQuery) -> None:
        sent.append(" ".join(q.query.split()[:3]))

    conn.add_query_logger(logged)
    try:
        await work()
    finally:
        conn.remove_query_logger(logged)
    return sent


async def test_an_intake_is_five_statements_and_its_order_is_whole(seeded_pool: asyncpg.Pool) -> None:
    agent = await who(seeded_pool, "agent1001")
    async with seeded_pool.acquire() as conn:
        services = actions.Services(router=await Router.load(conn), clock=lambda: AT)
    await numbers.prepare(seeded_pool, AT)
    data = m.NewOrder.model_validate(ORDER)
    async with seeded_pool.acquire() as conn:

        async def intake() -> None:
            async with conn.transaction():
                orders.append(await actions.insert_order(conn, services, agent, data))

        orders: list[asyncpg.Record] = []
        await intake()  # the first one reads the deadline policy
        sent = await _statements(conn, intake)
    # The routing generation and the deadline policy's token are read together, before the insert.
    assert sent == ["BEGIN;", "SELECT (SELECT generation", "WITH created AS", "INSERT INTO sms_messages", "COMMIT;"]
    first, second = orders
    assert (first["number"], second["number"]) == ("20261201-000001", "20261201-000002")
    # The place went into the insert: the agent's division, routing's evidence beside it.
    assert second["division_code"] == "320302001" and second["division_source"] == "agent"
    assert second["division_reasons"]
    sms = await seeded_pool.fetchrow("SELECT phone, body FROM sms_messages WHERE order_id = $1", second["id"])
    assert sms["phone"] == "13912341234" and "20261201-000002" in sms["body"]
    audit = await seeded_pool.fetchval("SELECT count(*) FROM audit_events WHERE order_id = $1", second["id"])
    assert audit == 1


async def test_an_opted_out_caller_gets_no_intake_sms(seeded_pool: asyncpg.Pool) -> None:
    await seeded_pool.execute("INSERT INTO sms_opt_outs (phone) VALUES ('13912341234')")
    agent = await who(seeded_pool, "agent1001")
    order = await actions.create_order(
        seeded_pool, actions.Services(clock=lambda: AT), agent, m.NewOrder.model_validate(ORDER)
    )
    assert await seeded_pool.fetchval("SELECT count(*) FROM sms_messages WHERE order_id = $1", order["id"]) == 0


async def test_an_unknown_division_typed_by_the_agent_is_still_refused(seeded_pool: asyncpg.Pool) -> None:
    agent = await who(seeded_pool, "agent1001")
    async with seeded_pool.acquire() as conn:
        services = actions.Services(router=await Router.load(conn), clock=lambda: AT)
    bad = m.NewOrder.model_validate({**ORDER, "division_code": "329999999"})
    with pytest.raises(InvalidInput, match="unknown division_code"):
        await actions.create_order(seeded_pool, services, agent, bad)
    assert await seeded_pool.fetchval("SELECT count(*) FROM work_orders") == 0


async def test_an_edit_to_the_deadline_policy_applies_to_the_next_count(seeded_pool: asyncpg.Pool) -> None:
    deadlines, order = Deadlines(), {"kind": "complaint", "category_code": "010101", "urgency": "normal"}
    async with seeded_pool.acquire() as conn:
        before = (await deadlines.for_dispatch(conn, order, AT)).sign_due_at
        assert (await deadlines.for_dispatch(conn, order, AT)).sign_due_at == before  # kept: same token
        # An edit that rolls back changes nothing.
        try:
            async with conn.transaction():
                await conn.execute("UPDATE deadline_rules SET amount = 5 WHERE clock = 'sign' AND urgency IS NULL")
                assert (await deadlines.for_dispatch(conn, order, AT)).sign_due_at != before  # its own writes
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        assert (await deadlines.for_dispatch(conn, order, AT)).sign_due_at == before
    # Plain SQL from another connection (an admin, a script): the next count sees it.
    await seeded_pool.execute("UPDATE deadline_rules SET amount = 5 WHERE clock = 'sign' AND urgency IS NULL")
    async with seeded_pool.acquire() as conn:
        edited = (await deadlines.for_dispatch(conn, order, AT)).sign_due_at
    assert edited > before
    # A calendar override (today is a holiday after all) moves the count too.
    await seeded_pool.execute("INSERT INTO calendar_overrides (day, workday, note) VALUES ('2026-12-01', false, '')")
    async with seeded_pool.acquire() as conn:
        assert (await deadlines.for_dispatch(conn, order, AT)).sign_due_at > edited


async def test_the_router_keeps_its_decisions_until_its_data_changes(seeded_pool: asyncpg.Pool) -> None:
    async with seeded_pool.acquire() as conn:
        router = await Router.load(conn)
        req = RouteRequest(category_code="010101", kind="complaint", address="鼓楼区黄楼街道中山北路88号")
        first = router.route(req)
        assert router.route({"address": req.address, "kind": "complaint", "category_code": "010101"}) is first
        await conn.execute("INSERT INTO division_aliases (alias, division_code) VALUES ('中山北路口', '320302001')")
        assert await router.refresh(conn)
        again = router.route(req)
    assert again is not first and again.as_dict() == first.as_dict()


async def test_a_look_at_the_caller_is_logged_once_with_the_intake(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str
) -> None:
    server = running_server(seeded_database_url, redis_url, clock=lambda: AT)
    async with server as base, aiohttp.ClientSession() as session:
        agent = await Client(session, base).login("agent1001")
        headers = {"Authorization": f"Bearer {agent.token}", "Idempotency-Key": "look-1"}
        async with session.post(base + "/api/orders", json=ORDER, headers=headers) as r:
            assert r.status == 201
            order = await r.json()
        assert order["caller_number"] == "13912341234"
        looks = "SELECT username, fields, route FROM personal_data_access WHERE order_id = $1 ORDER BY id"
        rows = await seeded_pool.fetch(looks, order["id"])
        assert [(r["username"], r["fields"], r["route"]) for r in rows] == [
            ("agent1001", ["caller_number", "caller_name"], "/api/orders")
        ]
        # A replay runs no intake: the middleware logs the look it serves.
        async with session.post(base + "/api/orders", json=ORDER, headers=headers) as r:
            assert r.status == 201 and r.headers["Idempotent-Replayed"] == "true"
        assert len(await seeded_pool.fetch(looks, order["id"])) == 2
        # A refused action logs nothing.
        status, _ = await agent.request(
            "POST", f"/api/orders/{order['id']}/actions/dispatch", json={"unit_id": 999999, "version": order["version"]}
        )
        assert status == 422
        assert len(await seeded_pool.fetch(looks, order["id"])) == 2
        # An action that shows the caller logs its look with its own writes, once.
        status, suggestion = await agent.request("GET", f"/api/orders/{order['id']}/route")
        body = {"unit_id": suggestion["dispatch_to_unit_id"], "version": order["version"]}
        status, _ = await agent.request("POST", f"/api/orders/{order['id']}/actions/dispatch", json=body)
        assert status == 200
        rows = await seeded_pool.fetch(looks, order["id"])
        assert len(rows) == 3 and rows[-1]["route"] == "/api/orders/{order_id}/actions/{action}"


async def test_live_events_go_out_in_order_however_many_requests_queue_them(redis: bus.Redis) -> None:
    pubsub = redis.pubsub()
    await pubsub.subscribe(bus.channel(redis, "orders"), bus.channel(redis, "unit:7"))
    for _ in range(2):  # the subscriptions' confirmations
        await pubsub.get_message(timeout=2)
    for i in range(50):  # fifty requests in a row, faster than one round trip each
        bus.publish_soon(redis, [("orders", {"n": i}), ("unit:7", {"n": i})])
    await bus.drain()
    got: list[tuple[str, int]] = []
    while len(got) < 100:
        message = await pubsub.get_message(timeout=2, ignore_subscribe_messages=True)
        assert message is not None, got
        got.append((message["channel"].rsplit(":", 1)[-1], json.loads(message["data"])["n"]))
    assert got == [(ch, i) for i in range(50) for ch in ("orders", "7")]
    await pubsub.aclose()


async def test_a_failed_publish_is_logged_and_the_next_one_still_goes(
    redis: bus.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    broken = bus.connect("redis://127.0.0.1:1/0", "nowhere")  # nothing listens on port 1
    bus.publish_soon(broken, [("orders", {"n": 1})])
    await bus.drain()
    assert any(r.getMessage() == "bus publish failed" for r in caplog.records)
    await broken.aclose()
    pubsub = redis.pubsub()
    await pubsub.subscribe(bus.channel(redis, "orders"))
    await pubsub.get_message(timeout=2)
    bus.publish_soon(redis, [("orders", {"n": 2})])
    message = await pubsub.get_message(timeout=2, ignore_subscribe_messages=True)
    assert message is not None and json.loads(message["data"]) == {"n": 2}
    await pubsub.aclose()


async def test_a_dispatch_reads_the_routing_generation_and_the_deadline_token_together(
    seeded_pool: asyncpg.Pool,
) -> None:
    agent = await who(seeded_pool, "agent1001")
    async with seeded_pool.acquire() as conn:
        services = actions.Services(router=await Router.load(conn), clock=lambda: AT)
    order = await actions.create_order(seeded_pool, services, agent, m.NewOrder.model_validate(ORDER))
    async with seeded_pool.acquire() as conn:
        _, unit = await actions.suggest(conn, services, await conn.fetchrow("SELECT * FROM work_orders WHERE id = $1",
                                                                              order["id"]))  # fmt: skip
        body = actions.parse_payload(Action.DISPATCH, {"unit_id": unit, "version": order["version"]})

        async def dispatch() -> None:
            async with conn.transaction():
                await actions.act_in_transaction(conn, services, agent, order["id"], Action.DISPATCH, body)

        sent = await _statements(conn, dispatch)
    assert sent.count("SELECT (SELECT generation") == 1
    assert not any(s.startswith(("SELECT generation FROM", "SELECT token FROM")) for s in sent), sent
    assignment = await seeded_pool.fetchrow("SELECT * FROM assignments WHERE order_id = $1", order["id"])
    assert assignment["unit_id"] == unit and assignment["sign_due_at"] > AT  # the deadlines were counted

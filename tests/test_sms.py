"""Citizens' SMS through a real local HTTP gateway: exactly three notices in an order's life
(intake, reply, survey) even when the gateway fails twice and times out first, none in quiet
hours unless urgent, a survey answer "3" that reopens the order, opt-out and receipts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from hotline.orders import actions
from hotline.orders import models as m
from hotline.orders.states import Action
from hotline.sms import notices
from hotline.sms.quiet import send_at
from hotline.sms.relay import SmsRelay, backoff
from hotline.sms.senders import HttpGateway
from tests.api_helpers import running_server
from tests.orders_helpers import unit_id, who

TZ = ZoneInfo("Asia/Shanghai")
MORNING = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)  # a Wednesday, a working day
PHONE = "13912341234"


@dataclass
class PinnedClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Gateway:
    """An SMS reseller's HTTP API: plays ``script`` (fail / timeout / ok) one request at a time, then ok."""

    url: str = ""
    script: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        step = self.script.pop(0) if self.script else "ok"
        if step == "fail":
            return web.json_response({"error": "busy"}, status=500)
        if step == "timeout":  # answers after the sender stopped waiting: not taken
            await asyncio.sleep(1.0)
            return web.json_response({"message_id": "late"})
        self.accepted.append(body)
        return web.json_response({"message_id": f"gw-{len(self.accepted)}"})


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    app = web.Application()
    app.router.add_post("/send", gw.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    gw.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/send"  # type: ignore[union-attr]
    yield gw
    await runner.cleanup()


@pytest.fixture
async def relay_for(seeded_pool: asyncpg.Pool, gateway: Gateway) -> AsyncIterator[Any]:
    made: list[SmsRelay] = []

    async def make(clock: PinnedClock) -> SmsRelay:
        sender = HttpGateway(gateway.url, "reseller-token", timeout=0.3, allow_private=True)
        await sender.start()
        made.append(SmsRelay(seeded_pool, sender, TZ, clock=clock))
        return made[-1]

    yield make
    for relay in made:
        await relay.sender.close()


async def new_order(pool: asyncpg.Pool, services: actions.Services, **fields: Any) -> dict:
    data = m.NewOrder(kind="complaint", content="小区门口占道经营", category_code="010101",
                      address="鼓楼区黄楼街道中山北路88号", caller_number=PHONE, caller_name="张三", **fields)  # fmt: skip
    return await actions.create_order(pool, services, await who(pool, "agent1001"), data)


async def step(
    pool: asyncpg.Pool, services: actions.Services, user: str, oid: int, action: Action, **body: Any
) -> dict:
    return await actions.act(pool, services, await who(pool, user), oid, action, actions.parse_payload(action, body))


async def to_awaiting_visit(pool: asyncpg.Pool, services: actions.Services, oid: int) -> None:
    await step(pool, services, "agent1001", oid, Action.DISPATCH, unit_id=await unit_id(pool, "city.cgj"))
    await step(pool, services, "cgj", oid, Action.SIGN)
    await step(pool, services, "cgj", oid, Action.REPLY, text="已清理占道摊点，摊主李四已签保证书")
    await step(pool, services, "agent1001", oid, Action.REVIEW, accept=True)


async def test_an_orders_life_sends_exactly_three_sms_through_a_failing_gateway(
    seeded_pool: asyncpg.Pool, gateway: Gateway, relay_for: Any
) -> None:
    clock = PinnedClock(MORNING)
    services = actions.Services(clock=clock)
    relay: SmsRelay = await relay_for(clock)
    order = await new_order(seeded_pool, services)
    gateway.script = ["fail", "fail", "timeout"]

    for attempt in (1, 2, 3):
        assert await relay.run_once() == 0
        assert await relay.run_once() == 0  # not due again before its backoff
        clock.advance(backoff(attempt))
    assert await relay.run_once() == 1
    row = await seeded_pool.fetchrow("SELECT * FROM sms_messages WHERE order_id = $1", order["id"])
    assert (row["kind"], row["status"], row["attempts"], row["provider_id"]) == ("intake", "sent", 4, "gw-1")
    assert len(gateway.requests) == 4 and {r["ref"] for r in gateway.requests} == {f"sms-{row['id']}"}
    assert order["number"] in row["body"] and "前答复" in row["body"]

    await to_awaiting_visit(seeded_pool, services, order["id"])
    assert await relay.run_once() == 2
    assert await relay.run_once() == 0
    kinds = [r["kind"] for r in await seeded_pool.fetch("SELECT kind FROM sms_messages ORDER BY id")]
    assert kinds == ["intake", "reply", "survey"]
    refs = [a["ref"] for a in gateway.accepted]
    assert len(refs) == len(set(refs)) == 3
    texts = [a["text"] for a in gateway.accepted]
    assert "回复1满意，2基本满意，3不满意" in texts[-1] and "已解决" in texts[-2]
    assert all("李四" not in t and "张三" not in t for t in texts)  # no one's name in any notice
    assert {a["to"] for a in gateway.accepted} == {PHONE}

    # One notice per order and event: queuing the same event again is a no-op.
    updated = await seeded_pool.fetchrow("SELECT * FROM work_orders WHERE id = $1", order["id"])
    event = await seeded_pool.fetchval("SELECT event_key FROM sms_messages WHERE kind = 'survey'")
    async with seeded_pool.acquire() as conn:
        again = notices.notice(updated, "survey", event, "again", clock(), TZ)
        assert again is not None and await conn.execute(again.sql, *again.args) == "INSERT 0 0"


async def test_quiet_hours_delay_notices_and_retries_but_not_urgent_ones(
    seeded_pool: asyncpg.Pool, gateway: Gateway, relay_for: Any
) -> None:
    night = datetime(2026, 12, 2, 22, 30, tzinfo=TZ)
    clock = PinnedClock(night)
    services = actions.Services(clock=clock)
    relay: SmsRelay = await relay_for(clock)
    normal = await new_order(seeded_pool, services)
    assert await relay.run_once() == 0 and gateway.requests == []
    due = await seeded_pool.fetchval("SELECT next_attempt_at FROM sms_messages WHERE order_id = $1", normal["id"])
    assert due == datetime(2026, 12, 3, 8, 0, tzinfo=TZ)
    urgent = await new_order(seeded_pool, services, urgency="urgent")
    assert await relay.run_once() == 1 and gateway.accepted[0]["text"].find(urgent["number"]) > 0
    clock.now = datetime(2026, 12, 3, 7, 59, tzinfo=TZ)
    assert await relay.run_once() == 0
    clock.now = datetime(2026, 12, 3, 8, 0, tzinfo=TZ)
    assert await relay.run_once() == 1

    # A failure just before 21:00 is retried in the morning, not at night.
    clock.now = datetime(2026, 12, 3, 20, 59, 50, tzinfo=TZ)
    late = await new_order(seeded_pool, services)
    gateway.script = ["fail"]
    assert await relay.run_once() == 0
    retry = await seeded_pool.fetchval("SELECT next_attempt_at FROM sms_messages WHERE order_id = $1", late["id"])
    assert retry == datetime(2026, 12, 4, 8, 0, tzinfo=TZ)


def test_quiet_hours_edges() -> None:
    day = datetime(2026, 12, 2, tzinfo=TZ)
    assert send_at(day.replace(hour=7, minute=59), False, TZ) == day.replace(hour=8)
    assert send_at(day.replace(hour=8), False, TZ) == day.replace(hour=8)
    assert send_at(day.replace(hour=20, minute=59), False, TZ) == day.replace(hour=20, minute=59)
    assert send_at(day.replace(hour=21), False, TZ) == day.replace(day=3, hour=8)
    assert send_at(day.replace(hour=23), True, TZ) == day.replace(hour=23)


async def test_a_survey_answer_3_reopens_the_order_and_receipts_are_recorded(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis, gateway: Gateway, relay_for: Any
) -> None:
    clock = PinnedClock(MORNING)
    services = actions.Services(clock=clock)
    order = await new_order(seeded_pool, services)
    await to_awaiting_visit(seeded_pool, services, order["id"])
    relay: SmsRelay = await relay_for(clock)
    assert await relay.run_once() == 3
    async with (
        running_server(seeded_database_url, redis_url, sms_inbound_token="gw-inbound") as base,
        aiohttp.ClientSession(headers={"Authorization": "Bearer gw-inbound"}) as gw,
    ):

        async def post(path: str, body: Any, **kw: Any) -> tuple[int, Any]:
            async with gw.post(base + path, json=body, **kw) as r:
                return r.status, await r.json()

        status, body = await post("/api/sms/gateway/inbound", {"phone": PHONE, "text": " 3 "})
        assert status == 200 and body == {"outcome": "visit:unsatisfied", "order_number": order["number"]}, body
        row = await seeded_pool.fetchrow("SELECT status, reopen_count FROM work_orders WHERE id = $1", order["id"])
        assert (row["status"], row["reopen_count"]) == ("dispatched", 1)  # 重办: back to its unit
        visit = await seeded_pool.fetchrow("SELECT * FROM visits WHERE order_id = $1", order["id"])
        assert visit["satisfaction"] == "unsatisfied" and visit["resolved"] is False and visit["note"] == "短信回访"
        # The order no longer waits for a visit: a second answer is recorded but changes nothing.
        assert (await post("/api/sms/gateway/inbound", {"phone": PHONE, "text": "1"}))[1]["outcome"] == "unmatched"
        assert (await post("/api/sms/gateway/inbound", {"phone": PHONE, "text": "你好"}))[1][
            "outcome"
        ] == "unrecognised"
        assert await seeded_pool.fetchval("SELECT count(*) FROM sms_inbound") == 3

        status, body = await post("/api/sms/gateway/receipts", {"message_id": "gw-1", "delivered": True})
        assert status == 200
        got = await seeded_pool.fetchrow("SELECT status, receipt_status FROM sms_messages WHERE provider_id = 'gw-1'")
        assert (got["status"], got["receipt_status"]) == ("delivered", "delivered")
        assert (await post("/api/sms/gateway/receipts", {"message_id": "gw-99", "delivered": False}))[0] == 404
        assert (await post("/api/sms/gateway/receipts", {"message_id": "", "delivered": 3}))[0] == 422
        status, _ = await post(
            "/api/sms/gateway/inbound", {"phone": PHONE, "text": "3"}, headers={"Authorization": "x"}
        )
        assert status == 401

        # TD opts the number out: no more notices to it.
        assert (await post("/api/sms/gateway/inbound", {"phone": PHONE, "text": "TD"}))[1]["outcome"] == "opted_out"
        later = await new_order(seeded_pool, services)
        assert await seeded_pool.fetchval("SELECT count(*) FROM sms_messages WHERE order_id = $1", later["id"]) == 0


async def test_the_gateway_routes_are_closed_without_a_configured_token(
    seeded_database_url: str, redis_url: str, redis
) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as s:
        async with s.post(base + "/api/sms/gateway/inbound", json={"phone": PHONE, "text": "3"}) as r:
            assert r.status == 404

"""The knowledge-base, repeat and hotspot API over real HTTP: who may do what, bad input, and
the flow an agent follows (search, cite, find the earlier order, link the repeat)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from hotline.hotspots.watch import HotspotWatch
from tests.api_helpers import Client, running_server
from tests.assist_helpers import taken
from tests.test_api import assert_error

ARTICLE = {"title": "社会保障卡挂失补办", "body": "拨打12333挂失，携带身份证到网点补办。", "category_code": "0602",
           "keywords": ["社保卡", "补卡"]}  # fmt: skip
ORDER = {"kind": "consult", "category_code": "020101", "content": "和平小区停水一整天了，什么时候恢复供水",
         "address": "鼓楼区黄楼街道中山北路88号和平小区", "division_code": "320302001", "caller_number": "13912340000"}  # fmt: skip


@pytest.fixture
async def anon(seeded_database_url: str, redis_url: str) -> AsyncIterator[Client]:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        yield Client(session, base)


async def test_unit_drafts_centre_publishes_agent_finds_and_cites(anon: Client) -> None:
    unit, boss, agent = await anon.login("cgj"), await anon.login("supervisor"), await anon.login("agent1001")
    status, article = await unit.request("POST", "/api/kb/articles", json=ARTICLE)
    assert status == 201 and article["versions"][0]["status"] == "draft"
    aid = article["id"]
    status, body = await unit.request("POST", f"/api/kb/articles/{aid}/publish", json={"version": 1})
    assert_error(status, body, 403, "forbidden")
    status, queue = await boss.request("GET", "/api/kb/articles?status=draft")
    assert status == 200 and [i["id"] for i in queue["items"]] == [aid]
    status, _ = await boss.request("POST", f"/api/kb/articles/{aid}/publish", json={"version": 1})
    assert status == 200
    status, found = await agent.request("GET", "/api/kb/search", params={"q": "社保卡丢了怎么补办"})
    assert status == 200 and found["items"][0]["id"] == aid and found["items"][0]["title"] == ARTICLE["title"]
    status, hints = await agent.request("GET", "/api/kb/suggest", params={"q": "市民来电说社保卡丢了"})
    assert status == 200 and hints["items"][0]["id"] == aid
    status, order = await agent.request("POST", "/api/orders", json={**ORDER, "content": "社保卡丢了怎么补办"})
    assert status == 201
    status, _ = await agent.request("GET", f"/api/kb/articles/{aid}", params={"order_id": str(order["id"])})
    assert status == 200
    status, done = await agent.request(
        "POST", f"/api/orders/{order['id']}/actions/resolve_directly", json={"note": "已答复", "article_ids": [aid]}
    )
    assert status == 200 and done["status"] == "resolved_directly"
    now = datetime.now(UTC)
    span = {"from": (now - timedelta(days=1)).isoformat(), "to": (now + timedelta(days=1)).isoformat()}
    status, figs = await boss.request("GET", "/api/kb/figures", params=span)
    assert status == 200 and figs["articles"][0]["direct_answer_rate"] == 1.0 and figs["unused"] == []
    status, body = await agent.request("GET", "/api/kb/figures", params=span)
    assert_error(status, body, 403, "forbidden")


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("GET", "/api/kb/search", None, "invalid_input"),  # q missing
        ("GET", "/api/kb/search?q=x&limit=0", None, "invalid_input"),
        ("GET", "/api/kb/search?q=x&category=abc", None, "invalid_input"),
        ("GET", "/api/kb/articles/99999999999999999999", None, "not_found"),
        ("GET", "/api/kb/articles/424242", None, "not_found"),
        ("POST", "/api/kb/articles", {"title": "x"}, "invalid_input"),
        ("POST", "/api/kb/articles", {**ARTICLE, "unit_id": 1, "surprise": 1}, "invalid_input"),
        ("POST", "/api/kb/articles", {**ARTICLE, "valid_from": "2026-01-02T00:00:00+08:00",
                                      "valid_until": "2026-01-01T00:00:00+08:00", "unit_id": 1}, "invalid_input"),
        ("POST", "/api/kb/articles", {**ARTICLE, "valid_from": "2026-01-02T00:00:00"}, "invalid_input"),  # naive
        ("POST", "/api/kb/articles/1/publish", {"version": 0}, "invalid_input"),
        ("POST", "/api/kb/articles/1/publish", {"version": 38697744320}, "invalid_input"),  # found by .ci/fuzz
        ("GET", "/api/kb/articles/1?order_id=9223372036854775808", None, "invalid_input"),
        ("GET", "/api/kb/figures?from=2026-01-02T00:00:00%2B08:00&to=2026-01-01T00:00:00%2B08:00", None,
         "invalid_input"),
        ("GET", "/api/kb/export", None, "forbidden"),
        ("POST", "/api/kb/import", {"articles": []}, "forbidden"),
        ("POST", "/api/kb/import", {"articles": [{"code": "x"}]}, "invalid_input"),
        ("GET", "/api/orders/424242/similar", None, "not_found"),
        ("POST", "/api/orders/424242/repeat", {"of_order_id": 1}, "not_found"),
        ("POST", "/api/orders/1/repeat", {}, "invalid_input"),
        ("GET", "/api/hotspots", None, "forbidden"),
    ],
)  # fmt: skip
async def test_bad_requests_are_json_errors(anon: Client, method: str, path: str, body, code: str) -> None:
    agent = await anon.login("supervisor" if "figures" in path else "agent1001")
    status, answer = await agent.request(method, path, json=body)
    expected = {"invalid_input": 422, "not_found": 404, "forbidden": 403}[code]
    assert_error(status, answer, expected, code)


async def test_malformed_body_and_anonymous_caller(anon: Client) -> None:
    agent = await anon.login("agent1001")
    status, body = await agent.request("POST", "/api/kb/articles", data=b"{not json")
    assert_error(status, body, 400, "malformed_body")
    status, body = await anon.request("GET", "/api/kb/search?q=x")
    assert_error(status, body, 401, "unauthenticated")


async def test_similar_orders_and_linking_a_repeat(anon: Client, seeded_pool: asyncpg.Pool) -> None:
    agent, unit = await anon.login("agent1001"), await anon.login("cgj")
    _, first = await agent.request("POST", "/api/orders", json=ORDER)
    _, second = await agent.request("POST", "/api/orders", json={**ORDER, "caller_number": "13700001111",
                                                                  "content": "和平小区没有水了，停水很久"})  # fmt: skip
    status, body = await unit.request("GET", f"/api/orders/{second['id']}/similar")
    assert_error(status, body, 403, "forbidden")
    status, found = await agent.request("GET", f"/api/orders/{second['id']}/similar")
    assert status == 200 and [c["id"] for c in found["items"]] == [first["id"]]
    assert {r["code"] for r in found["items"][0]["reasons"]} == {"same_place"}
    status, body = await unit.request("POST", f"/api/orders/{second['id']}/repeat", json={"of_order_id": first["id"]})
    assert_error(status, body, 403, "forbidden")
    status, linked = await agent.request(
        "POST", f"/api/orders/{second['id']}/repeat", json={"of_order_id": first["id"], "version": second["version"]}
    )
    assert status == 200 and linked["repeat_of"] == first["id"]
    status, body = await agent.request("POST", f"/api/orders/{second['id']}/repeat", json={"of_order_id": first["id"]})
    assert_error(status, body, 409, "conflict")
    # Merging is the order action; the candidate list then leaves the merged order out.
    _, third = await agent.request("POST", "/api/orders", json=ORDER)
    status, merged = await agent.request(
        "POST", f"/api/orders/{third['id']}/actions/merge", json={"into_order_id": first["id"]}
    )
    assert status == 200 and merged["status"] == "merged"


async def test_hotspot_list_links_its_orders(anon: Client, seeded_pool: asyncpg.Pool) -> None:
    at = datetime(2026, 7, 15, 6, 0, tzinfo=UTC)
    ids = [await taken(seeded_pool, at + timedelta(minutes=i), caller_number=f"1380000000{i}") for i in range(5)]
    await HotspotWatch(seeded_pool).tick(at + timedelta(minutes=10))
    boss = await anon.login("supervisor")
    status, listed = await boss.request("GET", "/api/hotspots")
    assert status == 200 and len(listed["items"]) == 1
    item = listed["items"][0]
    assert item["order_ids"] == ids and item["category_name"] == "停水"
    status, one = await boss.request("GET", item["orders_url"])
    assert status == 200 and [o["id"] for o in one["orders"]] == ids
    for path in ("/api/hotspots?status=hot", "/api/hotspots/77777"):
        status, body = await boss.request("GET", path)
        assert status in (404, 422) and "error" in body

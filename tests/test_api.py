"""The HTTP API on a real port: auth, orders round trip, errors always in the JSON shape."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from tests.api_helpers import Client, running_server


@pytest.fixture
async def anon(seeded_database_url: str, redis_url: str) -> AsyncIterator[Client]:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        yield Client(session, base)


def assert_error(status: int, body: object, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body


async def _unit_id(database_url: str, code: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SELECT id FROM units WHERE code = $1", code)
    finally:
        await conn.close()


ORDER = {
    "kind": "complaint",
    "category_code": "010101",
    "content": "中山北路88号小区门口夜市占道经营，噪声扰民",
    "address": "鼓楼区黄楼街道中山北路88号",
    "division_code": "320302001",
    "caller_number": "13912341234",
    "caller_name": "张三",
    "contact_allowed": False,
}


async def test_create_an_order_and_read_it_back(anon: Client) -> None:
    agent = await anon.login("agent1001")
    status, created = await agent.request("POST", "/api/orders", json=ORDER)
    assert status == 201, created
    assert created["status"] == "received" and created["version"] == 1
    assert created["number"][:8].isdigit() and created["number"][8] == "-" and len(created["number"]) == 15
    status, got = await agent.request("GET", f"/api/orders/{created['id']}")
    assert status == 200
    assert {k: got[k] for k in ORDER} == ORDER
    assert [e["action"] for e in got["events"]] == ["create"]
    status, by_number = await agent.request("GET", f"/api/orders/by-number/{created['number']}")
    assert status == 200 and by_number["id"] == created["id"]


async def test_order_numbers_count_up_within_the_day(anon: Client) -> None:
    agent = await anon.login("agent1001")
    numbers = [(await agent.request("POST", "/api/orders", json=ORDER))[1]["number"] for _ in range(3)]
    seqs = [int(n.split("-")[1]) for n in numbers]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2] and len({n[:8] for n in numbers}) == 1


async def test_dispatch_sign_reply_through_the_api_and_units_see_masked_numbers(
    anon: Client, seeded_database_url: str
) -> None:
    cgj_id = await _unit_id(seeded_database_url, "city.cgj")
    agent = await anon.login("agent1001")
    cgj = await anon.login("cgj")
    huanglou = await anon.login("huanglou")
    _, order = await agent.request("POST", "/api/orders", json=ORDER)
    oid = order["id"]
    hub_id = await _unit_id(seeded_database_url, "hub.320302")
    status, body = await agent.request(
        "POST", f"/api/orders/{oid}/actions/dispatch", json={"unit_id": cgj_id, "version": 1}
    )
    assert_error(status, body, 422, "invalid_input")  # the engine says 鼓楼区's hub: overriding needs a reason
    assert body["error"]["details"]["suggested_unit_id"] == hub_id
    status, body = await agent.request(
        "POST",
        f"/api/orders/{oid}/actions/dispatch",
        json={"unit_id": cgj_id, "version": 1, "override_reason": "涉及市管道路，由市城管局直接处理"},
    )
    assert status == 200 and body["status"] == "dispatched", body
    status, seen = await cgj.request("GET", f"/api/orders/{oid}")
    assert status == 200 and seen["caller_number"] == "139****1234"
    status, body = await huanglou.request("GET", f"/api/orders/{oid}")
    assert_error(status, body, 404, "not_found")
    status, body = await huanglou.request("POST", f"/api/orders/{oid}/actions/sign", json={})
    assert_error(status, body, 404, "not_found")  # another unit's order answers as a missing one
    status, body = await cgj.request("POST", f"/api/orders/{oid}/actions/sign", json={})
    assert status == 200 and body["status"] == "signed"
    status, body = await cgj.request("POST", f"/api/orders/{oid}/actions/sign", json={})
    assert_error(status, body, 409, "invalid_transition")
    assert "signed" in body["error"]["message"]
    status, body = await agent.request("POST", f"/api/orders/{oid}/actions/remind", json={"version": 1})
    assert_error(status, body, 409, "stale_version")
    status, listing = await cgj.request("GET", "/api/orders")
    assert [o["id"] for o in listing["items"]] == [oid]


async def test_list_filters_and_keyset_pagination(anon: Client) -> None:
    agent = await anon.login("agent1001")
    made = []
    for i in range(7):
        body = {**ORDER, "kind": "consult" if i % 2 else "complaint", "content": f"第{i}号诉求 路灯不亮"}
        made.append((await agent.request("POST", "/api/orders", json=body))[1]["id"])
    seen, cursor = [], None
    while True:
        path = "/api/orders?limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page = await agent.request("GET", path)
        assert status == 200
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(made, reverse=True)
    _, consults = await agent.request("GET", "/api/orders?kind=consult&status=received")
    assert [o["id"] for o in consults["items"]] == [made[5], made[3], made[1]]
    _, text = await agent.request("GET", "/api/orders?q=第4号")
    assert [o["id"] for o in text["items"]] == [made[4]]
    _, nothing = await agent.request("GET", "/api/orders?division=320303")
    assert nothing["items"] == [] and nothing["next_cursor"] is None
    status, body = await agent.request("GET", "/api/orders?limit=1000")
    assert_error(status, body, 422, "invalid_input")
    status, body = await agent.request("GET", "/api/orders?cursor=garbage")
    assert_error(status, body, 422, "invalid_input")
    status, body = await agent.request("GET", "/api/orders?status=nonsense")
    assert_error(status, body, 422, "invalid_input")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "send Authorization"),
        ({"Authorization": "Basic abc"}, "send Authorization"),
        ({"Authorization": "Bearer "}, "send Authorization"),
        ({"Authorization": "Bearer not-a-token"}, "unknown token"),
    ],
)
async def test_requests_without_a_valid_token_get_401(anon: Client, headers: dict, reason: str) -> None:
    status, body = await anon.request("GET", "/api/orders", headers=headers)
    assert_error(status, body, 401, "unauthenticated")
    assert reason in body["error"]["message"]


async def test_wrong_password_expired_and_revoked_tokens(anon: Client, seeded_database_url: str) -> None:
    status, body = await anon.request("POST", "/api/auth/login", json={"username": "agent1001", "password": "nope"})
    assert_error(status, body, 401, "unauthenticated")
    status, body = await anon.request("POST", "/api/auth/login", json={"username": "ghost", "password": "nope"})
    assert_error(status, body, 401, "unauthenticated")
    agent = await anon.login("agent1001")
    assert (await agent.request("GET", "/api/me"))[1]["role"] == "agent"
    conn = await asyncpg.connect(seeded_database_url)
    try:
        await conn.execute("UPDATE auth_tokens SET expires_at = now() - interval '1 second'")
    finally:
        await conn.close()
    status, body = await agent.request("GET", "/api/me")
    assert_error(status, body, 401, "unauthenticated")
    assert body["error"]["message"] == "token expired"
    agent = await anon.login("agent1001")
    assert (await agent.request("POST", "/api/auth/logout"))[0] == 204
    status, body = await agent.request("GET", "/api/me")
    assert_error(status, body, 401, "unauthenticated")


@pytest.mark.parametrize(
    ("method", "path", "raw", "status", "code"),
    [
        ("POST", "/api/orders", b"{not json", 400, "malformed_body"),
        ("POST", "/api/orders", b"[1, 2]", 400, "malformed_body"),
        ("POST", "/api/orders", b'"text"', 400, "malformed_body"),
        ("POST", "/api/orders", b"\xff\xfe", 400, "malformed_body"),
        ("POST", "/api/orders", b"{}", 422, "invalid_input"),
        ("POST", "/api/orders", b'{"kind": "rant", "content": "x"}', 422, "invalid_input"),
        ("POST", "/api/orders", b'{"kind": "consult", "content": "   "}', 422, "invalid_input"),
        ("POST", "/api/orders", b'{"kind": "consult", "content": "x", "caller_number": "abc"}', 422, "invalid_input"),
        ("POST", "/api/orders", b'{"kind": "consult", "content": "x", "evil": 1}', 422, "invalid_input"),
        ("POST", "/api/orders", b'{"kind": "consult", "content": "x", "category_code": "9999"}', 422, "invalid_input"),
        (
            "POST",
            "/api/orders",
            b'{"kind": "consult", "content": "x", "division_code": "999999"}',
            422,
            "invalid_input",
        ),
        ("POST", "/api/orders/1/actions/fly", b"{}", 422, "invalid_input"),
        ("POST", "/api/orders/1/actions/dispatch", b'{"unit_id": "two"}', 422, "invalid_input"),
        ("POST", "/api/orders/1/actions/review", b'{"accept": false}', 422, "invalid_input"),
        ("POST", "/api/orders/1/actions/visit", b'{"reached": true}', 422, "invalid_input"),
        ("POST", "/api/orders/999999/actions/remind", b"{}", 404, "not_found"),
        ("GET", "/api/orders/abc", b"", 404, "not_found"),
        ("GET", "/api/orders/999999", b"", 404, "not_found"),
        ("GET", "/api/orders/99999999999999999999", b"", 404, "not_found"),  # beyond bigint: still no such order
        ("GET", "/api/nowhere", b"", 404, "not_found"),
        ("DELETE", "/api/orders", b"", 405, "method_not_allowed"),
    ],
)
async def test_malformed_requests_get_json_errors_never_500(
    anon: Client, method: str, path: str, raw: bytes, status: int, code: str
) -> None:
    agent = await anon.login("agent1001")
    got, body = await agent.request(method, path, data=raw, headers={"Content-Type": "application/json"})
    assert_error(got, body, status, code)


async def test_oversized_body_is_refused_with_413(anon: Client) -> None:
    agent = await anon.login("agent1001")
    status, body = await agent.request("POST", "/api/orders", data=b"x" * (3 * 1024 * 1024))
    assert_error(status, body, 413, "too_large")


async def test_healthz_and_metrics(anon: Client) -> None:
    status, body = await anon.request("GET", "/healthz")
    assert status == 200 and body["status"] == "ok" and body["checks"] == {"postgres": "ok", "redis": "ok"}
    assert set(body["details"]["calendar"]) >= {"year", "covered", "next_year", "next_year_covered", "warning"}
    agent = await anon.login("agent1001")
    await agent.request("POST", "/api/orders", json=ORDER)
    status, text = await anon.request("GET", "/metrics")
    assert status == 200
    assert 'hotline_http_requests_total{method="POST",route="/api/orders",status="201"} 1.0' in text


async def test_handler_cannot_create_orders(anon: Client) -> None:
    cgj = await anon.login("cgj")
    status, body = await cgj.request("POST", "/api/orders", json=ORDER)
    assert_error(status, body, 403, "forbidden")

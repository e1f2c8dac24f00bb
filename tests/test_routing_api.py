"""Routing through the API: suggestion, accept, override with a reason, admin edits picked up live."""

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


async def _ids(url: str, *codes: str) -> list[int]:
    conn = await asyncpg.connect(url)
    try:
        return [await conn.fetchval("SELECT id FROM units WHERE code = $1", c) for c in codes]
    finally:
        await conn.close()


NOISE = {
    "kind": "complaint",
    "category_code": "030102",
    "content": "楼下广场舞音响声音太大",
    "address": "云龙区彭城街道民主南路12号",
    "caller_number": "13800001111",
}


async def test_route_preview_and_suggestion_then_accept(anon: Client, seeded_database_url: str) -> None:
    agent = await anon.login("agent1001")
    status, preview = await agent.request(
        "POST", "/api/route", json={k: NOISE[k] for k in ("kind", "category_code", "address")}
    )
    assert status == 200, preview
    (hub,) = await _ids(seeded_database_url, "hub.320303")
    assert preview["outcome"] == "rule" and preview["unit_id"] == hub and preview["division_code"].startswith("320303")
    assert any("彭城" in r for r in preview["reasons"])

    _, order = await agent.request("POST", "/api/orders", json=NOISE)
    status, sug = await agent.request("GET", f"/api/orders/{order['id']}/route")
    assert status == 200 and sug["dispatch_to_unit_id"] == hub
    status, body = await agent.request("POST", f"/api/orders/{order['id']}/actions/dispatch", json={"unit_id": hub})
    assert status == 200, body
    status, full = await agent.request("GET", f"/api/orders/{order['id']}")
    note = full["assignments"][0]["route_note"]
    assert note["overridden"] is False and note["suggested_unit_id"] == hub and note["decision"]["rule_id"]


async def test_override_is_recorded_with_its_reason(anon: Client, seeded_database_url: str) -> None:
    agent = await anon.login("agent1001")
    (sthj,) = await _ids(seeded_database_url, "city.sthjj")
    _, order = await agent.request("POST", "/api/orders", json=NOISE)
    status, body = await agent.request("POST", f"/api/orders/{order['id']}/actions/dispatch", json={"unit_id": sthj})
    assert_error(status, body, 422, "invalid_input")
    status, body = await agent.request(
        "POST",
        f"/api/orders/{order['id']}/actions/dispatch",
        json={"unit_id": sthj, "override_reason": "夜间持续噪声，需环保部门检测"},
    )
    assert status == 200, body
    _, full = await agent.request("GET", f"/api/orders/{order['id']}")
    note = full["assignments"][0]["route_note"]
    assert note["overridden"] is True and note["override_reason"] == "夜间持续噪声，需环保部门检测"
    assert full["events"][-1]["payload"]["overridden"] is True


async def test_admin_rule_changes_reach_the_running_router(anon: Client, seeded_database_url: str) -> None:
    admin = await anon.login("admin")
    agent = await anon.login("agent1001")
    street, sthj = await _ids(seeded_database_url, "street.320303001", "city.sthjj")
    status, body = await agent.request("POST", "/api/admin/rules", json={"unit_id": sthj, "category_code": "030102"})
    assert_error(status, body, 403, "forbidden")
    # a more specific rule: social-life noise in 彭城街道 goes to the city's environment bureau
    status, rule = await admin.request(
        "POST", "/api/admin/rules", json={"unit_id": sthj, "category_code": "030102", "division_prefix": "320303001"}
    )
    assert status == 201, rule
    status, body = await admin.request(
        "POST", "/api/admin/rules", json={"unit_id": street, "category_code": "030102", "division_prefix": "320303001"}
    )
    assert_error(status, body, 409, "rule_conflict")
    assert body["error"]["details"]
    _, preview = await agent.request(
        "POST", "/api/route", json={k: NOISE[k] for k in ("kind", "category_code", "address")}
    )
    assert preview["unit_id"] == sthj and preview["rule_id"] == rule["id"]
    status, _ = await admin.request("DELETE", f"/api/admin/rules/{rule['id']}")
    assert status == 200
    _, preview = await agent.request(
        "POST", "/api/route", json={k: NOISE[k] for k in ("kind", "category_code", "address")}
    )
    assert preview["unit_id"] != sthj
    status, body = await admin.request("DELETE", f"/api/admin/rules/{rule['id']}")
    assert_error(
        status, body, 404, "rule_not_found" if body.get("error", {}).get("code") == "rule_not_found" else "not_found"
    )


async def test_admin_alias_makes_a_landmark_resolvable(anon: Client) -> None:
    admin = await anon.login("admin")
    agent = await anon.login("agent1001")
    body = {"kind": "complaint", "category_code": "010101", "address": "幸福里社区东门口占道"}
    _, before = await agent.request("POST", "/api/route", json=body)
    assert before["division_code"] is None
    status, alias = await admin.request(
        "POST", "/api/admin/aliases", json={"alias": "幸福里社区", "division_code": "320303002", "kind": "community"}
    )
    assert status == 201, alias
    _, after = await agent.request("POST", "/api/route", json=body)
    assert after["division_code"] == "320303002" and after["unit_code"] == "hub.320303", after


async def test_units_list_and_handlers_cannot_route(anon: Client) -> None:
    admin = await anon.login("admin")
    status, body = await admin.request("GET", "/api/admin/units?level=district")
    assert status == 200 and len(body["items"]) == 33  # 11 hubs + two agencies each
    cgj = await anon.login("cgj")
    status, body = await cgj.request("POST", "/api/route", json={})
    assert_error(status, body, 403, "forbidden")


async def test_hub_is_told_which_street_office_to_send_down_to(anon: Client, seeded_database_url: str) -> None:
    agent = await anon.login("agent1001")
    hub_handler = await anon.login("gulou")
    hub, street = await _ids(seeded_database_url, "hub.320302", "street.320302001")
    order_body = {**NOISE, "address": "鼓楼区黄楼街道中山北路88号"}
    _, order = await agent.request("POST", "/api/orders", json=order_body)
    status, body = await hub_handler.request("GET", f"/api/orders/{order['id']}/route")
    assert_error(status, body, 404, "not_found")  # not the hub's order yet: as if there were none
    await agent.request("POST", f"/api/orders/{order['id']}/actions/dispatch", json={"unit_id": hub})
    status, body = await hub_handler.request("GET", f"/api/orders/{order['id']}/route")
    assert status == 200 and body["dispatch_to_unit_id"] == street, body
    await hub_handler.request("POST", f"/api/orders/{order['id']}/actions/sign", json={})
    status, body = await hub_handler.request(
        "POST", f"/api/orders/{order['id']}/actions/redispatch", json={"unit_id": street}
    )
    assert status == 200 and body["status"] == "dispatched", body

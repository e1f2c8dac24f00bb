"""Where an order is: recorded at intake, refreshed when it is routed again, corrected by an
agent with a reason, counted there by the figures, and backfilled for older orders by sql/011."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from hotline import db
from hotline.embedded import Embedded
from tests.api_helpers import Client, running_server
from tests.test_api import assert_error

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI)  # a Tuesday
# the order is received in November; its 15-working-day reply-by falls in December
PERIOD = "from=2026-11-01&to=2026-12-31"
README_ORDER = {
    "kind": "complaint",
    "category_code": "010101",
    "content": "小区门口占道经营",
    "address": "鼓楼区黄楼街道中山北路88号",
    "caller_number": "13912341234",
}


@pytest.fixture
async def anon(seeded_database_url: str, redis_url: str) -> AsyncIterator[Client]:
    async with running_server(seeded_database_url, redis_url, clock=lambda: NOW) as base:
        async with aiohttp.ClientSession() as session:
            yield Client(session, base)


async def _take_and_dispatch(agent: Client, order: dict) -> dict:
    status, created = await agent.request("POST", "/api/orders", json=order)
    assert status == 201, created
    status, route = await agent.request("GET", f"/api/orders/{created['id']}/route")
    assert status == 200, route
    status, dispatched = await agent.request(
        "POST", f"/api/orders/{created['id']}/actions/dispatch", json={"unit_id": route["dispatch_to_unit_id"]}
    )
    assert status == 200, dispatched
    return created | {"dispatched": dispatched}


def _row(table: dict, key: str) -> dict:
    [row] = [r for r in table["rows"] if r["key"] == key]
    return row


async def test_the_readme_order_counts_under_its_district_and_street(anon: Client) -> None:
    agent = await anon.login("agent1001")
    order = await _take_and_dispatch(agent, README_ORDER)
    assert order["division_code"] == "320302001"  # recorded at intake, not only at dispatch
    assert (order["division_source"], order["division_matched"]) == ("router", "黄楼街道")
    assert 0 < order["division_confidence"] <= 1
    assert any("黄楼街道" in r for r in order["division_reasons"])
    assert order["dispatched"]["division_code"] == "320302001"
    sup = await anon.login("supervisor")
    status, district = await sup.request("GET", f"/api/figures?group=district&{PERIOD}")
    assert status == 200, district
    gulou = _row(district, "320302")
    assert (gulou["name"], gulou["received"], gulou["dispatched"]) == ("鼓楼区", 1, 1)
    assert all(r["received"] == 0 for r in district["rows"] if r["key"] != "320302")
    status, street = await sup.request("GET", f"/api/figures?group=street&{PERIOD}")
    huanglou = _row(street, "320302001")
    assert (huanglou["name"], huanglou["received"], huanglou["dispatched"]) == ("黄楼街道", 1, 1)


async def test_a_place_found_only_in_the_content_is_recorded_less_sure(anon: Client) -> None:
    agent = await anon.login("agent1001")
    status, order = await agent.request(
        "POST", "/api/orders", json={"kind": "help", "content": "黄楼街道中山北路路灯不亮", "category_code": "010101"}
    )
    assert status == 201
    assert (order["division_code"], order["division_source"]) == ("320302001", "router")
    status, by_address = await agent.request("POST", "/api/orders", json=README_ORDER)
    assert order["division_confidence"] < by_address["division_confidence"]
    status, nowhere = await agent.request("POST", "/api/orders", json={"kind": "help", "content": "想咨询政策"})
    assert (nowhere["division_code"], nowhere["division_source"], nowhere["division_reasons"]) == (None, None, [])


async def test_the_agents_choice_is_kept_and_narrowed_by_the_address(anon: Client) -> None:
    agent = await anon.login("agent1001")
    status, order = await agent.request("POST", "/api/orders", json=README_ORDER | {"division_code": "320302"})
    assert status == 201
    assert (order["division_code"], order["division_source"], order["division_confidence"]) == (
        "320302001",
        "agent",
        pytest.approx(order["division_confidence"]),
    )
    assert order["division_confidence"] >= 0.9
    status, body = await agent.request("POST", "/api/orders", json=README_ORDER | {"division_code": "999999"})
    assert_error(status, body, 422, "invalid_input")


async def test_a_hub_handing_down_puts_the_order_in_its_street(anon: Client, seeded_pool: asyncpg.Pool) -> None:
    agent = await anon.login("agent1001")
    # Only the district is named: the order is in 鼓楼区 until its hub picks the street.
    order = await _take_and_dispatch(agent, README_ORDER | {"address": "鼓楼区"})
    assert order["division_code"] == "320302"
    hub = await anon.login("gulou")
    oid = order["id"]
    assert (await hub.request("POST", f"/api/orders/{oid}/actions/sign", json={}))[0] == 200
    street = await seeded_pool.fetchval("SELECT id FROM units WHERE code = 'street.320302001'")
    status, down = await hub.request("POST", f"/api/orders/{oid}/actions/redispatch", json={"unit_id": street})
    assert status == 200, down
    assert (down["division_code"], down["division_source"], down["division_confidence"]) == (
        "320302001",
        "redispatch",
        1.0,
    )


async def test_an_agent_corrects_the_place_with_a_reason(anon: Client, seeded_pool: asyncpg.Pool) -> None:
    agent = await anon.login("agent1001")
    order = await _take_and_dispatch(agent, README_ORDER)
    oid, path = order["id"], f"/api/orders/{order['id']}/actions/set_division"
    # the caller meant the street across the district line
    status, body = await agent.request("POST", path, json={"division_code": "320302002", "reason": "来电人更正地址"})
    assert status == 200, body
    assert (body["division_code"], body["division_source"], body["division_confidence"]) == (
        "320302002",
        "correction",
        1.0,
    )
    assert body["status"] == "dispatched" and body["version"] == order["dispatched"]["version"] + 1
    audit = await seeded_pool.fetchrow(
        "SELECT actor_user_id, payload FROM audit_events WHERE order_id = $1 AND action = 'set_division'", oid
    )
    assert audit["payload"] == {
        "division_code": "320302002",
        "previous_division_code": "320302001",
        "previous_source": "router",
        "reason": "来电人更正地址",
    }
    # routing now starts from the corrected place, as from an agent's choice
    status, route = await agent.request("GET", f"/api/orders/{oid}/route")
    assert route["decision"]["division_code"] == "320302002"
    assert any("chosen by the agent" in r for r in route["decision"]["reasons"])
    sup = await anon.login("supervisor")
    _, street = await sup.request("GET", f"/api/figures?group=street&{PERIOD}")
    assert (_row(street, "320302001")["received"], _row(street, "320302002")["received"]) == (0, 1)


@pytest.mark.parametrize(
    ("user", "body", "status", "code"),
    [
        ("agent1001", {"division_code": "320302999", "reason": "来电人更正地址"}, 422, "invalid_input"),
        ("agent1001", {"division_code": "320302002"}, 422, "invalid_input"),
        ("agent1001", {"division_code": "320302002", "reason": " "}, 422, "invalid_input"),
        ("agent1001", {"division_code": "abc", "reason": "来电人更正地址"}, 422, "invalid_input"),
        # the hub holding the order sees it but may not correct it; a unit with no part in it finds nothing
        ("gulou", {"division_code": "320302002", "reason": "来电人更正地址"}, 403, "forbidden"),
        ("cgj", {"division_code": "320302002", "reason": "来电人更正地址"}, 404, "not_found"),
    ],
)
async def test_a_correction_is_refused_when_it_is_wrong(
    anon: Client, seeded_pool: asyncpg.Pool, user: str, body: dict, status: int, code: str
) -> None:
    agent = await anon.login("agent1001")
    order = await _take_and_dispatch(agent, README_ORDER)
    client = await anon.login(user)
    got, answer = await client.request("POST", f"/api/orders/{order['id']}/actions/set_division", json=body)
    assert_error(got, answer, status, code)
    assert await seeded_pool.fetchval("SELECT division_code FROM work_orders WHERE id = $1", order["id"]) == "320302001"


async def test_a_closed_order_keeps_its_place(anon: Client) -> None:
    agent = await anon.login("agent1001")
    _, order = await agent.request("POST", "/api/orders", json=README_ORDER | {"kind": "consult"})
    for action in ("resolve_directly", "close"):
        status, _ = await agent.request("POST", f"/api/orders/{order['id']}/actions/{action}", json={"note": "已答复"})
        assert status == 200
    status, body = await agent.request(
        "POST", f"/api/orders/{order['id']}/actions/set_division", json={"division_code": "320302002", "reason": "更正"}
    )
    assert_error(status, body, 409, "invalid_transition")


# ------------------------------------------------------------ the backfill


async def test_migration_backfills_the_place_from_the_audit_trail(servers: Embedded, tmp_path: Path) -> None:
    """Orders taken in before sql/011 get the place their latest dispatch decided (and the
    street a hub handed them down to); an order never routed keeps none."""
    before = tmp_path / "sql"
    before.mkdir()
    for mig in db.discover():
        if mig.version < 11:
            shutil.copy(mig.path, before / mig.path.name)
    name = f"hotline_place_{uuid.uuid4().hex[:8]}"
    url = await db.create_database(servers.database_url, name)
    conn = await asyncpg.connect(url)
    try:
        await db.migrate(conn, before)
        await conn.execute(
            """INSERT INTO divisions (code, name, level, parent_code) VALUES
                   ('320300', '徐州市', 'city', NULL), ('320302', '鼓楼区', 'district', '320300'),
                   ('320302001', '黄楼街道', 'street', '320302'), ('320302002', '丰财街道', 'street', '320302');
               INSERT INTO units (id, code, name, level, kind, division_code) VALUES
                   (1, 'hub.320302', '鼓楼区12345分中心', 'district', 'hub', '320302'),
                   (2, 'street.320302002', '丰财街道办事处', 'street', 'office', '320302002');
               INSERT INTO work_orders (id, number, kind, content, address, status) VALUES
                   (1, '20261101-000001', 'complaint', '占道经营', '鼓楼区黄楼街道中山北路88号', 'dispatched'),
                   (2, '20261101-000002', 'complaint', '噪声', '鼓楼区', 'dispatched'),
                   (3, '20261101-000003', 'consult', '咨询', '', 'closed');"""
        )
        decision = {
            "division_code": "320302001",
            "confidence": 0.95,
            "reasons": ["address matched 黄楼街道 in '黄楼街道' (street)"],
            "spans": [
                {"text": "鼓楼区", "start": 0, "end": 3, "code": "320302"},
                {"text": "黄楼街道", "start": 3, "end": 7, "code": "320302001"},
            ],
        }
        district = {"division_code": "320302", "confidence": 0.9, "reasons": ["address matched 鼓楼区"], "spans": []}
        for aid, oid, note in ((1, 1, decision), (2, 2, district)):
            await conn.execute(
                """INSERT INTO assignments (id, order_id, unit_id, level, route_note)
                   VALUES ($1, $2, 1, 'district', $3::jsonb)""",
                aid,
                oid,
                json.dumps({"decision": note}),
            )
            await conn.execute(
                "INSERT INTO audit_events (order_id, action, payload) VALUES ($1, 'dispatch', $2::jsonb)",
                oid,
                json.dumps({"unit_id": 1, "assignment_id": aid}),
            )
        await conn.execute(
            "INSERT INTO audit_events (order_id, action, payload) VALUES (2, 'redispatch', $1::jsonb)",
            json.dumps({"unit_id": 2, "assignment_id": 3}),
        )
        place = next(m for m in db.discover() if m.version == 11)
        shutil.copy(place.path, before / place.path.name)  # this migration alone, whatever comes after it
        assert await db.migrate(conn, before) == ["011_order_place.sql"]
        rows = await conn.fetch(
            """SELECT id, division_code, division_source, division_confidence, division_matched,
                      division_reasons::text
               FROM work_orders ORDER BY id"""
        )
    finally:
        await conn.close()
        await db.drop_database(servers.database_url, name)
    assert [(*r[:5], json.loads(r[5])) for r in rows] == [
        (1, "320302001", "router", pytest.approx(0.95), "黄楼街道", decision["reasons"]),
        (2, "320302002", "redispatch", 1.0, None, ["re-dispatched to 丰财街道办事处"]),
        (3, None, None, None, None, []),
    ]

"""Shared steps for order tests: who is who in the seeded 徐州 data, and walking an order to a state."""

from __future__ import annotations

import asyncpg

from hotline.auth import Principal
from hotline.orders import actions
from hotline.orders import models as m
from hotline.orders.states import Action

SERVICES = actions.Services()


async def who(pool: asyncpg.Pool, username: str) -> Principal:
    row = await pool.fetchrow(
        "SELECT id, username, role, unit_id, display_name FROM users WHERE username = $1", username
    )
    assert row, username
    return Principal(row["id"], row["username"], row["role"], row["unit_id"], row["display_name"])


async def unit_id(pool: asyncpg.Pool, code: str) -> int:
    uid = await pool.fetchval("SELECT id FROM units WHERE code = $1", code)
    assert uid, code
    return uid


async def new_order(pool: asyncpg.Pool, **fields) -> dict:
    agent = await who(pool, "agent1001")
    data = m.NewOrder(
        **{
            "kind": "complaint",
            "content": "小区门口占道经营，晚上噪声大",
            "category_code": "010101",
            "address": "鼓楼区黄楼街道中山北路88号",
            "division_code": "320302001",
            "caller_number": "13912341234",
            "caller_name": "张三",
            "contact_allowed": False,
            **fields,
        }
    )
    return await actions.create_order(pool, SERVICES, agent, data)


async def do(pool: asyncpg.Pool, username: str, order_id: int, action: Action, **body) -> dict:
    p = await who(pool, username)
    return await actions.act(pool, SERVICES, p, order_id, action, actions.parse_payload(action, body))


HANDLER_OF = {"city.cgj": "cgj", "hub.320302": "gulou", "street.320302001": "huanglou"}


async def order_at(pool: asyncpg.Pool, status: str, lead: str = "city.cgj") -> dict:
    """A new order walked through real actions to ``status``, dispatched to ``lead``."""
    order = await new_order(pool)
    oid = order["id"]
    lead_id = await unit_id(pool, lead)
    h = HANDLER_OF[lead]
    steps: dict[str, list[tuple[str, Action, dict]]] = {
        "received": [],
        "resolved_directly": [("agent1001", Action.RESOLVE_DIRECTLY, {"note": "已答复政策"})],
        "dispatched": [("agent1001", Action.DISPATCH, {"unit_id": lead_id})],
    }
    steps["signed"] = [*steps["dispatched"], (h, Action.SIGN, {})]
    steps["returned"] = [*steps["dispatched"], (h, Action.RETURN, {"reason": "不属于本单位职责"})]
    steps["replied"] = [*steps["signed"], (h, Action.REPLY, {"text": "已清理占道摊点"})]
    steps["awaiting_visit"] = [*steps["replied"], ("agent1001", Action.REVIEW, {"accept": True})]
    steps["visited"] = [
        *steps["awaiting_visit"],
        ("agent1002", Action.VISIT, {"reached": True, "satisfaction": "satisfied", "resolved": True}),
    ]
    steps["closed"] = [*steps["visited"], ("agent1001", Action.CLOSE, {})]
    unsatisfied = {"reached": True, "satisfaction": "unsatisfied", "resolved": False}
    # Reopened is where the order rests when its unit cannot take it back (here: the unit closed down
    # between reply and visit); otherwise it goes straight back to that unit (see test_visits).
    steps["reopened"] = [*steps["awaiting_visit"], ("agent1002", Action.VISIT, unsatisfied)]
    if status == "reopened":
        for username, action, body in steps["awaiting_visit"]:
            order = await do(pool, username, oid, action, **body)
        await pool.execute("UPDATE units SET active = false WHERE id = $1", lead_id)
        order = await do(pool, "agent1002", oid, Action.VISIT, **unsatisfied)
        await pool.execute("UPDATE units SET active = true WHERE id = $1", lead_id)
        steps["reopened"] = []
    other = None
    if status == "merged":
        other = await new_order(pool)
        steps["merged"] = [("agent1001", Action.MERGE, {"into_order_id": other["id"]})]
    steps["suspended"] = [("supervisor", Action.SUSPEND, {"reason": "等待司法裁定"})]
    for username, action, body in steps[status]:
        order = await do(pool, username, oid, action, **body)
    assert order["status"] == status
    return order

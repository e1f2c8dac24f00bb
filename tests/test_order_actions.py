"""Every transition through the real action functions on PostgreSQL: allowed ones land
state + audit (+ outbox) together; refused ones change nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from hotline.errors import ApiError, Forbidden, InvalidInput, InvalidTransition, NotFound, StaleVersion
from hotline.orders.states import RULES, Action, Status
from tests.orders_helpers import do, new_order, order_at, unit_id

# (action, from status, actor, body factory (pool → body), expected status, lead unit)
CENTRE_BODY = {
    Action.RESOLVE_DIRECTLY: {"note": "政策咨询，已答复"},
    Action.REMIND: {"note": "请尽快处理"},
    Action.SUPERVISE: {"note": "督办"},
    Action.CLOSE: {},
    Action.SUSPEND: {"reason": "等待司法裁定"},
    Action.RESUME: {},
    Action.VISIT: {"reached": True, "satisfaction": "satisfied", "resolved": True},
    Action.SET_DIVISION: {"division_code": "320302001", "reason": "来电人补充了详细地址"},
}
UNIT_BODY = {
    Action.SIGN: {},
    Action.RETURN: {"reason": "不属于本单位职责"},
    Action.CONTACT: {"note": "已电话联系"},
    Action.NOTE: {"note": "现场核查中"},
    Action.REQUEST_EXTENSION: {"days": 5, "reason": "需协调多部门"},
    Action.REPLY: {"text": "已处理"},
}
ACTOR = {
    Action.RESOLVE_DIRECTLY: "agent1001",
    Action.DISPATCH: "agent1001",
    Action.REMIND: "agent1001",
    Action.SUPERVISE: "supervisor",
    Action.VISIT: "agent1002",
    Action.CLOSE: "agent1001",
    Action.MERGE: "agent1001",
    Action.SUSPEND: "supervisor",
    Action.RESUME: "supervisor",
    Action.REVIEW: "agent1001",
    Action.DECIDE_EXTENSION: "agent1001",
    Action.SET_DIVISION: "agent1001",
}
EXPECTED_TO = {
    Action.RESOLVE_DIRECTLY: "resolved_directly",
    Action.DISPATCH: "dispatched",
    Action.REDISPATCH: "dispatched",
    Action.SIGN: "signed",
    Action.RETURN: "returned",
    Action.REPLY: "replied",
    Action.REVIEW: "awaiting_visit",
    Action.VISIT: "visited",
    Action.CLOSE: "closed",
    Action.MERGE: "merged",
    Action.SUSPEND: "suspended",
}

ALLOWED = [
    (a, s) for a in Action for s in sorted(RULES[a].from_states) if s is not Status.SUSPENDED or a is Action.RESUME
]
# suspend → resume from every suspendable state is covered separately
ALLOWED += [
    (Action.SUSPEND, s) for s in sorted(RULES[Action.SUSPEND].from_states) if (Action.SUSPEND, s) not in ALLOWED
]


async def _body(pool: asyncpg.Pool, action: Action, order: dict) -> dict:
    if action is Action.DISPATCH:
        return {"unit_id": await unit_id(pool, "city.cgj")}
    if action is Action.REDISPATCH:
        return {"unit_id": await unit_id(pool, "street.320302001")}
    if action is Action.REVIEW:
        return {"accept": True}
    if action is Action.DECIDE_EXTENSION:
        return {"approve": True}
    if action is Action.MERGE:
        return {"into_order_id": (await new_order(pool))["id"]}
    return {**CENTRE_BODY.get(action, {}), **UNIT_BODY.get(action, {})}


async def _counts(pool: asyncpg.Pool, order_id: int) -> tuple:
    return (
        await pool.fetchval("SELECT version FROM work_orders WHERE id = $1", order_id),
        await pool.fetchval("SELECT status FROM work_orders WHERE id = $1", order_id),
        await pool.fetchval("SELECT count(*) FROM audit_events WHERE order_id = $1", order_id),
        await pool.fetchval("SELECT count(*) FROM assignments WHERE order_id = $1", order_id),
        await pool.fetchval("SELECT count(*) FROM outbox WHERE order_id = $1", order_id),
    )


@pytest.mark.parametrize(("action", "from_status"), ALLOWED, ids=[f"{a.value}-from-{s.value}" for a, s in ALLOWED])
async def test_allowed_transition_writes_state_and_audit_together(
    seeded_pool: asyncpg.Pool, action: Action, from_status: Status
) -> None:
    redispatch = action is Action.REDISPATCH
    if from_status is Status.SUSPENDED:
        order = await order_at(seeded_pool, "signed")
        await do(seeded_pool, "supervisor", order["id"], Action.SUSPEND, reason="等待司法裁定")
    else:
        order = await order_at(seeded_pool, from_status.value, lead="hub.320302" if redispatch else "city.cgj")
    if action is Action.DECIDE_EXTENSION:
        await do(seeded_pool, "cgj", order["id"], Action.REQUEST_EXTENSION, days=3, reason="需要协调")
    before = await _counts(seeded_pool, order["id"])
    actor = ACTOR.get(action) or ("gulou" if redispatch else "cgj")
    after_order = await do(seeded_pool, actor, order["id"], action, **await _body(seeded_pool, action, order))

    expected = EXPECTED_TO.get(action, from_status.value)
    if action is Action.RESUME:
        expected = "signed"
    assert after_order["status"] == expected
    version, status, audits, _, _ = await _counts(seeded_pool, order["id"])
    assert (version, status, audits) == (before[0] + 1, expected, before[2] + 1)
    last = await seeded_pool.fetchrow(
        "SELECT action, from_status, to_status FROM audit_events WHERE order_id = $1 ORDER BY id DESC LIMIT 1",
        order["id"],
    )
    assert dict(last) == {"action": action.value, "from_status": before[1], "to_status": expected}


async def test_every_refused_transition_changes_nothing(seeded_pool: asyncpg.Pool) -> None:
    """One order in each state; every action its state refuses is tried by its rightful actor."""
    orders = {s: await order_at(seeded_pool, s.value) for s in Status}
    tried = 0
    for action in Action:
        for status, order in orders.items():
            if status in RULES[action].from_states:
                continue
            before = await _counts(seeded_pool, order["id"])
            actor = ACTOR.get(action, "cgj")
            with pytest.raises(ApiError) as exc:
                await do(seeded_pool, actor, order["id"], action, **await _body(seeded_pool, action, order))
            open_assignment = await seeded_pool.fetchval(
                "SELECT count(*) FROM assignments WHERE order_id = $1 AND status IN ('dispatched','signed','replied')",
                order["id"],
            )
            ever = await seeded_pool.fetchval(
                "SELECT count(*) FROM assignments a JOIN units u ON u.id = a.unit_id"
                " WHERE a.order_id = $1 AND u.code = 'city.cgj'",
                order["id"],
            )
            # A unit with no part in the order is told it does not exist (404), one whose assignment
            # is closed is refused as a stranger (403), everyone else on state (409).
            if actor == "cgj" and not ever:
                assert isinstance(exc.value, NotFound), (action, status, exc.value)
            elif actor == "cgj" and not open_assignment:
                assert isinstance(exc.value, Forbidden), (action, status, exc.value)
            else:
                assert isinstance(exc.value, InvalidTransition), (action, status, exc.value)
            assert await _counts(seeded_pool, order["id"]) == before, (action, status)
            tried += 1
    assert tried == sum(len(Status) - len(RULES[a].from_states) for a in Action)


async def test_two_writers_same_version_one_wins_the_other_gets_409(seeded_pool: asyncpg.Pool) -> None:
    order = await order_at(seeded_pool, "dispatched")
    v = order["version"]
    results = await asyncio.gather(
        do(seeded_pool, "agent1001", order["id"], Action.REMIND, note="第一次催办", version=v),
        do(seeded_pool, "agent1002", order["id"], Action.REMIND, note="第二次催办", version=v),
        return_exceptions=True,
    )
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, StaleVersion)]
    assert len(wins) == 1 and len(losses) == 1
    assert losses[0].status == 409 and losses[0].details == {"expected_version": v, "current_version": v + 1}
    assert await seeded_pool.fetchval("SELECT version FROM work_orders WHERE id = $1", order["id"]) == v + 1


async def test_two_concurrent_signs_without_version_one_wins(seeded_pool: asyncpg.Pool) -> None:
    order = await order_at(seeded_pool, "dispatched")
    results = await asyncio.gather(
        *(do(seeded_pool, "cgj", order["id"], Action.SIGN) for _ in range(2)), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["InvalidTransition", "dict"]
    assert (
        await seeded_pool.fetchval(
            "SELECT count(*) FROM audit_events WHERE order_id = $1 AND action = 'sign'", order["id"]
        )
        == 1
    )


async def test_a_unit_not_assigned_cannot_act_and_the_centre_cannot_act_as_a_unit(seeded_pool: asyncpg.Pool) -> None:
    order = await order_at(seeded_pool, "dispatched")
    with pytest.raises(NotFound):  # not its order: as if there were none
        await do(seeded_pool, "huanglou", order["id"], Action.SIGN)
    with pytest.raises(Forbidden):
        await do(seeded_pool, "agent1001", order["id"], Action.SIGN)
    with pytest.raises(Forbidden):
        await do(seeded_pool, "cgj", order["id"], Action.SUPERVISE, note="x")
    with pytest.raises(Forbidden):
        await do(seeded_pool, "agent1001", order["id"], Action.SUPERVISE, note="agents remind, supervisors supervise")


async def test_a_failed_action_leaves_no_trace(seeded_pool: asyncpg.Pool) -> None:
    order = await new_order(seeded_pool)
    before = await _counts(seeded_pool, order["id"])
    street = await unit_id(seeded_pool, "street.320302001")
    with pytest.raises(InvalidInput):
        await do(seeded_pool, "agent1001", order["id"], Action.DISPATCH, unit_id=999999)
    with pytest.raises(InvalidInput):
        await do(seeded_pool, "agent1001", order["id"], Action.DISPATCH, unit_id=street)
    cgj = await unit_id(seeded_pool, "city.cgj")
    with pytest.raises(InvalidInput):  # the assist unit does not exist: the lead assignment rolls back too
        await do(seeded_pool, "agent1001", order["id"], Action.DISPATCH, unit_id=cgj, assist_unit_ids=[999999])
    assert await _counts(seeded_pool, order["id"]) == before


async def test_dispatch_to_a_unit_with_a_webhook_queues_one_outbox_row_with_a_masked_number(
    seeded_pool: asyncpg.Pool,
) -> None:
    await seeded_pool.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook' WHERE code = 'city.cgj'")
    order = await order_at(seeded_pool, "dispatched")
    rows = await seeded_pool.fetch("SELECT topic, unit_id, payload FROM outbox WHERE order_id = $1", order["id"])
    assert [(r["topic"], r["unit_id"]) for r in rows] == [("order.dispatched", await unit_id(seeded_pool, "city.cgj"))]
    assert rows[0]["payload"]["order"]["caller_number"] == "139****1234"
    await do(seeded_pool, "agent1001", order["id"], Action.REMIND, note="请加快")
    topics = await seeded_pool.fetch("SELECT topic FROM outbox WHERE order_id = $1 ORDER BY id", order["id"])
    assert [r["topic"] for r in topics] == ["order.dispatched", "order.reminded"]


async def test_redispatch_down_and_return_up_keep_history(seeded_pool: asyncpg.Pool) -> None:
    order = await order_at(seeded_pool, "signed", lead="hub.320302")
    street = await unit_id(seeded_pool, "street.320302001")
    cgj = await unit_id(seeded_pool, "city.cgj")
    with pytest.raises(InvalidInput):  # a hub hands down only to units under it
        await do(seeded_pool, "gulou", order["id"], Action.REDISPATCH, unit_id=cgj)
    o = await do(seeded_pool, "gulou", order["id"], Action.REDISPATCH, unit_id=street)
    assert o["status"] == "dispatched"
    o = await do(seeded_pool, "huanglou", order["id"], Action.RETURN, reason="该地址属于丰财街道")
    assert o["status"] == "signed"  # back with the hub, which holds it signed
    rows = await seeded_pool.fetch(
        "SELECT unit_id, status, parent_id IS NOT NULL AS child FROM assignments WHERE order_id = $1 ORDER BY id",
        order["id"],
    )
    hub = await unit_id(seeded_pool, "hub.320302")
    assert [tuple(r) for r in rows] == [(hub, "signed", False), (street, "returned", True)]
    # the street's reply goes through the hub's review before the centre's
    await do(seeded_pool, "gulou", order["id"], Action.REDISPATCH, unit_id=street)
    await do(seeded_pool, "huanglou", order["id"], Action.SIGN)
    await do(seeded_pool, "huanglou", order["id"], Action.REPLY, text="已现场处理")
    with pytest.raises(Forbidden):  # the centre did not dispatch the street's assignment
        await do(seeded_pool, "agent1001", order["id"], Action.REVIEW, accept=True)
    o = await do(seeded_pool, "gulou", order["id"], Action.REVIEW, accept=True)
    assert o["status"] == "replied"
    o = await do(seeded_pool, "agent1001", order["id"], Action.REVIEW, accept=True)
    assert o["status"] == "awaiting_visit"
    actions = [
        r["action"]
        for r in await seeded_pool.fetch("SELECT action FROM audit_events WHERE order_id = $1 ORDER BY id", order["id"])
    ]
    assert actions == [
        "create",
        "dispatch",
        "sign",
        "redispatch",
        "return",
        "redispatch",
        "sign",
        "reply",
        "review",
        "review",
    ]


async def test_assisting_unit_works_on_its_own_assignment_without_moving_the_order(seeded_pool: asyncpg.Pool) -> None:
    order = await new_order(seeded_pool)
    zjj = await unit_id(seeded_pool, "city.zjj")
    cgj = await unit_id(seeded_pool, "city.cgj")
    await do(seeded_pool, "agent1001", order["id"], Action.DISPATCH, unit_id=cgj, assist_unit_ids=[zjj])
    from hotline.auth import create_user

    async with seeded_pool.acquire() as conn:
        await create_user(conn, "zjj", "pw", "handler", "住建局承办人", zjj)
    o = await do(seeded_pool, "zjj", order["id"], Action.SIGN)
    assert o["status"] == "dispatched"
    with pytest.raises(Forbidden):
        await do(seeded_pool, "zjj", order["id"], Action.RETURN, reason="协办单位不能退单")
    await do(seeded_pool, "zjj", order["id"], Action.REPLY, text="协办意见：配合执法")
    o = await do(seeded_pool, "cgj", order["id"], Action.SIGN)
    assert o["status"] == "signed"


async def test_unsatisfied_visit_reopens_and_dispatch_from_reopened_pushes_reopened(seeded_pool: asyncpg.Pool) -> None:
    await seeded_pool.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook' WHERE code = 'city.cgj'")
    order = await order_at(seeded_pool, "reopened")
    await do(seeded_pool, "agent1001", order["id"], Action.DISPATCH, unit_id=await unit_id(seeded_pool, "city.cgj"))
    topics = [
        r["topic"]
        for r in await seeded_pool.fetch("SELECT topic FROM outbox WHERE order_id = $1 ORDER BY id", order["id"])
    ]
    assert topics == ["order.dispatched", "order.reopened"]


async def test_extension_is_granted_once_and_moves_the_due_date(seeded_pool: asyncpg.Pool) -> None:
    order = await order_at(seeded_pool, "signed")
    await do(seeded_pool, "cgj", order["id"], Action.REQUEST_EXTENSION, days=5, reason="需协调多部门")
    with pytest.raises(ApiError) as exc:
        await do(seeded_pool, "cgj", order["id"], Action.REQUEST_EXTENSION, days=5, reason="再次申请")
    assert exc.value.status == 409
    await do(seeded_pool, "agent1001", order["id"], Action.DECIDE_EXTENSION, approve=False)
    with pytest.raises(ApiError) as exc:
        await do(seeded_pool, "agent1001", order["id"], Action.DECIDE_EXTENSION, approve=True)
    assert exc.value.status == 409 and exc.value.code == "conflict"


async def test_suspend_and_resume_return_to_the_state_it_was_in(seeded_pool: asyncpg.Pool) -> None:
    order = await order_at(seeded_pool, "replied")
    o = await do(seeded_pool, "supervisor", order["id"], Action.SUSPEND, reason="等待鉴定结果")
    assert o["status"] == "suspended"
    with pytest.raises(InvalidTransition):
        await do(seeded_pool, "agent1001", order["id"], Action.REVIEW, accept=True)
    o = await do(seeded_pool, "supervisor", order["id"], Action.RESUME)
    assert o["status"] == "replied" and o["suspended_at"] is None

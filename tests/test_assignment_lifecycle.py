"""The assignment lifecycle on PostgreSQL: every move the table allows happens through a real
action and bumps the assignment's version; every move it refuses is refused by the store and
changes nothing; a deadline that moves (resume) reaches the unit's system and its sync."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import pytest

from hotline.auth import create_user
from hotline.errors import InvalidTransition
from hotline.orders import actions, store
from hotline.orders.assignment_states import TRANSITIONS, AssignmentStatus
from hotline.orders.states import Action
from tests.orders_helpers import do, new_order, unit_id, who
from tests.webhook_helpers import SignedClient, callback_server, dispatched, down_to_street, issue_key

S = AssignmentStatus
Step = Callable[[], Awaitable[object]]


async def _assisted(pool: asyncpg.Pool) -> tuple[int, int]:
    """(order, 市住建局's assist assignment) on an order 市城管局 leads."""
    order = await new_order(pool)
    zjj, cgj = await unit_id(pool, "city.zjj"), await unit_id(pool, "city.cgj")
    await do(pool, "agent1001", order["id"], Action.DISPATCH, unit_id=cgj, assist_unit_ids=[zjj])
    async with pool.acquire() as conn:
        await create_user(conn, "zjj", "pw", "handler", "住建局承办人", zjj)
    aid = await pool.fetchval("SELECT id FROM assignments WHERE order_id = $1 AND role = 'assist'", order["id"])
    return order["id"], aid


async def _street(pool: asyncpg.Pool) -> int:
    return await unit_id(pool, "street.320302001")


def _do(pool: asyncpg.Pool, user: str, oid: int, action: Action, **body: object) -> Step:
    return lambda: do(pool, user, oid, action, **body)


async def sign(pool):
    oid, aid = await dispatched(pool)
    return aid, _do(pool, "cgj", oid, Action.SIGN)


async def redispatch_unsigned(pool):
    oid, aid = await dispatched(pool, "hub.320302")
    return aid, _do(pool, "gulou", oid, Action.REDISPATCH, unit_id=await _street(pool))


async def return_unsigned(pool):
    oid, aid = await dispatched(pool)
    return aid, _do(pool, "cgj", oid, Action.RETURN, reason="不属于本单位职责")


async def merge_away(pool):
    oid, aid = await dispatched(pool)
    other = await new_order(pool)
    return aid, _do(pool, "agent1001", oid, Action.MERGE, into_order_id=other["id"])


async def reply(pool):
    oid, aid = await dispatched(pool)
    await do(pool, "cgj", oid, Action.SIGN)
    return aid, _do(pool, "cgj", oid, Action.REPLY, text="已处理")


async def redispatch_signed(pool):
    oid, aid = await dispatched(pool, "hub.320302")
    await do(pool, "gulou", oid, Action.SIGN)
    return aid, _do(pool, "gulou", oid, Action.REDISPATCH, unit_id=await _street(pool))


async def return_signed(pool):
    oid, aid = await dispatched(pool)
    await do(pool, "cgj", oid, Action.SIGN)
    return aid, _do(pool, "cgj", oid, Action.RETURN, reason="不属于本单位职责")


async def lead_returns_signed_assist(pool):
    oid, aid = await _assisted(pool)
    await do(pool, "zjj", oid, Action.SIGN)
    return aid, _do(pool, "cgj", oid, Action.RETURN, reason="应由住建局牵头")


async def _replied(pool: asyncpg.Pool) -> tuple[int, int]:
    oid, aid = await dispatched(pool)
    await do(pool, "cgj", oid, Action.SIGN)
    await do(pool, "cgj", oid, Action.REPLY, text="已处理")
    return oid, aid


async def accept(pool):
    oid, aid = await _replied(pool)
    return aid, _do(pool, "agent1001", oid, Action.REVIEW, accept=True)


async def send_back(pool):
    oid, aid = await _replied(pool)
    return aid, _do(pool, "agent1001", oid, Action.REVIEW, accept=False, reason="答复不完整")


async def lead_returns_replied_assist(pool):
    oid, aid = await _assisted(pool)
    await do(pool, "zjj", oid, Action.SIGN)
    await do(pool, "zjj", oid, Action.REPLY, text="协办意见")
    return aid, _do(pool, "cgj", oid, Action.RETURN, reason="应由住建局牵头")


async def street_returns(pool):
    oid, hub_aid, _ = await down_to_street(pool)
    return hub_aid, _do(pool, "huanglou", oid, Action.RETURN, reason="不在本街道辖区")


async def hub_accepts(pool):
    oid, hub_aid, _ = await down_to_street(pool)
    await do(pool, "huanglou", oid, Action.SIGN)
    await do(pool, "huanglou", oid, Action.REPLY, text="已处理")
    return hub_aid, _do(pool, "gulou", oid, Action.REVIEW, accept=True)


# Each allowed move, and the real steps that make it happen: (assignment, the action that moves it).
SCENARIOS: dict[tuple[S, S], Callable[[asyncpg.Pool], Awaitable[tuple[int, Step]]]] = {
    (S.DISPATCHED, S.SIGNED): sign,
    (S.DISPATCHED, S.REDISPATCHED): redispatch_unsigned,
    (S.DISPATCHED, S.RETURNED): return_unsigned,
    (S.DISPATCHED, S.CANCELLED): merge_away,
    (S.SIGNED, S.REPLIED): reply,
    (S.SIGNED, S.REDISPATCHED): redispatch_signed,
    (S.SIGNED, S.RETURNED): return_signed,
    (S.SIGNED, S.CANCELLED): lead_returns_signed_assist,
    (S.REPLIED, S.DONE): accept,
    (S.REPLIED, S.SIGNED): send_back,
    (S.REPLIED, S.CANCELLED): lead_returns_replied_assist,
    (S.REDISPATCHED, S.SIGNED): street_returns,
    (S.REDISPATCHED, S.REPLIED): hub_accepts,
}


def test_the_scenarios_cover_exactly_the_table() -> None:
    assert set(SCENARIOS) == {(f, t) for f, tos in TRANSITIONS.items() for t in tos}


@pytest.mark.parametrize("move", list(SCENARIOS), ids=lambda m: f"{m[0].value}->{m[1].value}")
async def test_every_allowed_move_happens_through_an_action_and_bumps_the_version(
    seeded_pool: asyncpg.Pool, move: tuple[S, S]
) -> None:
    before_status, after_status = move
    aid, step = await SCENARIOS[move](seeded_pool)
    before = await seeded_pool.fetchrow("SELECT * FROM assignments WHERE id = $1", aid)
    assert before["status"] == before_status
    await step()
    after = await seeded_pool.fetchrow("SELECT * FROM assignments WHERE id = $1", aid)
    assert after["status"] == after_status
    assert after["version"] > before["version"] and after["updated_at"] > before["updated_at"]


async def test_every_move_the_table_refuses_is_refused_by_the_store_and_changes_nothing(
    seeded_pool: asyncpg.Pool,
) -> None:
    # One assignment in every status, made by real actions.
    in_status: dict[S, int] = {S.DISPATCHED: (await dispatched(seeded_pool))[1]}
    for (_, to), scenario in SCENARIOS.items():
        if to not in in_status:
            aid, step = await scenario(seeded_pool)
            await step()
            in_status[to] = aid
    assert set(in_status) == set(S)
    for status, aid in in_status.items():
        for to in set(S) - set(TRANSITIONS[status]):
            before = await seeded_pool.fetchrow("SELECT * FROM assignments WHERE id = $1", aid)
            async with seeded_pool.acquire() as conn:
                with pytest.raises(InvalidTransition) as exc:
                    async with conn.transaction():
                        await store.move(conn, before, to)
            assert exc.value.status == 409 and exc.value.details["status"] == status.value
            assert await seeded_pool.fetchrow("SELECT * FROM assignments WHERE id = $1", aid) == before


async def test_the_database_knows_the_same_statuses(seeded_pool: asyncpg.Pool) -> None:
    check = await seeded_pool.fetchval(
        """SELECT pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = 'assignments'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%status%'
             AND pg_get_constraintdef(oid) NOT LIKE '%extension_status%'"""
    )
    assert all(f"'{s.value}'" in check for s in S), check


# ---------------------------------------------------------------- a deadline that moves

SH = ZoneInfo("Asia/Shanghai")
TUESDAY = datetime(2026, 11, 24, 9, tzinfo=SH)  # a working week with no holiday in it


class Pinned:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_resume_bumps_the_assignment_pushes_deadline_changed_and_reaches_the_sync(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis
) -> None:
    await seeded_pool.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook' WHERE code = 'city.cgj'")
    clock = Pinned(TUESDAY)
    services = actions.Services(clock=clock)

    async def act(user: str, oid: int, action: Action, **body: object) -> dict:
        return await actions.act(
            seeded_pool, services, await who(seeded_pool, user), oid, action, actions.parse_payload(action, body)
        )

    order = await new_order(seeded_pool)
    await act("agent1001", order["id"], Action.DISPATCH, unit_id=await unit_id(seeded_pool, "city.cgj"))
    key = await issue_key(seeded_pool, "city.cgj")
    async with callback_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        agency = SignedClient(session, base, key.key_id, key.secret)
        (held,) = (await agency.get("/api/units/me/assignments")).body["items"]
        clock.now = TUESDAY + timedelta(hours=1)
        await act("supervisor", order["id"], Action.SUSPEND, reason="等待司法裁定")
        clock.now = TUESDAY + timedelta(days=2, hours=1)  # Thursday: two working days suspended
        await act("supervisor", order["id"], Action.RESUME)

        a = await seeded_pool.fetchrow("SELECT * FROM assignments WHERE id = $1", held["id"])
        assert a["version"] > held["version"]
        assert a["reply_due_at"] > datetime.fromisoformat(held["reply_due_at"])
        assert a["sign_due_at"] > datetime.fromisoformat(held["sign_due_at"])
        (push,) = await seeded_pool.fetch(
            "SELECT payload FROM outbox WHERE order_id = $1 AND topic = 'order.deadline_changed'", order["id"]
        )
        p = push["payload"]
        assert p["assignment_id"] == a["id"] and p["reason"] == "resumed" and p["order"]["id"] == order["id"]
        assert datetime.fromisoformat(p["reply_due_at"]) == a["reply_due_at"]
        assert datetime.fromisoformat(p["sign_due_at"]) == a["sign_due_at"]

        # The agency syncs with what changed after the last change it holds, and learns the new deadlines.
        since = (datetime.fromisoformat(held["updated_at"]) + timedelta(microseconds=1)).isoformat()
        r = await agency.get(f"/api/units/me/assignments?since={quote(since)}")
        assert r.status == 200, r.body
        (synced,) = r.body["items"]
        assert synced["id"] == a["id"] and synced["version"] == a["version"]
        assert datetime.fromisoformat(synced["reply_due_at"]) == a["reply_due_at"]


async def test_an_approved_extension_pushes_both_extended_and_deadline_changed(seeded_pool: asyncpg.Pool) -> None:
    await seeded_pool.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook' WHERE code = 'city.cgj'")
    oid, aid = await dispatched(seeded_pool)
    await do(seeded_pool, "cgj", oid, Action.SIGN)
    await do(seeded_pool, "cgj", oid, Action.REQUEST_EXTENSION, days=3, reason="需协调多部门")
    before = await seeded_pool.fetchrow("SELECT * FROM assignments WHERE id = $1", aid)
    await do(seeded_pool, "agent1001", oid, Action.DECIDE_EXTENSION, approve=True)
    after = await seeded_pool.fetchrow("SELECT * FROM assignments WHERE id = $1", aid)
    assert after["version"] > before["version"] and after["reply_due_at"] > before["reply_due_at"]
    pushes = {
        r["topic"]: r["payload"]
        for r in await seeded_pool.fetch("SELECT topic, payload FROM outbox WHERE order_id = $1", oid)
    }
    assert datetime.fromisoformat(pushes["order.extended"]["reply_due_at"]) == after["reply_due_at"]
    changed = pushes["order.deadline_changed"]
    assert changed["reason"] == "extension_approved"
    assert datetime.fromisoformat(changed["reply_due_at"]) == after["reply_due_at"]

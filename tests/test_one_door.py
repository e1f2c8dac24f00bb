"""One door per action: the staff API (``actions.act``) and the unit callback API
(``/api/units/me/assignments/{id}/…``) reach the same core action, and the core alone decides
who may act on which assignment — so both refuse the same things, the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest

from hotline.agency.callbacks import OPERATIONS
from hotline.errors import AssignmentClosed, Conflict, Forbidden, InvalidTransition, NotYourAssignment
from hotline.orders import actions
from hotline.orders.states import RULES, Action
from tests.api_helpers import Client
from tests.orders_helpers import do, unit_id
from tests.webhook_helpers import SignedClient, UnitKey, assert_error, callback_server, dispatched, issue_key

A = "/api/units/me/assignments"


@dataclass
class Doors:
    pool: asyncpg.Pool
    base: str
    session: aiohttp.ClientSession
    keys: dict[str, UnitKey]

    def signed(self, code: str) -> SignedClient:
        k = self.keys[code]
        return SignedClient(self.session, self.base, k.key_id, k.secret)


@pytest.fixture
async def doors(seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis) -> AsyncIterator[Doors]:
    keys = {c: await issue_key(seeded_pool, c) for c in ("hub.320302", "street.320302001")}
    async with callback_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        yield Doors(seeded_pool, base, session, keys)


async def _hub_asked_then_handed_down(pool: asyncpg.Pool) -> tuple[int, int, int]:
    """鼓楼区's hub asks for more time on its own assignment, then re-dispatches the order to 黄楼街道."""
    oid, hub_aid = await dispatched(pool, "hub.320302")
    await do(pool, "gulou", oid, Action.SIGN)
    await do(pool, "gulou", oid, Action.REQUEST_EXTENSION, days=3, reason="需要街道现场勘查")
    await do(pool, "gulou", oid, Action.REDISPATCH, unit_id=await unit_id(pool, "street.320302001"))
    street_aid = await pool.fetchval("SELECT id FROM assignments WHERE order_id = $1 AND parent_id = $2", oid, hub_aid)
    return oid, hub_aid, street_aid


async def test_a_hub_cannot_approve_its_own_extension_on_the_staff_path(seeded_pool: asyncpg.Pool) -> None:
    oid, hub_aid, _ = await _hub_asked_then_handed_down(seeded_pool)
    before = await seeded_pool.fetchrow("SELECT * FROM assignments WHERE id = $1", hub_aid)
    with pytest.raises(NotYourAssignment) as exc:
        await do(seeded_pool, "gulou", oid, Action.DECIDE_EXTENSION, approve=True, assignment_id=hub_aid)
    assert exc.value.status == 403 and exc.value.details["assignment_id"] == hub_aid
    # Without naming it, the hub decides on the order's open lead (its street's), which asked for nothing.
    with pytest.raises(Conflict) as exc:
        await do(seeded_pool, "gulou", oid, Action.DECIDE_EXTENSION, approve=True)
    assert exc.value.code == "conflict"
    # Its dispatcher (the centre) cannot either: the assignment was handed down and takes no more decisions.
    with pytest.raises(AssignmentClosed):
        await do(seeded_pool, "agent1001", oid, Action.DECIDE_EXTENSION, approve=True, assignment_id=hub_aid)
    after = await seeded_pool.fetchrow("SELECT * FROM assignments WHERE id = $1", hub_aid)
    assert after == before and after["extension_status"] == "requested"
    assert not await seeded_pool.fetchval(
        "SELECT count(*) FROM audit_events WHERE order_id = $1 AND action = 'decide_extension'", oid
    )


async def test_a_hub_cannot_approve_its_own_extension_through_either_http_api(doors: Doors) -> None:
    oid, hub_aid, _ = await _hub_asked_then_handed_down(doors.pool)
    before = await doors.pool.fetchrow("SELECT * FROM assignments WHERE id = $1", hub_aid)
    staff = await Client(doors.session, doors.base).login("gulou")
    status, body = await staff.request(
        "POST", f"/api/orders/{oid}/actions/decide_extension", json={"approve": True, "assignment_id": hub_aid}
    )
    assert status == 403 and body["error"]["code"] == "not_your_assignment", body
    # The same bearer token on the unit callback API: the same refusal from the same core.
    status, body = await staff.request(
        "POST", f"{A}/{hub_aid}/extension-decision", json={"approve": True}, headers={"Idempotency-Key": "k-1"}
    )
    assert status == 403 and body["error"]["code"] == "not_your_assignment", body
    r = await doors.signed("hub.320302").post(f"{A}/{hub_aid}/extension-decision", {"approve": True})
    assert assert_error(r, 403, "not_your_assignment")["details"]["assignment_id"] == hub_aid
    after = await doors.pool.fetchrow("SELECT * FROM assignments WHERE id = $1", hub_aid)
    assert after == before and after["extension_status"] == "requested"


async def test_the_hub_decides_its_streets_request_on_either_door(doors: Doors) -> None:
    for door in ("staff", "callback"):
        oid, _, street_aid = await _hub_asked_then_handed_down(doors.pool)
        await do(doors.pool, "huanglou", oid, Action.SIGN)
        await do(doors.pool, "huanglou", oid, Action.REQUEST_EXTENSION, days=2, reason="等待材料")
        # The street cannot decide its own request, on either door.
        with pytest.raises(NotYourAssignment):
            await do(doors.pool, "huanglou", oid, Action.DECIDE_EXTENSION, approve=True, assignment_id=street_aid)
        r = await doors.signed("street.320302001").post(f"{A}/{street_aid}/extension-decision", {"approve": True})
        assert_error(r, 403, "not_your_assignment")
        if door == "staff":
            await do(doors.pool, "gulou", oid, Action.DECIDE_EXTENSION, approve=True, assignment_id=street_aid)
        else:
            r = await doors.signed("hub.320302").post(f"{A}/{street_aid}/extension-decision", {"approve": True})
            assert r.status == 200, r.body
        assert (
            await doors.pool.fetchval("SELECT extension_status FROM assignments WHERE id = $1", street_aid)
            == "approved"
        ), door


async def test_a_closed_or_superseded_assignment_is_refused_alike_on_both_doors(doors: Doors) -> None:
    oid, hub_aid, street_aid = await _hub_asked_then_handed_down(doors.pool)
    hub = doors.signed("hub.320302")
    # The hub's own assignment is re-dispatched: a note on it is refused as closed on the callback door…
    assert_error(await hub.post(f"{A}/{hub_aid}/notes", {"note": "补充说明"}), 409, "assignment_closed")
    # …and on the staff door the hub holds no open assignment on the order at all.
    with pytest.raises(Forbidden) as exc:
        await do(doors.pool, "gulou", oid, Action.NOTE, note="补充说明")
    assert exc.value.status == 403
    # Reviewing the street before it replied is the order's state, the same refusal on both doors.
    r = await hub.post(f"{A}/{street_aid}/review", {"accept": True})
    assert_error(r, 409, "invalid_transition")
    with pytest.raises(InvalidTransition) as exc:
        await do(doors.pool, "gulou", oid, Action.REVIEW, accept=True)
    assert exc.value.code == "invalid_transition"


def test_every_callback_is_a_core_action_with_its_actor_and_body() -> None:
    for op in OPERATIONS.values():
        assert op.side.value == RULES[op.action].actor.value, op.name
        assert op.body is actions.PAYLOADS[op.action], op.name

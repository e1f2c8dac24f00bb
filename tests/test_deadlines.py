"""Deadlines set by real order actions on real PostgreSQL, with the time pinned:
dispatch (working days, working hours, urgent calendar clocks), re-dispatch, visits,
extensions, suspension, and the policy presets."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from hotline.deadlines import store
from hotline.deadlines.clock import DeadlineClock
from hotline.errors import Conflict, InvalidInput
from hotline.orders import actions
from hotline.orders.states import Action
from tests.orders_helpers import new_order, unit_id, who

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


class Pinned:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Pinned:
    return Pinned(at(2026, 9, 29, 10))


@pytest.fixture
def services(clock: Pinned) -> actions.Services:
    return actions.Services(clock=clock)


async def act(pool: asyncpg.Pool, services: actions.Services, username: str, oid: int, action: Action, **body) -> dict:
    p = await who(pool, username)
    return await actions.act(pool, services, p, oid, action, actions.parse_payload(action, body))


async def dispatched(
    pool: asyncpg.Pool, services: actions.Services, unit: str = "city.cgj", **fields
) -> asyncpg.Record:
    order = await new_order(pool, **fields)
    await act(pool, services, "agent1001", order["id"], Action.DISPATCH, unit_id=await unit_id(pool, unit))
    return await lead(pool, order["id"])


async def lead(pool: asyncpg.Pool, order_id: int) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT * FROM assignments WHERE order_id = $1 AND role = 'lead' ORDER BY id DESC LIMIT 1", order_id
    )


async def timers(pool: asyncpg.Pool, assignment_id: int) -> dict[tuple[str, str, int], asyncpg.Record]:
    rows = await pool.fetch("SELECT * FROM deadline_timers WHERE assignment_id = $1", assignment_id)
    return {(r["clock"], r["kind"], r["generation"]): r for r in rows}


# ------------------------------------------------------------ dispatch


async def test_complaint_across_national_day(seeded_pool, services) -> None:
    """Tue 29 Sep 10:00: 2 working hours to sign, 15 working days to reply, over the holiday
    and its make-up Saturday (10 Oct)."""
    a = await dispatched(seeded_pool, services, kind="complaint")
    assert a["dispatched_at"] == at(2026, 9, 29, 10)
    assert a["sign_due_at"] == at(2026, 9, 29, 12)
    assert a["reply_due_at"] == at(2026, 10, 23, 17, 30)
    assert a["deadline_basis"]["reply"]["unit"] == "working_days" and a["deadline_basis"]["reply"]["amount"] == 15
    t = await timers(seeded_pool, a["id"])
    assert t[("sign", "warning", 0)]["fire_at"] == at(2026, 9, 29, 11, 36)  # 80 % of 120 min = 96 min
    assert t[("sign", "overdue", 0)]["fire_at"] == at(2026, 9, 29, 12)
    # 111 working hours in all (6 on the 29th, 14 × 7.5 after); 80 % = 88 h 48 min:
    # 6 h + 11 full days (30 Sep; 8, 9, 10, 12–16, 19, 20 Oct) = 88.5 h, then 18 min on 21 Oct
    assert t[("reply", "warning", 0)]["fire_at"] == at(2026, 10, 21, 8, 48)
    assert t[("reply", "overdue", 0)]["due_at"] == at(2026, 10, 23, 17, 30)


async def test_consult_over_a_weekend(seeded_pool, services, clock) -> None:
    clock.now = at(2026, 11, 20, 16)  # Friday 16:00
    a = await dispatched(seeded_pool, services, kind="consult")
    assert a["sign_due_at"] == at(2026, 11, 23, 9)  # 1.5 h on Friday, 0.5 h on Monday
    assert a["reply_due_at"] == at(2026, 11, 23, 17, 30)  # Friday counts (含本数), Monday is day 2


async def test_lunch_break_does_not_count(seeded_pool, services, clock) -> None:
    clock.now = at(2026, 11, 24, 11)
    a = await dispatched(seeded_pool, services, kind="help")
    assert a["sign_due_at"] == at(2026, 11, 24, 14, 30)


async def test_urgent_and_emergency_run_on_the_clock_through_the_holiday(seeded_pool, services, clock) -> None:
    clock.now = at(2026, 10, 3, 23, 50)  # a Saturday night in the National Day holiday
    urgent = await dispatched(seeded_pool, services, kind="help", urgency="urgent")
    assert urgent["sign_due_at"] == at(2026, 10, 4, 0, 20)
    assert urgent["reply_due_at"] == at(2026, 10, 4, 23, 50)
    emergency = await dispatched(seeded_pool, services, kind="report", urgency="emergency")
    assert emergency["reply_due_at"] == at(2026, 10, 4, 1, 50)
    t = await timers(seeded_pool, emergency["id"])
    assert t[("reply", "warning", 0)]["fire_at"] == at(2026, 10, 4, 1, 26)  # 80 % of 120 min, calendar time


async def test_redispatch_starts_new_clocks_for_the_street(seeded_pool, services, clock) -> None:
    hub = await dispatched(seeded_pool, services, unit="hub.320302", kind="consult")
    clock.now = at(2026, 9, 30, 15)
    street = await unit_id(seeded_pool, "street.320302001")
    await act(seeded_pool, services, "gulou", hub["order_id"], Action.REDISPATCH, unit_id=street)
    child = await lead(seeded_pool, hub["order_id"])
    assert child["unit_id"] == street and child["parent_id"] == hub["id"]
    assert child["sign_due_at"] == at(2026, 9, 30, 17)  # from the re-dispatch, not the first dispatch
    assert child["reply_due_at"] == at(2026, 10, 8, 17, 30)  # 30 Sep counts, 8 Oct is day 2


async def test_visit_due_follows_the_policy(seeded_pool, services, clock) -> None:
    a = await dispatched(seeded_pool, services, kind="consult")
    oid = a["order_id"]
    await act(seeded_pool, services, "cgj", oid, Action.SIGN)
    await act(seeded_pool, services, "cgj", oid, Action.REPLY, text="已答复")
    clock.now = at(2026, 9, 30, 16)
    order = await act(seeded_pool, services, "agent1001", oid, Action.REVIEW, accept=True)
    assert order["status"] == "awaiting_visit"
    visit_due = await seeded_pool.fetchval("SELECT visit_due_at FROM work_orders WHERE id = $1", oid)
    assert visit_due == at(2026, 10, 8, 17, 30)  # 30 Sep counts, 8 Oct is day 2


async def test_beijing_preset_counts_calendar_days(seeded_pool, services) -> None:
    async with seeded_pool.acquire() as conn:
        await store.activate(conn, "beijing")
    a = await dispatched(seeded_pool, services, kind="complaint")
    assert a["sign_due_at"] == at(2026, 9, 29, 12)
    assert a["reply_due_at"] == at(2026, 10, 14, 10)  # 15 calendar days, holiday or not
    consult = await dispatched(seeded_pool, services, kind="consult")
    assert consult["reply_due_at"] == at(2026, 10, 6, 10)  # 7 days


async def test_calendar_override_moves_a_deadline(seeded_pool, services, clock) -> None:
    clock.now = at(2026, 11, 20, 16)
    async with seeded_pool.acquire() as conn:
        await store.set_override(conn, datetime(2026, 11, 23).date(), False, "local holiday")
    a = await dispatched(seeded_pool, services, kind="consult")
    assert a["reply_due_at"] == at(2026, 11, 24, 17, 30)


# ------------------------------------------------------------ extensions


async def _with_webhook(pool: asyncpg.Pool, code: str) -> None:
    await pool.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook' WHERE code = $1", code)


async def test_extension_approved_moves_reply_by_on_working_days(seeded_pool, services, clock) -> None:
    await _with_webhook(seeded_pool, "city.cgj")
    a = await dispatched(seeded_pool, services, kind="complaint")
    oid = a["order_id"]
    await act(seeded_pool, services, "cgj", oid, Action.SIGN)
    clock.now = at(2026, 10, 20, 9)
    await act(seeded_pool, services, "cgj", oid, Action.REQUEST_EXTENSION, days=5, reason="需要协调多个部门现场核查")
    still = await lead(seeded_pool, oid)
    assert still["reply_due_at"] == at(2026, 10, 23, 17, 30)  # only approval moves it
    await act(seeded_pool, services, "agent1001", oid, Action.DECIDE_EXTENSION, approve=True)
    extended = await lead(seeded_pool, oid)
    # 23 Oct 17:30 is closing time, so counting starts on Monday 26 Oct: 26–30 Oct
    assert extended["reply_due_at"] == at(2026, 10, 30, 17, 30)
    assert extended["extension_status"] == "approved"
    previous = extended["deadline_basis"]["extension"]["previous_reply_due_at"]
    assert datetime.fromisoformat(previous) == at(2026, 10, 23, 17, 30)
    t = await timers(seeded_pool, a["id"])
    assert t[("reply", "overdue", 0)]["outcome"] == "superseded"
    assert t[("reply", "warning", 0)]["outcome"] == "superseded"
    assert t[("reply", "overdue", 1)]["fire_at"] == at(2026, 10, 30, 17, 30)
    assert t[("reply", "warning", 1)]["fire_at"] == at(2026, 10, 29, 17, 30)  # 80 % of 37.5 h = 30 h = 4 days
    history = await seeded_pool.fetch(
        "SELECT action, payload FROM audit_events WHERE order_id = $1 AND action LIKE '%extension' ORDER BY id", oid
    )
    assert [h["action"] for h in history] == ["request_extension", "decide_extension"]
    assert datetime.fromisoformat(history[1]["payload"]["reply_due_at"]) == at(2026, 10, 30, 17, 30)
    pushed = await seeded_pool.fetchrow(
        "SELECT payload FROM outbox WHERE order_id = $1 AND topic = 'order.extended'", oid
    )
    assert datetime.fromisoformat(pushed["payload"]["reply_due_at"]) == at(2026, 10, 30, 17, 30)


async def test_extension_denied_keeps_the_deadline_and_only_one_is_allowed(seeded_pool, services, clock) -> None:
    a = await dispatched(seeded_pool, services, kind="complaint")
    oid = a["order_id"]
    await act(seeded_pool, services, "cgj", oid, Action.REQUEST_EXTENSION, days=3, reason="等待检测报告")
    await act(seeded_pool, services, "agent1001", oid, Action.DECIDE_EXTENSION, approve=False, note="理由不足")
    after = await lead(seeded_pool, oid)
    assert after["reply_due_at"] == a["reply_due_at"] and after["extension_status"] == "denied"
    with pytest.raises(Conflict):
        await act(seeded_pool, services, "cgj", oid, Action.REQUEST_EXTENSION, days=2, reason="再次申请")


async def test_extension_longer_than_the_policy_allows_is_refused(seeded_pool, services) -> None:
    a = await dispatched(seeded_pool, services, kind="complaint")
    with pytest.raises(InvalidInput) as err:
        await act(seeded_pool, services, "cgj", a["order_id"], Action.REQUEST_EXTENSION, days=16, reason="太久")
    assert err.value.details["max_days"] == 15
    assert (await lead(seeded_pool, a["order_id"]))["extension_status"] is None


# ------------------------------------------------------------ suspension


async def test_suspension_stops_the_clock_and_resumption_pushes_deadlines_out(seeded_pool, services, clock) -> None:
    clock.now = at(2026, 11, 20, 16)  # Friday
    a = await dispatched(seeded_pool, services, kind="complaint")
    oid = a["order_id"]
    assert a["sign_due_at"] == at(2026, 11, 23, 9)
    assert a["reply_due_at"] == at(2026, 12, 10, 17, 30)
    clock.now = at(2026, 11, 20, 17)
    await act(seeded_pool, services, "supervisor", oid, Action.SUSPEND, reason="等待司法裁定")

    ticker = DeadlineClock(seeded_pool)
    assert await ticker.tick(at(2026, 11, 23, 9, 45)) == 0  # past the old sign-by, but suspended

    clock.now = at(2026, 11, 23, 10)  # Monday: 0.5 h on Friday + 1.5 h on Monday were suspended
    order = await act(seeded_pool, services, "supervisor", oid, Action.RESUME)
    assert order["status"] == "dispatched"
    moved = await lead(seeded_pool, oid)
    assert moved["sign_due_at"] == at(2026, 11, 23, 11)
    assert moved["reply_due_at"] == at(2026, 12, 11, 10, 30)  # 17:30 on 10 Dec + 2 working hours
    t = await timers(seeded_pool, a["id"])
    assert t[("sign", "warning", 0)]["fire_at"] == at(2026, 11, 23, 10, 36)  # was Monday 08:36
    assert t[("sign", "overdue", 0)]["fire_at"] == at(2026, 11, 23, 11)

    assert await ticker.tick(at(2026, 11, 23, 10, 30)) == 0
    assert await ticker.tick(at(2026, 11, 23, 10, 40)) == 1  # the sign warning
    assert await ticker.tick(at(2026, 11, 23, 11)) == 1  # the sign overdue
    resumed = await seeded_pool.fetchrow(
        "SELECT payload FROM audit_events WHERE order_id = $1 AND action = 'resume'", oid
    )
    assert datetime.fromisoformat(resumed["payload"]["deadlines"]["assignments"][0]["reply_due_at"]) == at(
        2026, 12, 11, 10, 30
    )


async def test_suspension_on_a_calendar_policy_shifts_by_calendar_time(seeded_pool, services, clock) -> None:
    clock.now = at(2026, 11, 20, 16)
    a = await dispatched(seeded_pool, services, kind="help", urgency="urgent")
    assert a["reply_due_at"] == at(2026, 11, 21, 16)
    clock.now = at(2026, 11, 20, 17)
    await act(seeded_pool, services, "supervisor", a["order_id"], Action.SUSPEND, reason="等待供电公司抢修")
    clock.now = at(2026, 11, 20, 20)
    await act(seeded_pool, services, "supervisor", a["order_id"], Action.RESUME)
    assert (await lead(seeded_pool, a["order_id"]))["reply_due_at"] == at(2026, 11, 21, 19)

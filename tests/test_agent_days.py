"""Agents' day figures from hand-made member state changes, every expectation worked out by hand
in whole seconds (times are Shanghai time; the clock is pinned), and the route over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from hotline.figures.agent_days import NO_REASON, AgentDay, agent_days, total_of
from hotline.figures.periods import TZ
from tests.api_helpers import Client, running_server
from tests.test_api import assert_error

D = date(2026, 11, 10)
LATER = datetime(2026, 11, 20, 12, 0, tzinfo=TZ)  # "now" for the days that are over
A, B, C = "Local/1001@agents/n", "Local/1002@agents/n", "Local/1003@agents/n"


def at(hh: int, mm: int = 0, ss: int = 0, day: date = D) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=TZ)


Change = tuple[str, str, str, datetime] | tuple[str, str, str, datetime, dict[str, Any]]


async def load(pool: asyncpg.Pool, changes: list[Change]) -> None:
    """The changes, and member_states as the adapter leaves it: each membership's last change."""
    async with pool.acquire() as conn:
        for interface, queue, state, when, *extra in changes:
            more = extra[0] if extra else {}
            await conn.execute(
                """INSERT INTO member_state_changes (node, queue, interface, member_name, state, paused, reason,
                                                     linkedid, event, at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'QueueMemberStatus', $9)""",
                more.get("node", "pbx1"), queue, interface, "Agent " + interface[6:10], state,
                more.get("paused", state == "paused"), more.get("reason"), more.get("linkedid"), when,
            )  # fmt: skip
        await conn.execute(
            """INSERT INTO member_states (node, queue, interface, member_name, state, paused, reason, linkedid, since)
               SELECT DISTINCT ON (node, queue, interface)
                      node, queue, interface, member_name, state, paused, reason, linkedid, at
               FROM member_state_changes ORDER BY node, queue, interface, at DESC, id DESC"""
        )


async def days_of(pool: asyncpg.Pool, day: date = D, now: datetime = LATER) -> dict[str, dict[str, Any]]:
    async with pool.acquire() as conn:
        return {d.interface: d.as_dict() for d in await agent_days(conn, day, now)}


def figures(**given: Any) -> dict[str, Any]:
    """The figures with the zeros filled in, and signed_in / busy_total / occupancy as the rule has them."""
    f = {"busy": {}, "talk": 0, "ringing": 0, "wrapup": 0, "ready": 0, "calls": 0, **given}
    f["busy_total"] = sum(f["busy"].values())
    f["signed_in"] = f["busy_total"] + f["talk"] + f["ringing"] + f["wrapup"] + f["ready"]
    available = f["signed_in"] - f["busy_total"]
    f.setdefault("occupancy", round((f["talk"] + f["wrapup"]) / available, 4) if available else None)
    return f


def only_figures(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("interface", "member_name", "user_id", "username",
                                                       "display_name")}  # fmt: skip


async def test_the_state_before_the_day_carries_over(pool: asyncpg.Pool) -> None:
    await load(pool, [
        (A, "hotline", "paused", at(18, day=D - timedelta(days=2)), {"reason": "小休"}),
        (A, "hotline", "ready", at(22, day=D - timedelta(days=1))),  # the last before the day: ready from 00:00
        (A, "hotline", "in_call", at(9), {"linkedid": "L1"}),
        (A, "hotline", "wrapup", at(9, 10)),
        (A, "hotline", "ready", at(9, 12)),
        (A, "hotline", "offline", at(18)),
    ])  # fmt: skip
    row = (await days_of(pool))[A]
    # ready 00:00–09:00 (32 400) + 09:12–18:00 (31 680); talk 09:00–09:10; wrap-up 09:10–09:12
    assert only_figures(row) == figures(ready=64080, talk=600, wrapup=120, calls=1)
    assert row["signed_in"] == 18 * 3600 and row["occupancy"] == round(720 / 64800, 4)
    assert (row["member_name"], row["user_id"], row["username"]) == ("Agent 1001", None, None)


async def test_an_agent_without_changes_that_day_is_counted_from_the_state_carried_over(pool: asyncpg.Pool) -> None:
    await load(pool, [
        (B, "hotline", "ready", at(20, day=D - timedelta(days=1))),
        (C, "hotline", "ready", at(8, day=D - timedelta(days=30))),
        (C, "hotline", "offline", at(9, day=D - timedelta(days=30))),  # long gone: not listed
    ])  # fmt: skip
    assert {k: only_figures(v) for k, v in (await days_of(pool)).items()} == {B: figures(ready=86400)}


async def test_two_queues_merge_by_precedence_and_count_signed_in_once(pool: asyncpg.Pool) -> None:
    await load(pool, [
        (B, "hotline", "ready", at(8)),
        (B, "vip", "paused", at(8, 30), {"reason": "小休"}),
        (B, "hotline", "in_call", at(10), {"linkedid": "L2"}),  # talking in one queue, paused in the other
        (B, "hotline", "ready", at(10, 5)),
        (B, "vip", "ready", at(11)),
        (B, "hotline", "offline", at(12)),
        (B, "vip", "offline", at(12, 30)),
    ])  # fmt: skip
    row = (await days_of(pool))[B]
    # ready 08:00–08:30, 11:00–12:30 (vip alone after 12:00); 小休 08:30–10:00 and 10:05–11:00; talk 10:00–10:05
    assert only_figures(row) == figures(ready=1800 + 5400, busy={"小休": 5400 + 3300}, talk=300, calls=1)
    assert row["signed_in"] == 4 * 3600 + 1800  # 08:00–12:30, not the sum of the two queues
    assert row["occupancy"] == 0.04  # 300 / (16 200 − 8 700)


async def test_a_pause_while_talking_is_talk_and_reasons_are_split(pool: asyncpg.Pool) -> None:
    await load(pool, [
        (C, "hotline", "paused", at(9), {"reason": "小休"}),
        (C, "hotline", "ready", at(9, 15)),
        (C, "hotline", "in_call", at(9, 20), {"linkedid": "L3"}),
        (C, "hotline", "in_call", at(9, 25), {"linkedid": "L3", "paused": True, "reason": "培训"}),
        (C, "hotline", "paused", at(9, 30), {"reason": "培训"}),  # the call ended; still paused
        (C, "hotline", "ready", at(10), {"paused": True, "reason": "会议"}),  # ready with the flag: a pause
        (C, "hotline", "ready", at(10, 5)),
        (C, "hotline", "paused", at(10, 10)),  # no reason given
        (C, "hotline", "offline", at(10, 20)),
    ])  # fmt: skip
    row = (await days_of(pool))[C]
    busy = {"小休": 900, "培训": 1800, "会议": 300, NO_REASON: 600}
    assert only_figures(row) == figures(ready=300 + 300, talk=600, busy=busy, calls=1)
    assert row["busy_total"] == 3600 and row["occupancy"] == 0.5  # 600 / (4 800 − 3 600)


async def test_today_stops_at_now_and_later_rows_do_not_count(pool: asyncpg.Pool) -> None:
    await load(pool, [
        (A, "hotline", "ready", at(15)),
        (A, "hotline", "in_call", at(15, 10), {"linkedid": "L4"}),
        (A, "hotline", "wrapup", at(16), {"linkedid": "L5"}),  # after now (a node clock ahead of ours)
    ])  # fmt: skip
    now = at(15, 30)
    assert only_figures((await days_of(pool, D, now))[A]) == figures(ready=600, talk=1200, calls=1)
    assert await days_of(pool, D + timedelta(days=1), now) == {}  # a day still to come
    assert await days_of(pool, D, at(0)) == {}  # the day has not started


async def test_a_change_at_midnight_belongs_to_the_day_it_starts(pool: asyncpg.Pool) -> None:
    await load(pool, [
        (A, "hotline", "paused", at(23, day=D - timedelta(days=1)), {"reason": "小休"}),
        (A, "hotline", "ready", at(0)),
        (A, "hotline", "offline", at(1)),
        (A, "hotline", "in_call", at(0, day=D + timedelta(days=1)), {"linkedid": "L6"}),
    ])  # fmt: skip
    assert only_figures((await days_of(pool, D - timedelta(days=1)))[A]) == figures(busy={"小休": 3600})
    assert only_figures((await days_of(pool, D))[A]) == figures(ready=3600)
    # 00:00 of the next day starts it: the call holds the whole day there (nothing followed it).
    assert only_figures((await days_of(pool, D + timedelta(days=1)))[A]) == figures(talk=86400, calls=1)


async def test_a_call_taken_before_midnight_counts_its_talk_after_midnight_but_not_its_number(
    pool: asyncpg.Pool,
) -> None:
    await load(pool, [
        (A, "hotline", "in_call", at(23, 50, day=D - timedelta(days=1)), {"linkedid": "L7"}),
        (A, "hotline", "ready", at(0, 5)),
        (A, "hotline", "offline", at(0, 10)),
    ])  # fmt: skip
    assert only_figures((await days_of(pool))[A]) == figures(talk=300, ready=300, calls=0)


async def test_no_changes_no_agents_and_a_zero_total(pool: asyncpg.Pool) -> None:
    assert await days_of(pool) == {}
    assert total_of([]).figures() == figures()  # occupancy None: nothing to divide by


async def test_occupancy_is_null_without_available_time(pool: asyncpg.Pool) -> None:
    await load(pool, [(B, "hotline", "paused", at(9), {"reason": "培训"}), (B, "hotline", "offline", at(10))])
    row = (await days_of(pool))[B]
    assert (row["signed_in"], row["busy"], row["occupancy"]) == (3600, {"培训": 3600}, None)


async def test_agents_are_named_by_their_user_and_the_total_sums_them(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        user_id = await conn.fetchval(
            """INSERT INTO users (username, display_name, password_hash, role, agent_interface)
               VALUES ('agent1001', '话务员1001', 'x', 'agent', $1) RETURNING id""",
            A,
        )
    await load(pool, [
        (A, "hotline", "in_call", at(9), {"linkedid": "L8"}),
        (A, "hotline", "paused", at(9, 10), {"reason": "小休"}),
        (A, "hotline", "offline", at(9, 20)),
        (B, "hotline", "in_call", at(9), {"linkedid": "L8", "node": "pbx2"}),  # the same call, transferred
        (B, "hotline", "wrapup", at(9, 5), {"node": "pbx2"}),
        (B, "hotline", "ready", at(9, 6), {"node": "pbx2"}),
        (B, "hotline", "offline", at(9, 16), {"node": "pbx2"}),
    ])  # fmt: skip
    async with pool.acquire() as conn:
        days = await agent_days(conn, D, LATER)
    assert [(d.interface, d.user_id, d.username, d.display_name) for d in days] == [
        (A, user_id, "agent1001", "话务员1001"), (B, None, None, None),
    ]  # fmt: skip
    total = total_of(days).figures()
    assert total == figures(talk=600 + 300, wrapup=60, ready=600, busy={"小休": 600}, calls=2)
    assert total["occupancy"] == round(960 / 1560, 4)


async def test_rounding_keeps_the_parts_adding_up(pool: asyncpg.Pool) -> None:
    await load(pool, [
        (A, "hotline", "ready", at(9) + timedelta(microseconds=400_000)),
        (A, "hotline", "in_call", at(9, 0, 10) + timedelta(microseconds=900_000), {"linkedid": "L9"}),
        (A, "hotline", "offline", at(9, 1)),
    ])  # fmt: skip
    day: AgentDay = await _one(pool)
    assert (day.ready, day.talk, day.signed_in) == (10, 49, 59)  # 10.5 s → 10 (half to even), 49.1 s → 49


async def _one(pool: asyncpg.Pool) -> AgentDay:
    async with pool.acquire() as conn:
        (day,) = await agent_days(conn, D, LATER)
    return day


# ---------------------------------------------------------------- the adapter's rows

SCENARIO_NOW = datetime(2026, 12, 2, 10, 20, tzinfo=TZ)  # ten minutes after the states recording


def _expected_from_facts(member: dict[str, Any], stop: float) -> dict[str, Any]:
    """What the recording's own member timeline (states.facts.json) adds up to: one queue each, so
    no precedence to apply; seconds unrounded."""
    timeline = member["ami"]["timeline"]
    spent: dict[str, float] = {"talk": 0.0, "ringing": 0.0, "wrapup": 0.0, "ready": 0.0}
    busy: dict[str, float] = {}
    for entry, until in zip(timeline, [e["t"] for e in timeline[1:]] + [stop], strict=True):
        state, seconds = entry["state"], until - entry["t"]
        if state == "paused":
            busy[entry["reason"] or NO_REASON] = busy.get(entry["reason"] or NO_REASON, 0.0) + seconds
        elif state != "removed":
            spent["talk" if state == "in call" else state] += seconds
    calls = {e["linkedid"] for e in timeline if e["state"] == "in call" and e.get("linkedid")}
    return {**spent, "busy": busy, "calls": len(calls)}


async def test_the_adapters_rows_of_the_states_recording_add_up_to_its_timelines(
    seeded_pool: asyncpg.Pool, shared_dir: Path
) -> None:
    from tests.ami_helpers import replay_into
    from tests.member_helpers import states_facts, states_server

    await replay_into(seeded_pool, None, states_server(shared_dir))
    facts = states_facts(shared_dir)["members"]
    # The QueueStatus on connecting is stamped when the adapter asked (no node Timestamp seen yet):
    # during a replay that is the wall clock, not the recording's; give it the recording's time.
    asked = next(e["t"] for m in facts.values() for e in m["ami"]["timeline"] if e["event"].startswith("QueueStatus"))
    await seeded_pool.execute(
        "UPDATE member_state_changes SET at = to_timestamp($1) WHERE event = 'QueueStatus'", asked
    )
    ours = await days_of(seeded_pool, SCENARIO_NOW.date(), SCENARIO_NOW)
    assert set(ours) == {m["interface"] for m in facts.values()}
    for member in facts.values():
        row, want = ours[member["interface"]], _expected_from_facts(member, SCENARIO_NOW.timestamp())
        for name in ("talk", "ringing", "wrapup", "ready"):
            assert abs(row[name] - want[name]) <= 1, (member["interface"], name, row, want)
        assert row["busy"].keys() == want["busy"].keys(), (member["interface"], row, want)
        assert all(abs(row["busy"][r] - want["busy"][r]) <= 1 for r in want["busy"]), (row, want)
        assert row["calls"] == want["calls"]
    assert ours["Local/1001@agents/n"]["username"] == "agent1001"
    # 1001 paused (会议) in a call: talk until the call ended, then busy until the unpause (18.062 s).
    assert ours["Local/1001@agents/n"]["busy"] == {"会议": 16}  # 10:10:53.817–10:11:09.884
    assert ours["Local/1005@agents/n"]["busy"] == {"会议": 8}  # re-added paused; out of the queue in between


# ---------------------------------------------------------------- the route

NOW = at(15, 30)


@pytest.fixture
async def anon(seeded_database_url: str, redis_url: str) -> AsyncIterator[Client]:
    async with (
        running_server(seeded_database_url, redis_url, clock=lambda: NOW) as base,
        aiohttp.ClientSession() as session,
    ):
        yield Client(session, base)


async def test_the_route_gives_supervisors_and_admins_the_day(anon: Client, seeded_pool: asyncpg.Pool) -> None:
    await load(seeded_pool, [
        (A, "hotline", "ready", at(9, day=D - timedelta(days=1))),
        (A, "hotline", "in_call", at(9), {"linkedid": "L1"}),
        (A, "hotline", "paused", at(9, 10), {"reason": "小休"}),
        (A, "hotline", "offline", at(18)),
    ])  # fmt: skip
    supervisor = await anon.login("supervisor")
    status, body = await supervisor.request("GET", f"/api/figures/agents?day={D - timedelta(days=1)}")
    assert status == 200, body
    assert body["day"] == str(D - timedelta(days=1)) and body["total"] == figures(ready=15 * 3600)
    (row,) = body["agents"]
    assert (row["interface"], row["username"], row["display_name"]) == (A, "agent1001", "话务员1001")
    # No day: today by the pinned clock, counted up to 15:30.
    status, body = await supervisor.request("GET", "/api/figures/agents")
    assert status == 200 and body["day"] == str(D), body
    assert body["total"] == figures(ready=9 * 3600, talk=600, busy={"小休": 6 * 3600 + 20 * 60}, calls=1)
    admin = await anon.login("admin")
    status, body = await admin.request("GET", f"/api/figures/agents?day={D + timedelta(days=1)}")
    assert status == 200 and body["agents"] == [] and body["total"]["occupancy"] is None


async def test_the_route_is_for_supervisors_and_admins(anon: Client) -> None:
    status, body = await anon.request("GET", "/api/figures/agents")
    assert_error(status, body, 401, "unauthenticated")
    for user in ("agent1001", "cgj"):  # an agent, a unit's handler
        client = await anon.login(user)
        status, body = await client.request("GET", f"/api/figures/agents?day={D}")
        assert_error(status, body, 403, "forbidden")


@pytest.mark.parametrize(
    "query", ["day=2026-13-01", "day=yesterday", "day=", "day=1999-12-31", "day=2100-01-01", "day=9999-12-31",
              "colour=blue", "day=2026-02-30", "day=2026-11-10T09:00:00"],
)  # fmt: skip
async def test_a_bad_day_is_422(anon: Client, query: str) -> None:
    supervisor = await anon.login("supervisor")
    status, body = await supervisor.request("GET", f"/api/figures/agents?{query}")
    assert_error(status, body, 422, "invalid_input")

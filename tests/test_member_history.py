"""The member history's retention (HOTLINE_MEMBER_HISTORY_DAYS): pruning keeps each membership's
carry-over row, so every kept day's agent figures are what they were; older days are refused."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from adapters.ami.member_store import MemberHistoryPrune, prune_changes
from hotline.figures.periods import midnight
from tests.test_agent_days import LATER, A, B, C, Client, D, anon, at, days_of, load  # noqa: F401
from tests.test_api import assert_error

CUT = midnight(D)  # everything before D may go, but what D starts in


async def _history(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT interface, queue, state, at FROM member_state_changes ORDER BY interface, queue, at")
    return [(r["interface"], r["queue"], r["state"], r["at"]) for r in rows]


def _changes() -> list:
    before = D - timedelta(days=3)
    return [
        (A, "hotline", "ready", at(8, day=before)),
        (A, "hotline", "paused", at(9, day=before), {"reason": "小休"}),
        (A, "hotline", "ready", at(23, day=D - timedelta(days=1))),  # A's carry-over into D
        (A, "hotline", "in_call", at(9), {"linkedid": "L1"}),
        (A, "hotline", "ready", at(9, 5)),
        (A, "vip", "ready", at(7, day=before)),
        (A, "vip", "offline", at(8, day=before)),  # vip's carry-over: offline, kept all the same
        (B, "hotline", "ready", at(10, day=before)),  # B's only row, its carry-over: kept
        (C, "hotline", "ready", at(0)),  # exactly at the cut: not older, kept
        (C, "hotline", "offline", at(12)),
    ]


async def test_pruning_keeps_each_memberships_carry_over_and_the_kept_days_figures(pool: asyncpg.Pool) -> None:
    await load(pool, _changes())
    figures_before = {day: await days_of(pool, day) for day in (D, D + timedelta(days=1))}

    async with pool.acquire() as conn:
        assert await prune_changes(conn, CUT, batch=1) == 3  # one row a batch: the loop runs to the end
        assert await prune_changes(conn, CUT) == 0  # a second pass finds nothing

    assert [(i, q, s) for i, q, s, _ in await _history(pool)] == [
        (A, "hotline", "ready"), (A, "hotline", "in_call"), (A, "hotline", "ready"),
        (A, "vip", "offline"),
        (B, "hotline", "ready"),
        (C, "hotline", "ready"), (C, "hotline", "offline"),
    ]  # fmt: skip
    assert {day: await days_of(pool, day) for day in figures_before} == figures_before


async def test_the_worker_prunes_what_is_older_than_the_days_kept(pool: asyncpg.Pool) -> None:
    await load(pool, _changes())
    worker = MemberHistoryPrune(pool, 2, clock=lambda: CUT + timedelta(days=2))
    assert await worker.step() == 3
    assert await worker.step() == 0
    assert min(a for *_, a in await _history(pool)) == at(8, day=D - timedelta(days=3))  # vip's carry-over


async def test_a_day_older_than_the_history_kept_is_refused(anon: Client) -> None:  # noqa: F811
    supervisor = await anon.login("supervisor")
    # The route's clock is D 15:30; 400 days are kept by default.
    kept = D - timedelta(days=399)
    status, body = await supervisor.request("GET", f"/api/figures/agents?day={kept}")
    assert status == 200, body
    status, body = await supervisor.request("GET", f"/api/figures/agents?day={kept - timedelta(days=1)}")
    assert_error(status, body, 422, "invalid_input")
    assert body["error"]["details"] == {"day": str(kept - timedelta(days=1)), "member_history_days": 400}

"""Repeat and duplicate candidates with their reasons, the repeat link and its effect on figures.
Orders are written with pinned intake times; windows count back from the order's own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from hotline.errors import Conflict, Forbidden, InvalidInput, NotFound
from hotline.figures import between, figures
from hotline.orders import actions
from hotline.orders.states import Action
from hotline.similar import candidates, links, minhash
from hotline.similar.signatures import prune
from tests.assist_helpers import WATER, taken
from tests.orders_helpers import unit_id, who

T = datetime(2026, 5, 20, 2, 0, tzinfo=UTC)


async def similar(pool: asyncpg.Pool, order_id: int) -> dict[int, set[str]]:
    async with pool.acquire() as conn:
        found = await candidates.find(conn, await candidates.probe_of(conn, order_id))
    return {c["id"]: {r["code"] for r in c["reasons"]} for c in found}


async def test_same_caller_within_30_days_on_a_similar_topic(seeded_pool: asyncpg.Pool) -> None:
    far = await taken(seeded_pool, T - timedelta(days=31), division_code="320302002", category_code="0205")
    near = await taken(seeded_pool, T - timedelta(days=20), "上次说的停水还是没来水", division_code="320302002")
    other_topic = await taken(seeded_pool, T - timedelta(days=5), "孩子上小学划片的问题", category_code="0702",
                              division_code="320302007", address="九里小学")  # fmt: skip
    new = await taken(seeded_pool, T, "停水三天了还没来水", division_code="320302003", category_code="020101")
    found = await similar(seeded_pool, new)
    assert found == {near: {"same_caller"}}
    assert far not in found and other_topic not in found


async def test_same_street_and_category_within_the_place_window(seeded_pool: asyncpg.Pool) -> None:
    inside = await taken(seeded_pool, T - timedelta(days=6), "小区没水了", caller_number="13900000002")
    outside = await taken(seeded_pool, T - timedelta(days=8), "小区没水了", caller_number="13900000003")
    other_street = await taken(seeded_pool, T - timedelta(days=1), "小区没水了", caller_number="13900000004",
                               division_code="320302002")  # fmt: skip
    new = await taken(seeded_pool, T, "三号楼停水", caller_number="13900000005", address="和平小区3号楼")
    async with seeded_pool.acquire() as conn:
        found = await candidates.find(conn, await candidates.probe_of(conn, new))
    assert [c["id"] for c in found] == [inside]
    reason = found[0]["reasons"][0]
    assert reason["code"] == "same_place" and reason["division_code"] == "320302001"
    assert reason["address_similarity"] == 0.6  # 和平 平小 小区 of 和平 平小 小区 3 号楼
    assert outside not in {c["id"] for c in found} and other_street not in {c["id"] for c in found}


async def test_similar_content_anywhere_within_the_content_window(seeded_pool: asyncpg.Pool) -> None:
    elsewhere = await taken(seeded_pool, T - timedelta(hours=3), caller_number=None, division_code=None,
                            category_code=None, address="")  # fmt: skip
    unrelated = await taken(seeded_pool, T - timedelta(hours=2), "琵琶路下雨后积水很深，下水道堵了",
                            caller_number=None, division_code=None, category_code=None)  # fmt: skip
    later = await taken(seeded_pool, T + timedelta(hours=1), caller_number=None)
    new = await taken(seeded_pool, T, WATER + "，请尽快恢复", caller_number="13900000009", division_code="320302005",
                      category_code="0205")  # fmt: skip
    found = await similar(seeded_pool, new)
    assert found == {elsewhere: {"similar_content"}}
    assert unrelated not in found and later not in found  # later orders are never candidates of earlier ones


async def test_every_reason_at_once_ranks_first_and_merged_orders_are_left_out(seeded_pool: asyncpg.Pool) -> None:
    twin = await taken(seeded_pool, T - timedelta(hours=5))
    place_only = await taken(seeded_pool, T - timedelta(hours=4), "水压很低", caller_number="13900000010")
    merged = await taken(seeded_pool, T - timedelta(hours=3))
    await seeded_pool.execute("UPDATE work_orders SET status = 'merged', merged_into = $1 WHERE id = $2", twin, merged)
    new = await taken(seeded_pool, T)
    async with seeded_pool.acquire() as conn:
        found = await candidates.find(conn, await candidates.probe_of(conn, new))
        with pytest.raises(NotFound):
            await candidates.probe_of(conn, 999999)
    assert [c["id"] for c in found] == [twin, place_only]
    assert {r["code"] for r in found[0]["reasons"]} == {"same_caller", "same_place", "similar_content"}


def test_band_collisions_follow_content_similarity() -> None:
    from hotline import chinese

    a = chinese.token_set(WATER)
    assert set(minhash.bands(a)) == set(minhash.bands(chinese.token_set(WATER)))  # stable across calls
    assert len(minhash.bands(a)) == minhash.BANDS and minhash.bands(frozenset()) == []
    shared = set(minhash.bands(a)) & set(minhash.bands(chinese.token_set("琵琶路下雨以后积水很深，车都开不过去")))
    assert not shared


async def test_signatures_are_pruned_after_the_window(seeded_pool: asyncpg.Pool) -> None:
    old = await taken(seeded_pool, T - timedelta(days=9))
    fresh = await taken(seeded_pool, T - timedelta(days=1))
    async with seeded_pool.acquire() as conn:
        removed = await prune(conn, T, timedelta(days=8), batch=7)
        left = {r["order_id"] for r in await conn.fetch("SELECT DISTINCT order_id FROM order_signatures")}
    assert removed == minhash.BANDS and left == {fresh} and old not in left


async def test_link_repeat_is_audited_and_refuses_what_it_must(seeded_pool: asyncpg.Pool) -> None:
    agent, handler = await who(seeded_pool, "agent1001"), await who(seeded_pool, "cgj")
    first, second, third = [await taken(seeded_pool, T + timedelta(minutes=i)) for i in range(3)]
    async with seeded_pool.acquire() as conn:
        with pytest.raises(Forbidden):
            await links.link_repeat(conn, handler, second, links.RepeatLink(of_order_id=first), T)
        with pytest.raises(InvalidInput):
            await links.link_repeat(conn, agent, second, links.RepeatLink(of_order_id=second), T)
        with pytest.raises(InvalidInput):
            await links.link_repeat(conn, agent, second, links.RepeatLink(of_order_id=777777), T)
        with pytest.raises(NotFound):
            await links.link_repeat(conn, agent, 777777, links.RepeatLink(of_order_id=first), T)
        with pytest.raises(Conflict):
            await links.link_repeat(conn, agent, second, links.RepeatLink(of_order_id=first, version=9), T)
        row = await links.link_repeat(conn, agent, second, links.RepeatLink(of_order_id=first, note="同一停水"), T)
        assert row["repeat_of"] == first and row["version"] == 2
        with pytest.raises(Conflict):
            await links.link_repeat(conn, agent, second, links.RepeatLink(of_order_id=third), T)
        with pytest.raises(Conflict):  # the original has repeats: it cannot become one itself
            await links.link_repeat(conn, agent, first, links.RepeatLink(of_order_id=third), T)
        # A repeat of a repeat points at the first original.
        chained = await links.link_repeat(conn, agent, third, links.RepeatLink(of_order_id=second), T)
        audit = await conn.fetchrow(
            "SELECT actor_user_id, payload FROM audit_events WHERE order_id = $1 AND action = 'link_repeat'",
            second,
        )
    assert chained["repeat_of"] == first
    assert audit["actor_user_id"] == agent.user_id
    assert audit["payload"] == {"of_order_id": first, "repeat_of": first, "note": "同一停水"}


async def test_a_repeat_is_counted_once_in_unit_figures_but_stays_in_call_volume(seeded_pool: asyncpg.Pool) -> None:
    services = actions.Services(clock=lambda: T)
    agent, cgj = await who(seeded_pool, "agent1001"), await unit_id(seeded_pool, "city.cgj")
    original, repeat = await taken(seeded_pool, T), await taken(seeded_pool, T + timedelta(minutes=5))
    for oid in (original, repeat):
        body = actions.parse_payload(Action.DISPATCH, {"unit_id": cgj})
        await actions.act(seeded_pool, services, agent, oid, Action.DISPATCH, body)
    period = between(T.date() - timedelta(days=1), T.date() + timedelta(days=60))

    async def cgj_row() -> tuple[int, int]:
        async with seeded_pool.acquire() as conn:
            table = await figures(conn, period, "unit")
        row = next(r for r in table.rows if r.key == str(cgj))
        return row.counts["dispatched"], table.total.counts["received"]

    assert await cgj_row() == (2, 2)
    async with seeded_pool.acquire() as conn:
        await links.link_repeat(conn, agent, repeat, links.RepeatLink(of_order_id=original), T)
    assert await cgj_row() == (1, 2)

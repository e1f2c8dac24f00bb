"""The routing engine end to end on PostgreSQL: decisions, reasons, fallbacks, reloads."""

from __future__ import annotations

import json

import asyncpg
import pytest

from dispatch.aliases import add_alias, list_aliases, remove_alias
from dispatch.engine import Router, RouteRequest
from dispatch.errors import DuplicateAlias, InvalidAlias
from dispatch.rules import add_rule
from tests.test_dispatch_rules import CITY_FILES, City, setup_city


@pytest.fixture
async def xuzhou(pool: asyncpg.Pool) -> City:
    async with pool.acquire() as conn:
        return await setup_city(conn, CITY_FILES["xuzhou"])


@pytest.fixture(params=sorted(CITY_FILES))
async def city(request, pool: asyncpg.Pool) -> City:  # type: ignore[no-untyped-def]
    async with pool.acquire() as conn:
        return await setup_city(conn, CITY_FILES[request.param])


async def test_route_with_reasons(pool: asyncpg.Pool, xuzhou: City) -> None:
    u = xuzhou.units
    async with pool.acquire() as conn:
        await add_rule(conn, category_code="01", unit_id=u["city.zjj"])
        r = await add_rule(conn, category_code="0101", division_prefix="320302", unit_id=u["d1.cgj"])
        router = await Router.load(conn)
    d = router.route(RouteRequest("010101", "complaint", "鼓楼区黄楼街道中山北路88号小区门口"))
    assert (d.outcome, d.unit_id, d.unit_code, d.level, d.rule_id) == ("rule", u["d1.cgj"], "d1.cgj", "district", r.id)
    assert d.division_code == "320302001" and d.confidence == 1.0 and not d.needs_review
    assert d.reasons == [
        "address matched 黄楼街道 (鼓楼区) in '黄楼街道' (full name)",
        "address: '鼓楼区' names 黄楼街道's district 鼓楼区",
        f"rule #{r.id}: category 0101 市容环境 within 320302 鼓楼区 → 鼓楼区城市管理局",
    ]
    # Elsewhere in the city the city-wide category rule applies.
    d = router.route(RouteRequest("0101", "complaint", "泉山区和平街道"))
    assert d.unit_code == "city.zjj" and d.division_code == "320311008"
    assert d.reasons[-1].endswith("category 01 城乡建设 anywhere → 徐州市住房和城乡建设局")


async def test_same_routing_in_either_city(pool: asyncpg.Pool, city: City) -> None:
    u = city.units
    async with pool.acquire() as conn:
        await add_rule(conn, category_code="0101", division_prefix=city.district1, unit_id=u["d1.cgj"])
        await add_rule(conn, category_code="0101", division_prefix=city.code, unit_id=u["city.cgj"])
        names = dict(await conn.fetch("SELECT code, name FROM divisions"))
        router = await Router.load(conn)
    d = router.route(RouteRequest("0101", "help", f"{names[city.district1]}{names[city.street1]}门口"))
    assert d.unit_code == "d1.cgj" and d.division_code == city.street1
    d = router.route(RouteRequest("0101", "help", f"{names[city.district2]}人民路"))
    assert d.unit_code == "city.cgj" and d.division_code == city.district2
    assert f"within {city.code[:4]} {city.name}" in d.reasons[-1]
    d = router.route(RouteRequest("03", "help", f"{names[city.district2]}人民路"))
    assert d.outcome == "centre" and d.unit_code == "centre"


async def test_fallbacks(pool: asyncpg.Pool, xuzhou: City) -> None:
    async with pool.acquire() as conn:
        router = await Router.load(conn)
        d = router.route(RouteRequest("03", "report", "中山北路88号"))
        assert (d.outcome, d.unit_code, d.level, d.rule_id, d.division_code) == ("centre", "centre", "city", None, None)
        assert d.needs_review and d.confidence == 0.0
        assert d.reasons == [
            "no known place found in the address or content",
            "no rule for category 03 生态环境 with no known place — back to 徐州市12345热线中心 for manual dispatch",
        ]
        await conn.execute("UPDATE units SET active = false WHERE kind = 'centre'")
        assert await router.refresh(conn)
        d = router.route(RouteRequest("03", "report", "铜山利国"))
        assert (d.outcome, d.unit_id, d.division_code) == ("none", None, "320312")
        assert any("利国街道 (铜山区)、利国镇 (铜山区)" in r or "could be 利国街道、利国镇" in r for r in d.reasons)
        assert d.reasons[-1].endswith("no centre unit to fall back to: no route")


async def test_agent_choice_refinement_and_conflict(pool: asyncpg.Pool, xuzhou: City) -> None:
    u = xuzhou.units
    async with pool.acquire() as conn:
        await add_rule(conn, category_code="0101", division_prefix="320302", unit_id=u["d1.cgj"])
        await add_rule(conn, category_code="0101", division_prefix="320302001", unit_id=u["s1"])
        router = await Router.load(conn)
    # The agent chose the district; the address names a street in it: narrowed down.
    d = router.route(RouteRequest("0101", "help", "黄楼街道门口", division_code="320302"))
    assert d.division_code == "320302001" and d.unit_code == "s1" and d.level == "street"
    assert d.via_unit_id == u["hub1"]
    assert "address narrows it to 黄楼街道 (鼓楼区) in '黄楼街道'" in d.reasons
    assert "黄楼街道办事处 is a street unit, reached through 鼓楼区12345分中心" in d.reasons
    # The address points elsewhere: the agent's choice stands, with a note.
    d = router.route(RouteRequest("0101", "help", "泉山区和平街道", division_code="320302002"))
    assert d.division_code == "320302002" and d.unit_code == "d1.cgj" and d.confidence == 1.0
    assert any(r.startswith("note: the address points to 和平街道 (泉山区)") for r in d.reasons)
    # An unknown code is ignored, the address used instead.
    d = router.route(RouteRequest("0101", "help", "鼓楼区黄楼街道", division_code="999999"))
    assert d.reasons[0] == "division 999999 chosen by the agent is unknown; ignored"
    assert d.division_code == "320302001"
    # The place only in the content counts for less.
    d = router.route(RouteRequest("0101", "help", "", content="黄楼街道那边路灯坏了"))
    assert d.division_code == "320302001" and d.confidence == 0.8
    assert d.reasons[0].startswith("content matched 黄楼街道 (鼓楼区)")


async def test_inactive_unit_assists_and_kind(pool: asyncpg.Pool, xuzhou: City) -> None:
    u = xuzhou.units
    async with pool.acquire() as conn:
        general = await add_rule(conn, category_code="01", unit_id=u["city.zjj"])
        specific = await add_rule(conn, category_code="0101", division_prefix="320302", unit_id=u["d1.cgj"])
        assist = await add_rule(conn, category_code="0101", division_prefix="320302", role="assist", unit_id=u["hub1"])
        kinded = await add_rule(conn, category_code="0101", division_prefix="320302", kind="suggestion",
                                unit_id=u["city.cgj"])  # fmt: skip
        router = await Router.load(conn)
        d = router.route(RouteRequest("0101", "complaint", "鼓楼区"))
        assert d.rule_id == specific.id and d.assist_unit_ids == (u["hub1"],) and d.assist_rule_ids == (assist.id,)
        assert f"rule #{assist.id}: 鼓楼区12345分中心 assists" in d.reasons
        assert router.route(RouteRequest("0101", "suggestion", "鼓楼区")).rule_id == kinded.id
        await conn.execute("UPDATE units SET active = false WHERE id = $1", u["d1.cgj"])
        assert await router.refresh(conn)
        d = router.route(RouteRequest("0101", "complaint", "鼓楼区"))
        assert d.rule_id == general.id
        assert f"rule #{specific.id} passed over: unit 鼓楼区城市管理局 is inactive" in d.reasons


async def test_refresh_reloads_only_on_change(pool: asyncpg.Pool, xuzhou: City) -> None:
    async with pool.acquire() as conn:
        router = await Router.load(conn)
        assert not await router.refresh(conn)
        before = router.snapshot
        assert router.route(RouteRequest("03", None, "户部山下面")).division_code is None
        alias = await add_alias(conn, "户部山", "320303401", "landmark", "历史街区")
        assert await router.refresh(conn) and router.snapshot is not before
        d = router.route(RouteRequest("03", None, "户部山下面"))
        assert d.division_code == "320303401"
        assert d.reasons[0] == "address matched 户部山回龙窝历史文化街区 (云龙区) in '户部山' (alias (landmark))"
        with pytest.raises(DuplicateAlias):
            await add_alias(conn, "户部山", "320303401")
        with pytest.raises(InvalidAlias):
            await add_alias(conn, "户", "320303401")
        with pytest.raises(InvalidAlias):
            await add_alias(conn, "某地", "000000")
        assert [a.alias for a in await list_aliases(conn, "320303401")] == ["户部山"]
        await remove_alias(conn, alias.id)
        await router.refresh(conn)
        assert router.route(RouteRequest("03", None, "户部山下面")).division_code is None
        # Unit bookkeeping that routing does not read does not cause a reload.
        generation = router.generation
        await conn.execute("UPDATE units SET webhook_url = 'https://example.org/hook' WHERE code = 'hub1'")
        assert not await router.refresh(conn) and router.generation == generation


async def test_routes_a_work_order_row(pool: asyncpg.Pool, xuzhou: City) -> None:
    u = xuzhou.units
    async with pool.acquire() as conn:
        await add_rule(conn, category_code="0101", division_prefix="3203", unit_id=u["city.cgj"])
        router = await Router.load(conn)
        order = await conn.fetchrow(
            """INSERT INTO work_orders (number, kind, category_code, content, address, status)
               VALUES ('20261122-000001', 'complaint', '010101', '占道经营', '铜山 利国镇 菜市场', 'received')
               RETURNING *"""
        )
        d = router.route(order)
        assert d.unit_code == "city.cgj" and d.division_code == "320312116"
        # The decision goes into assignments.route_note (jsonb) as is.
        note = json.loads(json.dumps(d.as_dict(), ensure_ascii=False))
        assert note["rule_id"] == d.rule_id and note["spans"][-1] == {"text": "利国镇", "start": 3, "end": 6,
                                                                        "code": "320312116"}  # fmt: skip
        await conn.execute("SELECT $1::jsonb", d.as_dict())

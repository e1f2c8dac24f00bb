"""The dispatch list: precedence, ties rejected at save, the store, the compiled index.

The store tests run once per city file (徐州 and 连云港) against real PostgreSQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from dispatch.divisions import import_divisions
from dispatch.errors import DuplicateRule, InvalidRule, InvalidUnit, RuleConflict, RuleNotFound
from dispatch.ruleindex import RuleIndex, category_chain
from dispatch.rules import Rule, add_rule, list_rules, remove_rule
from dispatch.units import add_unit, list_units

DATA = Path(__file__).parent / "data"
CITY_FILES = {
    "xuzhou": DATA / "shared" / "data" / "divisions" / "xuzhou-320300.csv",
    "lianyungang": DATA / "lianyungang-320700.csv",
}
CATEGORIES = [
    ("01", "城乡建设"),
    ("0101", "市容环境"),
    ("010101", "占道经营"),
    ("0102", "市政设施"),
    ("03", "生态环境"),
]


@dataclass
class City:
    code: str
    name: str
    district1: str  # first district, with street1 and street2 in it
    district2: str
    street1: str
    street2: str
    units: dict[str, int]


async def setup_city(conn: asyncpg.Connection, path: Path) -> City:
    """Divisions from the file, a small category tree, and the units of a three-level hotline."""
    await import_divisions(conn, path)
    for code, name in CATEGORIES:
        await conn.execute("INSERT INTO categories (code, name, parent_code) VALUES ($1, $2, $3)", code, name,
                           code[:-2] or None)  # fmt: skip
    city = await conn.fetchrow("SELECT code, name FROM divisions WHERE level = 'city' ORDER BY code DESC LIMIT 1")
    d1, d2 = [r["code"] for r in await conn.fetch(
        "SELECT code FROM divisions WHERE parent_code = $1 ORDER BY code LIMIT 2", city["code"])]  # fmt: skip
    s1, s2 = [r["code"] for r in await conn.fetch(
        "SELECT code FROM divisions WHERE parent_code = $1 ORDER BY code LIMIT 2", d1)]  # fmt: skip
    names = dict(await conn.fetch("SELECT code, name FROM divisions"))
    units: dict[str, int] = {}

    async def unit(key: str, name: str, level: str, kind: str, division: str, parent: str | None = None) -> None:
        u = await add_unit(conn, key, name, level, kind, division_code=division,  # type: ignore[arg-type]
                           parent_id=units[parent] if parent else None)  # fmt: skip
        units[key] = u.id

    await unit("centre", f"{city['name']}12345热线中心", "city", "centre", city["code"])
    await unit("city.cgj", f"{city['name']}城市管理局", "city", "agency", city["code"])
    await unit("city.zjj", f"{city['name']}住房和城乡建设局", "city", "agency", city["code"])
    await unit("hub1", f"{names[d1]}12345分中心", "district", "hub", d1)
    await unit("d1.cgj", f"{names[d1]}城市管理局", "district", "agency", d1, "hub1")
    await unit("hub2", f"{names[d2]}12345分中心", "district", "hub", d2)
    await unit("s1", f"{names[s1]}办事处", "street", "office", s1, "hub1")
    await unit("s2", f"{names[s2]}办事处", "street", "office", s2, "hub1")
    return City(city["code"], city["name"], d1, d2, s1, s2, units)


@pytest.fixture(params=sorted(CITY_FILES))
async def city(request, pool: asyncpg.Pool) -> City:  # type: ignore[no-untyped-def]
    async with pool.acquire() as conn:
        return await setup_city(conn, CITY_FILES[request.param])


async def test_precedence(pool: asyncpg.Pool, city: City) -> None:
    u = city.units
    async with pool.acquire() as conn:
        a = await add_rule(conn, category_code="01", unit_id=u["city.cgj"])
        b = await add_rule(conn, category_code="0101", division_prefix=city.district1, unit_id=u["d1.cgj"])
        c = await add_rule(conn, category_code="0101", division_prefix=city.street1, unit_id=u["s1"])
        d = await add_rule(conn, category_code="0101", division_prefix=city.district1, kind="complaint",
                           unit_id=u["hub1"])  # fmt: skip
        e = await add_rule(conn, category_code="010101", unit_id=u["city.zjj"])
        f = await add_rule(conn, division_prefix=city.district2, unit_id=u["hub2"])
        index = RuleIndex(await list_rules(conn))
    street_in_d2 = city.district2 + "001"

    def lead(category: str | None, division: str | None, kind: str | None) -> int | None:
        m = index.lookup(category, division, kind)
        return m.lead.id if m.lead else None

    assert lead("0102", city.street1, "consult") == a.id  # only 01 applies to 0102
    assert lead("0101", city.street1, "consult") == c.id  # street prefix beats district prefix
    assert lead("0101", city.street2, "consult") == b.id
    assert lead("0101", city.street2, "complaint") == d.id  # a named kind beats any kind ...
    assert lead("0101", city.street1, "complaint") == c.id  # ... but a longer prefix comes first
    assert lead("010101", city.street1, "complaint") == e.id  # deeper category beats everything
    assert lead("0101", street_in_d2, "consult") == a.id  # a category rule beats a place-only rule
    assert lead("03", street_in_d2, None) == f.id
    assert lead("03", city.street1, None) is None
    assert lead(None, None, None) is None
    assert lead("0101", None, "consult") == a.id  # no place: only rules for anywhere
    # Specificity tuples agree with what won.
    assert e.specificity > c.specificity > d.specificity > b.specificity > a.specificity > f.specificity


async def test_tie_is_rejected_naming_the_rule(pool: asyncpg.Pool, city: City) -> None:
    u = city.units
    async with pool.acquire() as conn:
        first = await add_rule(conn, category_code="0101", division_prefix=city.district1, unit_id=u["d1.cgj"])
        with pytest.raises(RuleConflict) as err:
            await add_rule(conn, category_code="0101", division_prefix=city.district1, unit_id=u["hub1"])
        assert err.value.conflicting_rule_id == first.id
        assert err.value.status == 409 and err.value.code == "rule_conflict"
        assert err.value.details["conflicting_unit_id"] == u["d1.cgj"] and err.value.details["unit_id"] == u["hub1"]
        assert f"rule #{first.id}" in err.value.message
        # A city code and its significant prefix are the same key.
        city_rule = await add_rule(conn, category_code="0101", division_prefix=city.code, unit_id=u["city.cgj"])
        assert city_rule.division_prefix == city.code[:4]
        with pytest.raises(RuleConflict):
            await add_rule(conn, category_code="0101", division_prefix=city.code[:4], unit_id=u["city.zjj"])
        # Different kind or role: not a tie.
        await add_rule(conn, category_code="0101", division_prefix=city.district1, kind="report", unit_id=u["hub1"])
        await add_rule(conn, category_code="0101", division_prefix=city.district1, role="assist", unit_id=u["hub1"])
        with pytest.raises(DuplicateRule):
            await add_rule(conn, category_code="0101", division_prefix=city.district1, unit_id=u["d1.cgj"])
        with pytest.raises(InvalidRule, match="already lead"):
            await add_rule(conn, category_code="0101", division_prefix=city.district1, role="assist",
                           unit_id=u["d1.cgj"])  # fmt: skip
        assert len(await list_rules(conn)) == 4


async def test_concurrent_tie_one_wins(pool: asyncpg.Pool, city: City) -> None:
    u = city.units

    async def save(unit: int) -> Rule | Exception:
        async with pool.acquire() as conn:
            try:
                return await add_rule(conn, category_code="03", division_prefix=city.district2, unit_id=unit)
            except RuleConflict as exc:
                return exc

    results = await asyncio.gather(save(u["hub2"]), save(u["city.zjj"]), save(u["city.cgj"]))
    saved = [r for r in results if isinstance(r, Rule)]
    conflicts = [r for r in results if isinstance(r, RuleConflict)]
    assert len(saved) == 1 and len(conflicts) == 2
    assert all(c.conflicting_rule_id == saved[0].id for c in conflicts)


async def test_invalid_rules(pool: asyncpg.Pool, city: City) -> None:
    u = city.units
    async with pool.acquire() as conn:
        for kwargs, fragment in [
            ({"category_code": "99", "unit_id": u["hub1"]}, "unknown category"),
            ({"category_code": "01", "unit_id": 99999}, "unknown unit"),
            ({"category_code": "01", "division_prefix": "99", "unit_id": u["hub1"]}, "matches no division"),
            ({"category_code": "01", "division_prefix": "32a", "unit_id": u["hub1"]}, "must be digits"),
            ({"category_code": "01", "kind": "gossip", "unit_id": u["hub1"]}, "unknown kind"),
            ({"category_code": "01", "role": "boss", "unit_id": u["hub1"]}, "unknown role"),
            ({"category_code": "01", "unit_id": u["centre"]}, "centre"),
        ]:
            with pytest.raises(InvalidRule, match=fragment):
                await add_rule(conn, **kwargs)  # type: ignore[arg-type]
        await conn.execute("UPDATE units SET active = false WHERE id = $1", u["hub2"])
        with pytest.raises(InvalidRule, match="inactive"):
            await add_rule(conn, category_code="01", unit_id=u["hub2"])
        assert await list_rules(conn) == []


async def test_list_and_remove(pool: asyncpg.Pool, city: City) -> None:
    u = city.units
    async with pool.acquire() as conn:
        r1 = await add_rule(conn, category_code="01", unit_id=u["city.cgj"], note="城管总口")
        r2 = await add_rule(conn, category_code="03", division_prefix=city.district1, unit_id=u["hub1"])
        assert [r.id for r in await list_rules(conn)] == [r1.id, r2.id]
        assert [r.id for r in await list_rules(conn, unit_id=u["hub1"])] == [r2.id]
        assert [r.id for r in await list_rules(conn, category_code="01")] == [r1.id]
        assert (await remove_rule(conn, r1.id)).note == "城管总口"
        with pytest.raises(RuleNotFound):
            await remove_rule(conn, r1.id)
        # The key is free again.
        await add_rule(conn, category_code="01", unit_id=u["city.zjj"])
        assert r2.as_dict()["division_prefix"] == city.district1


async def test_units_store(pool: asyncpg.Pool, city: City) -> None:
    async with pool.acquire() as conn:
        streets = await list_units(conn, level="street")
        assert {s.id for s in streets} == {city.units["s1"], city.units["s2"]}
        assert all(s.parent_id == city.units["hub1"] for s in streets)
        for args, kwargs, fragment in [
            (("x", "X", "street", "office"), {"division_code": city.district1}, "cannot serve the district"),
            (("x", "X", "district", "agency"), {"division_code": "123"}, "unknown division"),
            (("x", "X", "city", "agency"), {"parent_id": city.units["hub1"]}, "cannot be the parent"),
            (("x", "X", "county", "agency"), {}, "unknown unit level"),
            (("x", "X", "city", "boss"), {}, "unknown unit kind"),
        ]:
            with pytest.raises(InvalidUnit, match=fragment):
                await add_unit(conn, *args, **kwargs)  # type: ignore[arg-type]
        from dispatch.errors import DuplicateUnit

        with pytest.raises(DuplicateUnit):
            await add_unit(conn, "hub1", "again", "district", "hub")
        await conn.execute("UPDATE units SET active = false WHERE code = 's2'")
        assert city.units["s2"] not in {x.id for x in await list_units(conn, active=True)}


# ---------------------------------------------------------------- the index alone (pure)


def rule(id: int, category: str | None, prefix: str, unit: int, kind: str | None = None, role: str = "lead") -> Rule:
    return Rule(id, category, prefix, kind, unit, role)  # type: ignore[arg-type]


def test_index_refuses_two_leads_at_one_key() -> None:
    with pytest.raises(RuleConflict) as err:
        RuleIndex([rule(1, "01", "3203", 10), rule(2, "01", "3203", 11)])
    assert err.value.conflicting_rule_id == 1


def test_index_probes_are_bounded_and_ordered() -> None:
    index = RuleIndex([rule(1, "01", "", 1), rule(2, None, "3203", 2), rule(3, "0101", "320302001", 3)])
    assert index.prefix_lengths == (9, 4, 0)
    keys = index.keys_for("010101", "320302001", "complaint")
    assert len(keys) == 4 * 3 * 2
    assert keys[:3] == [("010101", "320302001", "complaint"), ("010101", "320302001", None),
                        ("010101", "3203", "complaint")]  # fmt: skip
    assert keys[-1] == (None, "", None)
    assert index.lookup("010101", "320302001", "complaint").probes == 6 + 2  # all of 010101, then 0101 at the street
    assert category_chain("010305") == ["010305", "0103", "01", None]


def test_assists_and_inactive_units() -> None:
    index = RuleIndex([
        rule(1, "01", "", 1),
        rule(2, "0101", "320302", 2),
        rule(3, "0101", "320302", 5, role="assist"),
        rule(4, "0101", "320302001", 6, role="assist"),  # more specific than the lead: attached
        rule(5, "01", "", 7, role="assist"),  # less specific than the lead: not attached
        rule(6, "0101", "320302", 2, kind="report", role="assist"),  # the lead unit itself: dropped
    ])  # fmt: skip
    m = index.lookup("0101", "320302001", "report")
    assert m.lead is not None and m.lead.id == 2
    assert [a.id for a in m.assists] == [4, 3]
    m = index.lookup("0101", "320302001", None, usable=lambda unit: unit not in (2, 6))
    assert m.lead is not None and m.lead.id == 1  # unit 2 inactive: the next rule wins
    assert [r.id for r in m.skipped] == [4, 2]
    assert [a.id for a in m.assists] == [3, 5]

"""Address resolution on real gazetteers (徐州, 连云港), loaded through PostgreSQL.

Each city is imported once per module into its own scratch database cloned from the
migrated template, and the resolver under test is the one a Router builds from there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from dispatch.divisions import Division, import_divisions
from dispatch.engine import load_snapshot
from dispatch.forms import GENERIC_WORDS, Alias
from dispatch.resolver import Resolver
from tests.scratch import scratch_database

DATA = Path(__file__).parent / "data"
CITY_FILES = {
    "xuzhou": DATA / "shared" / "data" / "divisions" / "xuzhou-320300.csv",
    "lianyungang": DATA / "lianyungang-320700.csv",
}


def load_resolver(servers, template_db: str, *files: Path) -> Resolver:  # type: ignore[no-untyped-def]
    async def build() -> Resolver:
        async with scratch_database(servers.database_url, template=template_db) as url:
            conn = await asyncpg.connect(url)
            try:
                for f in files:
                    await import_divisions(conn, f)
                return (await load_snapshot(conn)).resolver
            finally:
                await conn.close()

    return asyncio.run(build())


@pytest.fixture(scope="module", params=sorted(CITY_FILES))
def city(request, servers, template_db) -> tuple[str, Resolver]:  # type: ignore[no-untyped-def]
    return request.param, load_resolver(servers, template_db, CITY_FILES[request.param])


@pytest.fixture(scope="module")
def xuzhou(servers, template_db) -> Resolver:  # type: ignore[no-untyped-def]
    return load_resolver(servers, template_db, CITY_FILES["xuzhou"])


@pytest.fixture(scope="module")
def lianyungang(servers, template_db) -> Resolver:  # type: ignore[no-untyped-def]
    return load_resolver(servers, template_db, CITY_FILES["lianyungang"])


# (address as a citizen or agent writes it, expected code or None, minimum confidence)
XUZHOU_CASES: list[tuple[str, str | None, float]] = [
    # 鼓楼区 320302
    ("鼓楼区黄楼街道中山北路88号小区门口", "320302001", 1.0),
    ("徐州市鼓楼区丰财街道办事处旁边", "320302002", 1.0),
    ("鼓楼琵琶", "320302003", 0.85),  # both short forms
    ("牌楼街办对面的菜市场", "320302004", 0.9),  # suffix typo
    ("鼓楼区中山北路", "320302", 1.0),  # district only
    ("九里街道办事处门口", "320302007", 1.0),
    ("拾屯镇政府", "320302008", 0.9),  # 街道 written as 镇
    ("环城街道 铜沛路", "320302006", 1.0),  # 铜沛 + 路 is a road, not 铜沛街道
    # 云龙区 320303
    ("云龙区彭城街道解放南路", "320303001", 1.0),
    ("云龙 子房 12号楼", "320303002", 0.85),
    ("大龙湖街办附近工地噪音", "320303007", 0.9),
    ("云龙区和平路", "320303", 1.0),  # 和平 + 路: road; 和平街道 is in 泉山
    ("潘塘镇", "320303008", 0.9),  # former 镇
    ("户部山回龙窝历史文化街区门口", "320303401", 1.0),
    # 贾汪区 320305
    ("贾汪区青山泉镇马庄村", "320305102", 1.0),
    ("贾汪紫庄", "320305104", 0.85),
    ("潘安湖街道", "320305005", 1.0),
    ("贾汪区老矿街办", "320305001", 1.0),
    ("贾汪区人民医院", "320305", 1.0),
    ("塔山乡", "320305105", 0.9),
    # 泉山区 320311
    ("泉山区和平街道", "320311008", 1.0),
    ("泉山区湖滨路", "320311", 1.0),
    ("泉山桃园", "320311013", 0.85),  # 桃园 also in 睢宁: the district decides
    ("七里沟街道办事处", "320311002", 1.0),
    ("翟山街办", "320311006", 0.9),
    ("泉山区 苏山街道 某小区", "320311014", 1.0),
    ("金山街道", "320311009", 1.0),
    # 铜山区 320312
    ("铜山 利国镇 …", "320312116", 1.0),
    ("铜山利国", "320312", 0.6),  # 利国街道 and 利国镇 are both in 铜山: district only
    ("铜山区柳泉镇政府", "320312120", 1.0),
    ("铜山棠张", "320312111", 0.85),
    ("铜山区", "320312", 1.0),
    ("铜山街道", "320312009", 1.0),  # not the district 铜山(区)
    ("铜山房村", "320312113", 0.85),
    ("大许镇", "320312118", 1.0),
    ("汉王", None, 0.0),  # also an everyday word (jieba: 汉王 228 nz): alone it names no place
    ("铜山汉王", "320312109", 0.85),  # with its district it is 汉王镇
    # 丰县 320321
    ("丰县中阳里街道", "320321001", 1.0),
    ("丰县欢口", "320321105", 0.85),
    ("丰县师寨乡", "320321106", 1.0),
    ("丰县县城", "320321", 1.0),
    ("大沙河镇果园", "320321112", 1.0),
    # 沛县 320322
    ("沛县龙固镇", "320322101", 1.0),
    ("沛县 大屯街道办", "320322002", 1.0),
    ("沛县汉源", "320322003", 0.85),
    ("沛县", "320322", 1.0),
    ("五段乡", "320322107", 0.9),
    # 睢宁县 320324
    ("睢宁县睢城街道", "320324001", 1.0),
    ("睢宁桃园", "320324106", 0.85),
    ("睢宁双沟", "320324103", 0.85),
    ("睢宁县沙集镇电商园", "320324109", 1.0),
    ("睢宁", "320324", 0.85),
    # 徐州经济技术开发区 320371
    ("徐州经济技术开发区金龙湖街道", "320371005", 1.0),
    ("徐州经开区大庙", "320371004", 0.85),
    ("金山桥街道", "320371001", 1.0),  # not 金山(街道) of 泉山
    ("徐庄镇", "320371101", 1.0),
    # 新沂市 320381
    ("新沂市新安街道", "320381001", 1.0),
    ("新沂马陵山", "320381109", 0.85),
    ("新沂窑湾古镇", "320381107", 0.85),
    ("新沂市经济开发区", "320381401", 1.0),
    ("新沂", "320381", 0.85),
    # 邳州市 320382
    ("邳州市运河街道", "320382002", 1.0),
    ("邳州八义集", "320382106", 0.85),
    ("邳州 碾庄镇政府", "320382108", 1.0),
    ("邳州市", "320382", 1.0),
    ("燕子埠", "320382122", 0.75),
    # noise, the whole city, nothing
    ("我家在江苏省徐州市鼓楼区黄楼街道，门口垃圾没人清理！！", "320302001", 1.0),
    ("徐州市", "320300", 1.0),
    ("彭城路步行街", None, 0.0),  # 彭城 + 路 is a road
    ("中山北路88号", None, 0.0),
    ("", None, 0.0),
]

LIANYUNGANG_CASES: list[tuple[str, str | None, float]] = [
    ("连云区墟沟街道", "320703001", 1.0),
    ("连云港市海州区幸福路街道", "320706012", 1.0),
    ("海州朐阳", "320706001", 0.85),
    ("海州街道", "320706011", 1.0),
    ("海州", "320706", 0.85),  # the district, not 海州街道
    ("海州湾街道", "320703008", 1.0),
    ("赣榆青口镇", "320707100", 1.0),
    ("赣榆区班庄", "320707109", 0.85),
    ("东海县牛山街道", "320722001", 1.0),
    ("东海温泉", "320722107", 0.85),
    ("东海县驼峰镇", "320722200", 1.0),  # 乡 written as 镇
    ("灌云县伊山镇", "320723100", 1.0),
    ("灌云燕尾港", "320723103", 0.85),
    ("灌南新安镇", "320724100", 1.0),
    ("灌南汤沟", "320724107", 0.85),
    ("连云港经济技术开发区猴嘴街道", "320771002", 1.0),
    ("连云港经开区朝阳", "320771003", 0.85),
    ("连云港花果山街道", "320706020", 1.0),
    ("连云港市", "320700", 1.0),
    ("新浦街道", "320706010", 1.0),
    ("连云港市解放路", "320700", 1.0),
]


@pytest.mark.parametrize(("address", "code", "confidence"), XUZHOU_CASES)
def test_xuzhou_addresses(xuzhou: Resolver, address: str, code: str | None, confidence: float) -> None:
    res = xuzhou.resolve(address)
    assert res.code == code, (address, res)
    assert res.confidence >= confidence
    for span in res.spans:  # spans point back into the original text
        assert address[span.start : span.end] == span.text


@pytest.mark.parametrize(("address", "code", "confidence"), LIANYUNGANG_CASES)
def test_lianyungang_addresses(lianyungang: Resolver, address: str, code: str | None, confidence: float) -> None:
    res = lianyungang.resolve(address)
    assert res.code == code, (address, res)
    assert res.confidence >= confidence


def test_cases_cover_every_xuzhou_district(xuzhou: Resolver) -> None:
    districts = {c for c, d in xuzhou.divisions.items() if d.level == "district"}
    covered = {xuzhou.district_of(code) for _, code, _ in XUZHOU_CASES if code and code != "320300"}
    assert districts == covered
    assert len([c for c in XUZHOU_CASES if c[1]]) >= 50


def test_ambiguous_text_lists_candidates(xuzhou: Resolver) -> None:
    res = xuzhou.resolve("桃园")  # 桃园街道 (泉山) or 桃园镇 (睢宁), nothing else said
    assert not res.resolved and res.candidates == ("320311013", "320324106")
    res = xuzhou.resolve("铜山利国")
    assert res.code == "320312" and res.level == "district"
    assert res.candidates == ("320312006", "320312116")
    assert "could be 利国街道、利国镇" in res.notes[0]
    res = xuzhou.resolve("经济开发区")  # two counties have one
    assert not res.resolved and set(res.candidates) == {"320324401", "320381401"}


def test_context_breaks_ties_and_flags_conflicts(xuzhou: Resolver) -> None:
    assert xuzhou.resolve("桃园", context="320324").code == "320324106"
    assert xuzhou.resolve("桃园", context="320311").code == "320311013"
    res = xuzhou.resolve("云龙区黄楼街道")  # the citizen named the wrong district
    assert res.code == "320302001" and res.confidence < 0.8
    assert any("云龙区" in n and "not there" in n for n in res.notes)


def test_spans_and_notes(xuzhou: Resolver) -> None:
    text = "鼓楼区黄楼街道中山北路88号"
    res = xuzhou.resolve(text)
    assert [(s.text, s.code, s.form) for s in res.spans] == [
        ("鼓楼区", "320302", "full"),
        ("黄楼街道", "320302001", "full"),
    ]
    assert res.notes[0] == "'黄楼街道' is the full name of 黄楼街道 (鼓楼区)"
    res = xuzhou.resolve("铜 山 利国镇")  # whitespace inside a name
    assert res.code == "320312116" and res.spans[0].text == "铜 山"


def test_aliases_extend_the_gazetteer(xuzhou: Resolver) -> None:
    divisions = list(xuzhou.divisions.values())
    aliases = [
        Alias(1, "铜山县", "320312", "former"),
        Alias(2, "户部山", "320303401", "landmark"),
        Alias(3, "矿大南湖校区", "320311", "landmark"),
    ]
    assert xuzhou.resolve("铜山县房村").code == "320312113"  # the short form of the district already works
    with_aliases = Resolver(divisions, aliases)
    res = with_aliases.resolve("户部山下面")
    assert res.code == "320303401" and res.spans[0].label == "alias (landmark)" and res.confidence == 0.8
    assert with_aliases.resolve("矿大南湖校区东门").code == "320311"
    assert xuzhou.resolve("户部山下面").code is None


def full_name_cases(r: Resolver) -> list[tuple[str, str]]:
    """Generated from the data: district+street full names, district+short forms."""
    cases: list[tuple[str, str]] = []
    area_names = [d.name for d in r.divisions.values() if d.level != "street"]
    for d in r.divisions.values():
        if d.level != "street":
            continue
        district = r.divisions[r.district_of(d.code) or ""]
        cases.append((district.name + d.name, d.code))
        siblings = [s for s in r.divisions.values() if s.parent_code == d.parent_code]
        base = _base(d)
        unique = [_base(s) for s in siblings].count(base) == 1
        # 铜山(街道), 海州(街道): a short form shared with the district is read as the district.
        if (
            base
            and len(base) >= 2
            and base not in GENERIC_WORDS
            and unique
            and not any(a.startswith(base) for a in area_names)
        ):
            cases.append((district.name + base + "附近", d.code))
            cases.append((district.name + base + "街办", d.code))
    return cases


def _base(d: Division) -> str | None:
    for suffix in ("街道", "镇", "乡"):
        if d.name.endswith(suffix):
            return d.name[: -len(suffix)]
    return None


def test_every_street_of_the_city(city: tuple[str, Resolver]) -> None:
    name, r = city
    cases = full_name_cases(r)
    assert len(cases) > (400 if name == "xuzhou" else 200)
    wrong = [(text, code, r.resolve(text).code) for text, code in cases if r.resolve(text).code != code]
    assert wrong == []
    assert r.resolve(("铜山区铜山" if name == "xuzhou" else "海州区海州") + "附近").level == "district"
    for d in r.divisions.values():
        if d.level == "district":
            assert r.resolve(d.name + "人民路1号").code == d.code


def test_two_cities_in_one_gazetteer(servers, template_db) -> None:  # type: ignore[no-untyped-def]
    both = load_resolver(servers, template_db, CITY_FILES["xuzhou"], CITY_FILES["lianyungang"])
    assert both.resolve("灌南李集镇").code == "320724110"
    assert both.resolve("睢宁李集镇").code == "320324105"
    assert both.resolve("李集镇").candidates == ("320324105", "320724110")
    assert both.resolve("徐州市鼓楼区黄楼街道").code == "320302001"
    assert both.resolve("赣榆塔山镇").code == "320707107" and both.resolve("贾汪塔山镇").code == "320305105"

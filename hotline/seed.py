"""Demo data for 徐州市: divisions from the shared gazetteer, a category tree of real
12345 topics, the centre, city agencies, the district hubs and street offices, and
one demo user per role. Safe to run twice (every write is an upsert)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from dispatch.divisions import import_divisions, read_divisions
from dispatch.errors import DuplicateRule
from dispatch.rules import add_rule
from hotline.auth import create_user

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-password"

# code, name — two digits a level; real topics from 12345 knowledge bases.
CATEGORIES: list[tuple[str, str]] = [
    ("01", "城乡建设"),
    ("0101", "市容环境"),
    ("010101", "占道经营"),
    ("010102", "乱贴乱画"),
    ("010103", "垃圾清运"),
    ("010104", "违章搭建"),
    ("0102", "市政设施"),
    ("010201", "道路破损"),
    ("010202", "路灯故障"),
    ("010203", "井盖缺失"),
    ("010204", "排水不畅"),
    ("0103", "物业管理"),
    ("010301", "物业服务"),
    ("010302", "电梯故障"),
    ("010303", "维修资金"),
    ("0104", "住房保障"),
    ("02", "公用事业"),
    ("0201", "供水"),
    ("020101", "停水"),
    ("020102", "水质问题"),
    ("0202", "供电"),
    ("020201", "停电"),
    ("0203", "供气"),
    ("020301", "燃气泄漏"),
    ("0204", "供暖"),
    ("0205", "通信网络"),
    ("03", "生态环境"),
    ("0301", "噪声污染"),
    ("030101", "施工噪声"),
    ("030102", "社会生活噪声"),
    ("0302", "大气污染"),
    ("0303", "水污染"),
    ("04", "交通运输"),
    ("0401", "公交出行"),
    ("0402", "出租车网约车"),
    ("0403", "交通设施"),
    ("05", "市场监管"),
    ("0501", "食品安全"),
    ("0502", "消费维权"),
    ("0503", "价格监管"),
    ("06", "劳动和社会保障"),
    ("0601", "欠薪讨薪"),
    ("0602", "社保医保"),
    ("07", "教育"),
    ("0701", "校外培训"),
    ("0702", "入学招生"),
    ("08", "卫生健康"),
    ("0801", "医疗服务"),
    ("09", "公共安全"),
    ("0901", "消防安全"),
    ("0902", "治安管理"),
    ("10", "农业农村"),
    ("1001", "农村人居环境"),
    ("11", "自然资源"),
    ("1101", "不动产登记"),
]

# code, name, categories it takes city-wide
CITY_AGENCIES: list[tuple[str, str, list[str]]] = [
    ("city.cgj", "徐州市城市管理局", ["0101"]),
    ("city.zjj", "徐州市住房和城乡建设局", ["0102", "0103", "0104"]),
    ("city.swj", "徐州市水务局", ["0201"]),
    ("city.gdgs", "国网徐州供电公司", ["0202"]),
    ("city.rqgs", "徐州港华燃气有限公司", ["0203", "0204"]),
    ("city.sthjj", "徐州市生态环境局", ["03"]),
    ("city.jtysj", "徐州市交通运输局", ["04"]),
    ("city.scjgj", "徐州市市场监督管理局", ["05"]),
    ("city.rsj", "徐州市人力资源和社会保障局", ["06"]),
    ("city.jyj", "徐州市教育局", ["07"]),
    ("city.wjw", "徐州市卫生健康委员会", ["08"]),
    ("city.gaj", "徐州市公安局", ["09"]),
    ("city.nyncj", "徐州市农业农村局", ["10"]),
    ("city.zrzyj", "徐州市自然资源和规划局", ["11"]),
]

# (username, role, display name, unit code or None, AMI interface, AMI member name)
USERS: list[tuple[str, str, str, str | None, str | None, str | None]] = [
    ("agent1001", "agent", "话务员1001", None, "Local/1001@agents/n", "Agent 1001"),
    ("agent1002", "agent", "话务员1002", None, "Local/1002@agents/n", "Agent 1002"),
    ("agent1003", "agent", "话务员1003", None, "Local/1003@agents/n", "Agent 1003"),
    ("agent1004", "agent", "话务员1004", None, "Local/1004@agents/n", "Agent 1004"),
    ("supervisor", "supervisor", "值班长", None, None, None),
    ("admin", "admin", "系统管理员", None, None, None),
    ("cgj", "handler", "市城管局承办人", "city.cgj", None, None),
    ("gulou", "handler", "鼓楼区分中心承办人", "hub.320302", None, None),
    ("huanglou", "handler", "黄楼街道承办人", "street.320302001", None, None),
]


@dataclass
class SeedResult:
    divisions: int
    categories: int
    units: int
    users: int
    rules: int


async def upsert_unit(
    conn: asyncpg.Connection,
    code: str,
    name: str,
    level: str,
    kind: str,
    parent_code: str | None = None,
    division_code: str | None = None,
    webhook_url: str | None = None,
) -> int:
    return await conn.fetchval(
        """INSERT INTO units (code, name, level, kind, parent_id, division_code, webhook_url)
           VALUES ($1, $2, $3, $4, (SELECT id FROM units WHERE code = $5), $6, $7)
           ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level, kind = EXCLUDED.kind,
               parent_id = EXCLUDED.parent_id, division_code = EXCLUDED.division_code
           RETURNING id""",
        code,
        name,
        level,
        kind,
        parent_code,
        division_code,
        webhook_url,
    )


async def seed_categories(conn: asyncpg.Connection) -> int:
    for code, name in CATEGORIES:
        await conn.execute(
            """INSERT INTO categories (code, name, parent_code) VALUES ($1, $2, $3)
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name""",
            code,
            name,
            code[:-2] or None,
        )
    return len(CATEGORIES)


async def seed_units(conn: asyncpg.Connection, city_code: str) -> int:
    """The centre, city agencies, a hub and two agencies per district, an office per street."""
    city = await conn.fetchrow("SELECT code, name FROM divisions WHERE code = $1", city_code)
    count = 1
    await upsert_unit(conn, "centre", f"{city['name']}12345热线中心", "city", "centre", None, city_code)
    for code, name, _ in CITY_AGENCIES:
        await upsert_unit(conn, code, name, "city", "agency", None, city_code)
        count += 1
    districts = await conn.fetch("SELECT code, name FROM divisions WHERE parent_code = $1 ORDER BY code", city_code)
    for d in districts:
        hub = f"hub.{d['code']}"
        await upsert_unit(conn, hub, f"{d['name']}12345分中心", "district", "hub", None, d["code"])
        await upsert_unit(
            conn, f"district.{d['code']}.cgj", f"{d['name']}城市管理局", "district", "agency", hub, d["code"]
        )
        await upsert_unit(
            conn, f"district.{d['code']}.zjj", f"{d['name']}住房和城乡建设局", "district", "agency", hub, d["code"]
        )
        count += 3
        streets = await conn.fetch("SELECT code, name FROM divisions WHERE parent_code = $1 ORDER BY code", d["code"])
        for s in streets:
            await upsert_unit(conn, f"street.{s['code']}", f"{s['name']}办事处", "street", "office", hub, s["code"])
            count += 1
    return count


async def seed_users(conn: asyncpg.Connection) -> int:
    for username, role, display, unit_code, interface, member in USERS:
        unit_id = await conn.fetchval("SELECT id FROM units WHERE code = $1", unit_code) if unit_code else None
        await create_user(conn, username, DEMO_PASSWORD, role, display, unit_id, interface, member)
    return len(USERS)


DEMO_CITY = "320300"  # the demo's agencies, users and rules are 徐州市's


class NotTheDemoCity(ValueError):
    """seed-demo was given another city's divisions: its agencies and users would be 徐州's."""


def check_demo_city(divisions_csv: Path) -> None:
    cities = [d for d in read_divisions(divisions_csv) if d.level == "city"]
    if [d.code for d in cities] != [DEMO_CITY]:
        found = "、".join(f"{d.name} ({d.code})" for d in cities) or "no city"
        raise NotTheDemoCity(
            f"seed-demo loads 徐州市's demo agencies and users, but {divisions_csv} holds {found}; "
            f"set another city up with: hotline city init --divisions {divisions_csv} --name NAME"
        )


async def seed_demo(conn: asyncpg.Connection, divisions_csv: Path) -> SeedResult:
    check_demo_city(divisions_csv)
    async with conn.transaction():
        imported = await import_divisions(conn, divisions_csv)
        city_code = await conn.fetchval("SELECT code FROM divisions WHERE level = 'city' ORDER BY code LIMIT 1")
        categories = await seed_categories(conn)
        units = await seed_units(conn, city_code)
        users = await seed_users(conn)
        rules = await seed_rules(conn, city_code)
    log.info("demo data seeded", extra={"units": units, "users": users, "rules": rules})
    return SeedResult(imported.total, categories, units, users, rules)


# Topics a district handles itself, through its hub (which sends them down to the street).
DISTRICT_TOPICS = ["0101", "0103", "0301"]


async def seed_rules(conn: asyncpg.Connection, city_code: str) -> int:
    """The dispatch list: each city agency takes its topics city-wide; city appearance (市容),
    property management and noise go to the district hub of the place."""
    wanted: list[tuple[str, str, str]] = [(cat, "", code) for code, _, cats in CITY_AGENCIES for cat in cats]
    for d in await conn.fetch("SELECT code FROM divisions WHERE parent_code = $1 ORDER BY code", city_code):
        wanted += [(cat, d["code"], f"hub.{d['code']}") for cat in DISTRICT_TOPICS]
    for category, prefix, unit_code in wanted:
        unit_id = await conn.fetchval("SELECT id FROM units WHERE code = $1", unit_code)
        try:
            await add_rule(conn, unit_id=unit_id, category_code=category, division_prefix=prefix)
        except DuplicateRule:
            pass  # seeded before: the seed is idempotent
    return len(wanted)

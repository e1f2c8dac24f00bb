"""``hotline city init``: a routable city from a division file and a name, in one step.

Creates, idempotently (a second run changes nothing, and edits made since are kept):
the divisions; the standard 12345 category catalogue (``dispatch/data/categories.csv``);
the centre, a hub per district and an office per street, named from the divisions; a
starter dispatch list from a CSV the city fills in (template: ``dispatch/data/dispatch-template.csv``);
and an admin user. With no dispatch rule an order goes to the centre for manual dispatch,
so the city routes end to end from the first call.
"""

from __future__ import annotations

import csv
import secrets
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from dispatch.divisions import Division, parse_divisions, upsert_divisions
from dispatch.errors import DataFileError
from dispatch.imports import import_rules
from hotline.users import add_user

DATA = Path(__file__).resolve().parent.parent / "dispatch" / "data"
CATALOGUE = DATA / "categories.csv"
DISPATCH_TEMPLATE = DATA / "dispatch-template.csv"


@dataclass(frozen=True, slots=True)
class CityInit:
    city_code: str
    divisions: int
    categories_added: int
    units_added: int
    rules_added: int
    admin: str | None
    admin_password: str | None  # only when it was generated now: shown once, never stored in clear


def read_catalogue(path: Path = CATALOGUE) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [(r["code"], r["name"]) for r in csv.DictReader(f)]


async def ensure_user(
    conn: asyncpg.Connection, username: str, role: str, password: str | None = None, unit_code: str | None = None
) -> str | None:
    """Create ``username`` unless it exists. Returns the password when one was generated."""
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)", username):
        return None
    generated = None if password else secrets.token_urlsafe(12)
    await add_user(conn, username, password or generated or "", role, unit_code=unit_code, actor="city init")
    return generated


async def init_city(
    conn: asyncpg.Connection,
    divisions_csv: str,
    name: str,
    *,
    dispatch_csv: str | None = None,
    admin_username: str | None = "admin",
    admin_password: str | None = None,
    source: str = "<divisions>",
) -> CityInit:
    """Set up the city described by ``divisions_csv`` (the text of a division file)."""
    known = {r["code"]: r["level"] for r in await conn.fetch("SELECT code, level FROM divisions")}
    divisions = parse_divisions(divisions_csv, source, known)
    cities = [d for d in divisions if d.level == "city"]
    if len(cities) != 1:
        raise DataFileError(source, [(1, f"a city file has exactly one division of level city, found {len(cities)}")])
    city = cities[0]
    async with conn.transaction():
        imported = await upsert_divisions(conn, divisions)
        categories = await _catalogue(conn)
        units = await _units(conn, city, name, divisions)
        rules = await import_rules(conn, dispatch_csv, "<dispatch list>") if dispatch_csv else None
        password = await ensure_user(conn, admin_username, "admin", admin_password) if admin_username else None
    return CityInit(
        city.code, imported.total, categories, units, rules.written if rules else 0, admin_username, password
    )


async def _catalogue(conn: asyncpg.Connection) -> int:
    rows = read_catalogue()
    added = await conn.fetch(
        """INSERT INTO categories (code, name, parent_code)
           SELECT c, n, nullif(left(c, length(c) - 2), '') FROM unnest($1::text[], $2::text[]) AS u (c, n)
           ORDER BY length(c)
           ON CONFLICT (code) DO NOTHING RETURNING code""",
        [c for c, _ in rows],
        [n for _, n in rows],
    )
    return len(added)


async def _units(conn: asyncpg.Connection, city: Division, name: str, divisions: list[Division]) -> int:
    """The centre, a hub per district, an office per street; existing codes are left as edited."""
    wanted: list[tuple[str, str, str, str, str | None, str]] = [
        ("centre", f"{name}12345热线中心", "city", "centre", None, city.code)
    ]
    for d in divisions:
        if d.level == "district":
            wanted.append((f"hub.{d.code}", f"{d.name}12345分中心", "district", "hub", "centre", d.code))
    for d in divisions:
        if d.level == "street":
            wanted.append((f"office.{d.code}", f"{d.name}办事处", "street", "office", f"hub.{d.parent_code}", d.code))
    added = 0
    for code, unit_name, level, kind, parent, division in wanted:
        unit_id = await conn.fetchval(
            """INSERT INTO units (code, name, level, kind, parent_id, division_code)
               VALUES ($1, $2, $3, $4, (SELECT id FROM units WHERE code = $5), $6)
               ON CONFLICT (code) DO NOTHING RETURNING id""",
            code, unit_name, level, kind, parent, division,
        )  # fmt: skip
        added += unit_id is not None
    return added

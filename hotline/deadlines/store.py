"""Deadline policy data: presets, their rules, and calendar overrides (the admin's side)."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from hotline.deadlines.policy import Clock
from hotline.errors import Conflict, InvalidInput, NotFound

RULE_COLUMNS = "id, preset, clock, kind, category_prefix, urgency, amount, unit, note, created_at"


async def presets(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT name, description, active FROM deadline_presets ORDER BY active DESC, name")
    rules = await conn.fetch(f"SELECT {RULE_COLUMNS} FROM deadline_rules ORDER BY preset, clock, id")
    out = [dict(r) | {"rules": []} for r in rows]
    by_name = {p["name"]: p for p in out}
    for r in rules:
        by_name[r["preset"]]["rules"].append(dict(r))
    return out


async def activate(conn: asyncpg.Connection, name: str) -> None:
    async with conn.transaction():
        await _preset_exists(conn, name)
        await _complete(conn, name)
        await conn.execute("UPDATE deadline_presets SET active = false WHERE active AND name <> $1", name)
        await conn.execute("UPDATE deadline_presets SET active = true WHERE name = $1", name)


async def add_rule(conn: asyncpg.Connection, preset: str, **rule: Any) -> dict[str, Any]:
    if rule.get("category_prefix"):
        known = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM categories WHERE code = $1)", rule["category_prefix"])
        if not known:
            raise InvalidInput("no such category", {"category_prefix": rule["category_prefix"]})
    async with conn.transaction():
        await _preset_exists(conn, preset)
        try:
            row = await conn.fetchrow(
                f"""INSERT INTO deadline_rules (preset, clock, kind, category_prefix, urgency, amount, unit, note)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {RULE_COLUMNS}""",
                preset, rule["clock"], rule.get("kind"), rule.get("category_prefix"), rule.get("urgency"),
                rule["amount"], rule["unit"], rule.get("note", ""),
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "the preset already has a rule for this clock with the same kind, category and urgency; "
                "delete it first or change the keys",
                {"preset": preset, "clock": rule["clock"]},
            ) from None
    return dict(row)


async def remove_rule(conn: asyncpg.Connection, preset: str, rule_id: int) -> dict[str, Any]:
    async with conn.transaction():
        row = await conn.fetchrow(
            f"DELETE FROM deadline_rules WHERE id = $1 AND preset = $2 RETURNING {RULE_COLUMNS}", rule_id, preset
        )
        if row is None:
            raise NotFound("no such rule in this preset", {"preset": preset, "rule_id": rule_id})
        await _complete(conn, preset)
    return dict(row)


async def _preset_exists(conn: asyncpg.Connection, name: str) -> None:
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM deadline_presets WHERE name = $1)", name):
        raise NotFound("no such deadline preset", {"preset": name})


async def _complete(conn: asyncpg.Connection, preset: str) -> None:
    """Every clock needs a catch-all rule, so every order gets every deadline."""
    have = {
        r["clock"]
        for r in await conn.fetch(
            """SELECT DISTINCT clock FROM deadline_rules
               WHERE preset = $1 AND kind IS NULL AND category_prefix IS NULL AND urgency IS NULL""",
            preset,
        )
    }
    missing = sorted(c.value for c in Clock if c.value not in have)
    if missing:
        raise Conflict(
            "every clock needs a rule without kind, category or urgency (the catch-all)",
            {"preset": preset, "missing": missing},
        )


async def overrides(conn: asyncpg.Connection, year: int | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT day, workday, note FROM calendar_overrides
           WHERE $1::int IS NULL OR extract(year FROM day) = $1 ORDER BY day""",
        year,
    )
    return [dict(r) for r in rows]


async def set_override(conn: asyncpg.Connection, day: date, workday: bool, note: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        """INSERT INTO calendar_overrides (day, workday, note) VALUES ($1, $2, $3)
           ON CONFLICT (day) DO UPDATE SET workday = excluded.workday, note = excluded.note
           RETURNING day, workday, note""",
        day, workday, note,
    )  # fmt: skip
    return dict(row)


async def remove_override(conn: asyncpg.Connection, day: date) -> dict[str, Any]:
    row = await conn.fetchrow("DELETE FROM calendar_overrides WHERE day = $1 RETURNING day, workday, note", day)
    if row is None:
        raise NotFound("no override for this day", {"day": day.isoformat()})
    return dict(row)

"""Units 承办单位: the bodies orders are dispatched to. Store functions for the admin API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from dispatch.errors import DuplicateUnit, InvalidUnit

UnitLevel = Literal["city", "district", "street"]
UnitKind = Literal["centre", "hub", "agency", "office"]
UNIT_LEVELS: tuple[UnitLevel, ...] = ("city", "district", "street")
UNIT_KINDS: tuple[UnitKind, ...] = ("centre", "hub", "agency", "office")
# Which division levels a unit of each level may serve.
DIVISION_LEVELS_FOR: dict[str, tuple[str, ...]] = {
    "city": ("province", "city"),
    "district": ("district",),
    "street": ("street",),
}


@dataclass(frozen=True, slots=True)
class Unit:
    id: int
    code: str
    name: str
    level: UnitLevel
    kind: UnitKind
    parent_id: int | None
    division_code: str | None
    active: bool = True
    webhook_url: str | None = None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Unit:
        return cls(
            r["id"], r["code"], r["name"], r["level"], r["kind"], r["parent_id"], r["division_code"],
            r["active"], r["webhook_url"],
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "code": self.code, "name": self.name, "level": self.level, "kind": self.kind,
            "parent_id": self.parent_id, "division_code": self.division_code, "active": self.active,
            "webhook_url": self.webhook_url,
        }  # fmt: skip


_COLUMNS = "id, code, name, level, kind, parent_id, division_code, active, webhook_url"


async def add_unit(
    conn: asyncpg.Connection,
    code: str,
    name: str,
    level: UnitLevel,
    kind: UnitKind = "agency",
    *,
    parent_id: int | None = None,
    division_code: str | None = None,
    webhook_url: str | None = None,
) -> Unit:
    """Create a unit. Raises :class:`InvalidUnit` (bad level/kind, unknown parent or division,
    a division of the wrong level, a parent below the unit) or :class:`DuplicateUnit`."""
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise InvalidUnit("a unit needs a code and a name", {"code": code, "name": name})
    if level not in UNIT_LEVELS:
        raise InvalidUnit(f"unknown unit level {level!r}", {"level": level, "allowed": list(UNIT_LEVELS)})
    if kind not in UNIT_KINDS:
        raise InvalidUnit(f"unknown unit kind {kind!r}", {"kind": kind, "allowed": list(UNIT_KINDS)})
    async with conn.transaction():
        if division_code is not None:
            div_level = await conn.fetchval("SELECT level FROM divisions WHERE code = $1", division_code)
            if div_level is None:
                raise InvalidUnit(f"unknown division {division_code}", {"division_code": division_code})
            if div_level not in DIVISION_LEVELS_FOR[level]:
                raise InvalidUnit(
                    f"a {level} unit cannot serve the {div_level} {division_code}",
                    {"division_code": division_code, "division_level": div_level, "level": level},
                )
        if parent_id is not None:
            parent_level = await conn.fetchval("SELECT level FROM units WHERE id = $1", parent_id)
            if parent_level is None:
                raise InvalidUnit(f"unknown parent unit {parent_id}", {"parent_id": parent_id})
            if UNIT_LEVELS.index(parent_level) > UNIT_LEVELS.index(level):
                raise InvalidUnit(
                    f"a {parent_level} unit cannot be the parent of a {level} unit",
                    {"parent_id": parent_id, "parent_level": parent_level, "level": level},
                )
        try:
            row = await conn.fetchrow(
                f"""INSERT INTO units (code, name, level, kind, parent_id, division_code, webhook_url)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
                code, name, level, kind, parent_id, division_code, webhook_url,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise DuplicateUnit(f"a unit with code {code!r} exists", {"code": code}) from None
    return Unit.from_row(row)


async def list_units(
    conn: asyncpg.Connection, *, level: UnitLevel | None = None, active: bool | None = None
) -> list[Unit]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM units
            WHERE ($1::text IS NULL OR level = $1) AND ($2::boolean IS NULL OR active = $2)
            ORDER BY id""",
        level,
        active,
    )
    return [Unit.from_row(r) for r in rows]


async def get_unit(conn: asyncpg.Connection, unit_id: int) -> Unit | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM units WHERE id = $1", unit_id)
    return Unit.from_row(row) if row else None

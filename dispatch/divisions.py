"""The gazetteer: administrative divisions, read from a CSV and upserted into ``divisions``.

File format (UTF-8, optional BOM), one division a line::

    code,name,level,parent_code
    320300,徐州市,city,
    320302,鼓楼区,district,320300
    320302001,黄楼街道,street,320302

Rules checked before anything is written (every problem is reported, with its line):
known level; code of digits (6 for province/city/district, 9 for street) and unique;
name not empty; parent present in the file or already in the database, one level up
(street -> district -> city -> province); the child's code starts with the parent's
significant prefix (``3203`` for ``320300``), which is what dispatch rules match on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg

from dispatch.errors import DivisionFileError

Level = Literal["province", "city", "district", "street"]
LEVELS: tuple[Level, ...] = ("province", "city", "district", "street")
PARENT_LEVEL: dict[str, str | None] = {"province": None, "city": "province", "district": "city", "street": "district"}
CODE_LENGTH: dict[str, int] = {"province": 6, "city": 6, "district": 6, "street": 9}
HEADER = ["code", "name", "level", "parent_code"]


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str
    level: Level
    parent_code: str | None


@dataclass(frozen=True, slots=True)
class ImportResult:
    total: int
    inserted: int
    updated: int
    unchanged: int


def significant_prefix(code: str) -> str:
    """The part of a code that its descendants share: 320000 -> 32, 320300 -> 3203, 320302 -> 320302.

    Only six-digit codes carry trailing ``00`` pairs; street codes are returned whole.
    """
    if len(code) != 6:
        return code
    out = code
    while len(out) > 2 and out.endswith("00"):
        out = out[:-2]
    return out


def parse_divisions(text: str, source: str = "<text>", known: Mapping[str, str] | None = None) -> list[Division]:
    """Parse and validate a division CSV. ``known`` maps codes already stored to their level,
    so a file may hang its top row under a stored parent. Raises :class:`DivisionFileError`."""
    known = known or {}
    problems: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    rows: list[tuple[int, list[str]]] = []
    header_seen = False
    for lineno, raw in enumerate(reader, start=1):
        if not raw or all(not c.strip() for c in raw):
            continue
        cells = [c.strip() for c in raw]
        if not header_seen:
            header_seen = True
            if [c.lower() for c in cells] != HEADER:
                problems.append((lineno, f"header must be {','.join(HEADER)}, got {','.join(cells)}"))
                raise DivisionFileError(source, problems)
            continue
        rows.append((lineno, cells))
    if not header_seen:
        raise DivisionFileError(source, [(1, "empty file")])

    divisions: list[Division] = []
    first_line: dict[str, int] = {}
    for lineno, cells in rows:
        if len(cells) != 4:
            problems.append((lineno, f"expected 4 fields, got {len(cells)}"))
            continue
        code, name, level, parent = cells
        ok = True
        if level not in LEVELS:
            problems.append((lineno, f"unknown level {level!r} (one of {', '.join(LEVELS)})"))
            ok = False
        elif not (code.isascii() and code.isdigit() and len(code) == CODE_LENGTH[level]):
            problems.append((lineno, f"code {code!r} must be {CODE_LENGTH[level]} digits for a {level}"))
            ok = False
        if not name:
            problems.append((lineno, f"division {code} has no name"))
            ok = False
        if code in first_line:
            problems.append((lineno, f"duplicate code {code} (first on line {first_line[code]})"))
            ok = False
        else:
            first_line[code] = lineno
        if ok:
            divisions.append(Division(code, name, level, parent or None))  # type: ignore[arg-type]

    in_file = {d.code: d.level for d in divisions}
    for d in divisions:
        lineno = first_line[d.code]
        want = PARENT_LEVEL[d.level]
        if d.parent_code is None:
            if d.level in ("district", "street"):
                problems.append((lineno, f"{d.level} {d.code} {d.name} has no parent_code"))
            continue
        parent_level = in_file.get(d.parent_code) or known.get(d.parent_code)
        if parent_level is None:
            problems.append((lineno, f"parent {d.parent_code} of {d.code} {d.name} is neither in the file nor stored"))
        elif parent_level != want:
            problems.append(
                (
                    lineno,
                    f"{d.level} {d.code} {d.name} has a {parent_level} as parent ({d.parent_code}); expected a {want}",
                )
            )
        elif not d.code.startswith(significant_prefix(d.parent_code)) or d.code == d.parent_code:
            problems.append(
                (lineno, f"code {d.code} does not start with its parent's prefix {significant_prefix(d.parent_code)}")
            )
    if problems:
        raise DivisionFileError(source, sorted(problems))
    # Parents before children, so the rows can be written in one pass.
    return sorted(divisions, key=lambda d: (LEVELS.index(d.level), d.code))


def read_divisions(path: Path | str, known: Mapping[str, str] | None = None) -> list[Division]:
    p = Path(path)
    return parse_divisions(p.read_text(encoding="utf-8"), str(p), known)


async def import_divisions(conn: asyncpg.Connection, path: Path | str) -> ImportResult:
    """Validate ``path`` and upsert every division in one transaction (a savepoint when the
    caller already holds one). Running it twice changes nothing the second time."""
    known = {r["code"]: r["level"] for r in await conn.fetch("SELECT code, level FROM divisions")}
    divisions = read_divisions(path, known)
    return await upsert_divisions(conn, divisions)


async def upsert_divisions(conn: asyncpg.Connection, divisions: Iterable[Division]) -> ImportResult:
    rows = list(divisions)
    async with conn.transaction():
        changed = await conn.fetch(
            """INSERT INTO divisions (code, name, level, parent_code)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
               ON CONFLICT (code) DO UPDATE
                   SET name = EXCLUDED.name, level = EXCLUDED.level, parent_code = EXCLUDED.parent_code
                   WHERE (divisions.name, divisions.level, divisions.parent_code)
                         IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level, EXCLUDED.parent_code)
               RETURNING (xmax = 0) AS inserted""",
            [d.code for d in rows],
            [d.name for d in rows],
            [d.level for d in rows],
            [d.parent_code for d in rows],
        )
    inserted = sum(1 for r in changed if r["inserted"])
    updated = len(changed) - inserted
    return ImportResult(total=len(rows), inserted=inserted, updated=updated, unchanged=len(rows) - len(changed))


async def load_divisions(conn: asyncpg.Connection) -> list[Division]:
    rows = await conn.fetch("SELECT code, name, level, parent_code FROM divisions ORDER BY code")
    return [Division(r["code"], r["name"], r["level"], r["parent_code"]) for r in rows]

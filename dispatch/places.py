"""The gazetteer beyond divisions: communities, villages, zones, former names, landmarks,
stations and main roads, each with the division(s) it lies in.

A place in one division names it (锁金新村社区 -> 锁金村街道). A place in several — a main road
crossing districts, a village name two towns share — only narrows the set of districts: the
resolver uses it to confirm or rule out a street, never to choose one by itself.

File format (UTF-8, optional BOM)::

    name,kind,divisions,note
    仙林大道,road,320113;320102,
    江宁开发区,zone,320115,
    白下区,former,320104,merged into 秦淮区 in 2013

Every problem is reported with its line; the import upserts by (name, kind), so running it
twice changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg

from dispatch.errors import PlaceFileError
from dispatch.forms import Form, normalize

PlaceKind = Literal["community", "village", "zone", "former", "landmark", "station", "road"]
PLACE_KINDS: tuple[PlaceKind, ...] = ("community", "village", "zone", "former", "landmark", "station", "road")
# How sure a place alone makes us of its division. A former name or a zone is as good as a
# division's own name; a community or village name is exact but its record may be dated;
# a landmark is where people think it is, roughly.
PLACE_WEIGHT: dict[str, float] = {
    "former": 0.9, "zone": 0.85, "station": 0.85, "road": 0.85, "community": 0.75, "village": 0.75, "landmark": 0.8,
}  # fmt: skip
HEADER = ["name", "kind", "divisions", "note"]


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    kind: PlaceKind
    division_codes: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class PlaceImport:
    total: int
    inserted: int
    updated: int
    unchanged: int


def place_forms(places: Iterable[Place]) -> list[Form]:
    """One form per (place, division): several forms of one text make it a set, not a choice."""
    out: list[Form] = []
    for p in places:
        text, _ = normalize(p.name)
        for code in p.division_codes:
            out.append(Form(text, code, "place", PLACE_WEIGHT[p.kind], p.kind))
    return out


def parse_places(text: str, known: Mapping[str, str], source: str = "<text>") -> list[Place]:
    """Parse and check a place CSV against ``known`` division codes (code -> level)."""
    problems: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    places: dict[tuple[str, str], tuple[int, Place]] = {}
    header_seen = False
    for lineno, raw in enumerate(reader, start=1):
        cells = [c.strip() for c in raw]
        if not cells or all(not c for c in cells) or cells[0].startswith("#"):
            continue
        if not header_seen:
            header_seen = True
            if [c.lower() for c in cells][:3] != HEADER[:3]:
                raise PlaceFileError(source, [(lineno, f"header must be {','.join(HEADER)}, got {','.join(cells)}")])
            continue
        if len(cells) not in (3, 4):
            problems.append((lineno, f"expected 3 or 4 fields, got {len(cells)}"))
            continue
        name, kind, codes_text = cells[:3]
        note = cells[3] if len(cells) == 4 else ""
        codes = tuple(dict.fromkeys(c.strip() for c in codes_text.replace("|", ";").split(";") if c.strip()))
        if len(normalize(name)[0]) < 2:
            problems.append((lineno, f"place name {name!r} needs at least two characters"))
        elif kind not in PLACE_KINDS:
            problems.append((lineno, f"unknown kind {kind!r} (one of {', '.join(PLACE_KINDS)})"))
        elif not codes:
            problems.append((lineno, f"{name} has no division"))
        elif unknown := [c for c in codes if c not in known]:
            problems.append((lineno, f"{name}: unknown division {', '.join(unknown)}"))
        elif (name, kind) in places:
            problems.append((lineno, f"duplicate {kind} {name} (first on line {places[(name, kind)][0]})"))
        else:
            places[(name, kind)] = (lineno, Place(name, kind, codes, note))  # type: ignore[arg-type]
    if not header_seen:
        problems.append((1, "empty file"))
    if problems:
        raise PlaceFileError(source, sorted(problems))
    return [p for _, p in places.values()]


def read_places(path: Path | str, known: Mapping[str, str]) -> list[Place]:
    p = Path(path)
    return parse_places(p.read_text(encoding="utf-8"), known, str(p))


async def import_places(conn: asyncpg.Connection, path: Path | str) -> PlaceImport:
    """Validate ``path`` against the stored divisions and upsert its places in one transaction."""
    known = {r["code"]: r["level"] for r in await conn.fetch("SELECT code, level FROM divisions")}
    return await upsert_places(conn, read_places(path, known))


async def upsert_places(conn: asyncpg.Connection, places: Iterable[Place]) -> PlaceImport:
    rows = list(places)
    async with conn.transaction():
        changed = await conn.fetch(
            """INSERT INTO places (name, kind, division_codes, note)
               SELECT n, k, string_to_array(c, ';'), t
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u (n, k, c, t)
               ON CONFLICT (name, kind) DO UPDATE
                   SET division_codes = EXCLUDED.division_codes, note = EXCLUDED.note
                   WHERE (places.division_codes, places.note) IS DISTINCT FROM (EXCLUDED.division_codes, EXCLUDED.note)
               RETURNING (xmax = 0) AS inserted""",
            [r.name for r in rows],
            [r.kind for r in rows],
            [";".join(r.division_codes) for r in rows],
            [r.note for r in rows],
        )
    inserted = sum(1 for r in changed if r["inserted"])
    return PlaceImport(len(rows), inserted, len(changed) - inserted, len(rows) - len(changed))


async def load_places(conn: asyncpg.Connection) -> list[Place]:
    rows = await conn.fetch("SELECT name, kind, division_codes, note FROM places ORDER BY id")
    return [Place(r["name"], r["kind"], tuple(r["division_codes"]), r["note"]) for r in rows]

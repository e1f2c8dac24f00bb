"""``hotline units import`` and ``hotline rules import``: a city's units and dispatch list from CSV.

Each file is checked line by line against what is stored; the first problem does not stop the
check, every problem is reported with its line (:class:`DataFileError`), and nothing is written
unless the whole file is good. Both are idempotent: a unit already stored with the same code is
updated in place, a rule already stored is skipped.

A spreadsheet (.xlsx, its first sheet) is read as the same table (openpyxl, the maintained
reader of the format: cities keep these lists in Excel). Units:
``code,name,level,kind,parent_code,division_code,webhook_url`` (parent by unit code;
the last three may be empty). Rules: ``category_code,division_prefix,unit_code,kind,role,note``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from dispatch.errors import DataFileError, DuplicateRule, InvalidRule, RuleConflict
from dispatch.rules import KINDS, add_rule
from dispatch.units import DIVISION_LEVELS_FOR, UNIT_KINDS, UNIT_LEVELS

UNIT_HEADER = ["code", "name", "level", "kind", "parent_code", "division_code", "webhook_url"]
RULE_HEADER = ["category_code", "division_prefix", "unit_code", "kind", "role", "note"]


@dataclass(frozen=True, slots=True)
class FileImport:
    total: int
    written: int  # new or changed
    unchanged: int


def read_table(path: Path) -> str:
    """A CSV file's text, or an .xlsx file's first sheet as CSV text (so line numbers are rows)."""
    if path.suffix.lower() != ".xlsx":
        return path.read_text(encoding="utf-8")
    from openpyxl import load_workbook  # only for spreadsheets

    sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in sheet.iter_rows(values_only=True):
        writer.writerow(["" if v is None else str(v) for v in row])
    return out.getvalue()


def _rows(text: str, header: list[str], source: str) -> list[tuple[int, list[str]]]:
    """Lines after the header, padded to its width; comments and blank lines skipped."""
    rows: list[tuple[int, list[str]]] = []
    seen_header = False
    for lineno, raw in enumerate(csv.reader(io.StringIO(text.removeprefix("\ufeff"))), start=1):
        cells = [c.strip() for c in raw]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not seen_header:
            if [c.lower() for c in cells] != header:
                raise DataFileError(source, [(lineno, f"header must be {','.join(header)}, got {','.join(cells)}")])
            seen_header = True
            continue
        if len(cells) > len(header):
            rows.append((lineno, cells))  # reported by the caller's width check
        else:
            rows.append((lineno, cells + [""] * (len(header) - len(cells))))
    return rows


async def import_units(conn: asyncpg.Connection, text: str, source: str = "<text>") -> FileImport:
    rows = _rows(text, UNIT_HEADER, source)
    divisions = {r["code"]: r["level"] for r in await conn.fetch("SELECT code, level FROM divisions")}
    stored = {r["code"]: r["level"] for r in await conn.fetch("SELECT code, level FROM units")}
    in_file: dict[str, tuple[int, str]] = {}
    problems: list[tuple[int, str]] = []
    for lineno, cells in rows:
        if len(cells) != len(UNIT_HEADER):
            problems.append((lineno, f"expected {len(UNIT_HEADER)} fields, got {len(cells)}"))
            continue
        code, name, level, kind, parent, division, url = cells
        if not code or not name:
            problems.append((lineno, "a unit needs a code and a name"))
        elif level not in UNIT_LEVELS:
            problems.append((lineno, f"unknown level {level!r} (one of {', '.join(UNIT_LEVELS)})"))
        elif kind not in UNIT_KINDS or kind == "centre":
            problems.append((lineno, f"unknown kind {kind!r} (one of hub, agency, office)"))
        elif code in in_file:
            problems.append((lineno, f"duplicate code {code} (first on line {in_file[code][0]})"))
        elif division and divisions.get(division) not in DIVISION_LEVELS_FOR[level]:
            what = "unknown division" if division not in divisions else f"a {level} unit cannot serve the division"
            problems.append((lineno, f"{what} {division}"))
        elif url and not url.startswith(("http://", "https://")):
            problems.append((lineno, f"webhook_url must be http(s): {url}"))
        else:
            in_file[code] = (lineno, level)
    for lineno, cells in rows:
        parent = cells[4] if len(cells) == len(UNIT_HEADER) else ""
        if parent and cells[0] in in_file:
            parent_level = in_file[parent][1] if parent in in_file else stored.get(parent)
            if parent_level is None:
                problems.append((lineno, f"unknown parent unit {parent}"))
            elif UNIT_LEVELS.index(parent_level) > UNIT_LEVELS.index(cells[2]):
                problems.append((lineno, f"a {parent_level} unit cannot be the parent of a {cells[2]} unit"))
    if problems:
        raise DataFileError(source, sorted(problems))
    written = 0
    async with conn.transaction():
        # Parents first: a file may list a hub after its offices.
        for _, cells in sorted(rows, key=lambda r: UNIT_LEVELS.index(r[1][2])):
            code, name, level, kind, parent, division, url = cells
            changed = await conn.fetchval(
                """INSERT INTO units (code, name, level, kind, parent_id, division_code, webhook_url)
                   VALUES ($1, $2, $3, $4, (SELECT id FROM units WHERE code = $5), $6, $7)
                   ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, level = EXCLUDED.level,
                       kind = EXCLUDED.kind, parent_id = EXCLUDED.parent_id,
                       division_code = EXCLUDED.division_code, webhook_url = EXCLUDED.webhook_url
                   WHERE (units.name, units.level, units.kind, units.parent_id, units.division_code, units.webhook_url)
                         IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.level, EXCLUDED.kind, EXCLUDED.parent_id,
                                           EXCLUDED.division_code, EXCLUDED.webhook_url)
                   RETURNING id""",
                code, name, level, kind, parent or None, division or None, url or None,
            )  # fmt: skip
            written += changed is not None
    return FileImport(len(rows), written, len(rows) - written)


async def import_rules(conn: asyncpg.Connection, text: str, source: str = "<text>") -> FileImport:
    rows = _rows(text, RULE_HEADER, source)
    units = {r["code"]: r["id"] for r in await conn.fetch("SELECT code, id FROM units")}
    problems: list[tuple[int, str]] = []
    written = 0
    async with conn.transaction():
        for lineno, cells in rows:
            if len(cells) != len(RULE_HEADER):
                problems.append((lineno, f"expected {len(RULE_HEADER)} fields, got {len(cells)}"))
                continue
            category, prefix, unit_code, kind, role, note = cells
            if unit_code not in units:
                problems.append((lineno, f"unknown unit {unit_code!r}"))
                continue
            if kind and kind not in KINDS:
                problems.append((lineno, f"unknown kind {kind!r} (one of {', '.join(KINDS)})"))
                continue
            if role not in ("", "lead", "assist"):
                problems.append((lineno, f"unknown role {role!r} (lead or assist)"))
                continue
            try:
                async with conn.transaction():
                    await add_rule(
                        conn, unit_id=units[unit_code], category_code=category or None, division_prefix=prefix,
                        kind=kind or None, role=role or "lead", note=note,  # type: ignore[arg-type]
                    )  # fmt: skip
                written += 1
            except DuplicateRule:
                pass  # imported before: the import is idempotent
            except (InvalidRule, RuleConflict) as exc:
                problems.append((lineno, exc.message))
        if problems:
            raise DataFileError(source, problems)  # rolls the whole file back
    return FileImport(len(rows), written, len(rows) - written)

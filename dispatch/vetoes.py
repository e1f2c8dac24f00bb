"""A city's veto list: generated short forms (and suffix variants) it does not want matched.

The generator derives 胜利 from 胜利街道; in a city where callers say 取得胜利 or 胜利路 far
more often than they mean the street, an admin vetoes 胜利 (for that street or for every
division). The file format for ``hotline vetoes import`` is ``form,division_code,note``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

import asyncpg

from dispatch.errors import DataFileError, InvalidVeto, VetoNotFound
from dispatch.forms import Veto, normalize

_COLUMNS = "id, form, division_code, note"


def _veto(r: asyncpg.Record) -> Veto:
    return Veto(r["id"], r["form"], r["division_code"], r["note"])


async def add_veto(conn: asyncpg.Connection, form: str, division_code: str | None = None, note: str = "") -> Veto:
    """Veto ``form``; adding the same veto twice returns the one stored."""
    text, _ = normalize(form)
    if not text:
        raise InvalidVeto("a veto needs a form", {"form": form})
    async with conn.transaction():
        if division_code is not None and not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM divisions WHERE code = $1)", division_code
        ):
            raise InvalidVeto(f"unknown division {division_code}", {"division_code": division_code})
        row = await conn.fetchrow(
            f"""INSERT INTO division_vetoes (form, division_code, note) VALUES ($1, $2, $3)
                ON CONFLICT (form, coalesce(division_code, '')) DO NOTHING RETURNING {_COLUMNS}""",
            text,
            division_code,
            note,
        )
        if row is None:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM division_vetoes WHERE form = $1 AND division_code IS NOT DISTINCT FROM $2",
                text,
                division_code,
            )
    return _veto(row)


async def list_vetoes(conn: asyncpg.Connection) -> list[Veto]:
    return [_veto(r) for r in await conn.fetch(f"SELECT {_COLUMNS} FROM division_vetoes ORDER BY id")]


async def remove_veto(conn: asyncpg.Connection, veto_id: int) -> Veto:
    row = await conn.fetchrow(f"DELETE FROM division_vetoes WHERE id = $1 RETURNING {_COLUMNS}", veto_id)
    if row is None:
        raise VetoNotFound(f"no veto #{veto_id}", {"veto_id": veto_id})
    return _veto(row)


def parse_vetoes(text: str, known: Mapping[str, str], source: str = "<text>") -> list[tuple[str, str | None, str]]:
    """``form,division_code,note`` rows (division_code and note may be empty), checked line by line."""
    problems: list[tuple[int, str]] = []
    rows: list[tuple[str, str | None, str]] = []
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    for lineno, raw in enumerate(reader, start=1):
        cells = [c.strip() for c in raw] + ["", ""]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if lineno == 1 and cells[0].lower() == "form":
            continue
        form, code, note = cells[0], cells[1] or None, cells[2]
        if code is not None and code not in known:
            problems.append((lineno, f"unknown division {code}"))
        else:
            rows.append((form, code, note))
    if problems:
        raise DataFileError(source, problems)
    return rows


async def import_vetoes(conn: asyncpg.Connection, path: Path | str) -> int:
    p = Path(path)
    known = {r["code"]: r["level"] for r in await conn.fetch("SELECT code, level FROM divisions")}
    rows = parse_vetoes(await _read(p), known, str(p))
    async with conn.transaction():
        for form, code, note in rows:
            await add_veto(conn, form, code, note)
    return len(rows)


async def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")  # noqa: ASYNC240 - a small admin file, read once

"""Division aliases: names citizens use that the generator cannot derive (铜山县, 户部山 ...)."""

from __future__ import annotations

import asyncpg

from dispatch.errors import AliasNotFound, DuplicateAlias, InvalidAlias
from dispatch.forms import ALIAS_KINDS, Alias, AliasKind, normalize

_COLUMNS = "id, alias, division_code, kind, note"


def _alias(r: asyncpg.Record) -> Alias:
    return Alias(r["id"], r["alias"], r["division_code"], r["kind"], r["note"])


async def add_alias(
    conn: asyncpg.Connection, alias: str, division_code: str, kind: AliasKind = "short", note: str = ""
) -> Alias:
    text, _ = normalize(alias)
    if len(text) < 2:
        raise InvalidAlias("an alias needs at least two characters", {"alias": alias})
    if kind not in ALIAS_KINDS:
        raise InvalidAlias(f"unknown alias kind {kind!r}", {"kind": kind, "allowed": list(ALIAS_KINDS)})
    async with conn.transaction():
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM divisions WHERE code = $1)", division_code):
            raise InvalidAlias(f"unknown division {division_code}", {"division_code": division_code})
        try:
            row = await conn.fetchrow(
                f"""INSERT INTO division_aliases (alias, division_code, kind, note)
                    VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}""",
                text,
                division_code,
                kind,
                note,
            )
        except asyncpg.UniqueViolationError:
            raise DuplicateAlias(
                f"{text!r} is already an alias of {division_code}", {"alias": text, "division_code": division_code}
            ) from None
    return _alias(row)


async def list_aliases(conn: asyncpg.Connection, division_code: str | None = None) -> list[Alias]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM division_aliases WHERE $1::text IS NULL OR division_code = $1 ORDER BY id",
        division_code,
    )
    return [_alias(r) for r in rows]


async def remove_alias(conn: asyncpg.Connection, alias_id: int) -> Alias:
    row = await conn.fetchrow(f"DELETE FROM division_aliases WHERE id = $1 RETURNING {_COLUMNS}", alias_id)
    if row is None:
        raise AliasNotFound(f"no alias #{alias_id}", {"alias_id": alias_id})
    return _alias(row)

"""Load an exported CEL CSV (``\\copy (select * from cel …) to 'F.csv' csv header``) into the
``cel`` table and rebuild the calls it holds: a backfill, and how tests and checks feed recordings.

Rows keep their ids, so loading the same export twice, or an export of rows cel_pgsql already
wrote here, adds nothing; an id already used by a *different* row (an export of another
Asterisk) is refused rather than silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from adapters.cel.rows import COLUMNS, CelFileError, read_csv
from adapters.cel.store import rebuild

_IDENTITY = ("eventtype", "eventtime", "channame", "uniqueid", "linkedid")


@dataclass(frozen=True)
class ImportResult:
    rows: int  # lines in the file
    new_rows: int  # of which were not in the table yet
    calls: int  # Linkedids in the file
    calls_changed: int  # call records created or corrected


async def load_rows(cel: asyncpg.Connection, path: Path) -> tuple[int, int, list[str]]:
    """(rows in file, rows new to the table, the file's Linkedids in order). One transaction."""
    records = [(row_id, *(values[c] for c in COLUMNS)) for row_id, values in read_csv(path)]
    linkedids = list(dict.fromkeys(r[1 + COLUMNS.index("linkedid")] for r in records))
    async with cel.transaction():
        await cel.execute("CREATE TEMP TABLE cel_import (LIKE cel INCLUDING DEFAULTS) ON COMMIT DROP")
        await cel.copy_records_to_table("cel_import", records=records, columns=["id", *COLUMNS])
        clash = await cel.fetchval(
            f"SELECT count(*) FROM cel_import i JOIN cel c USING (id)"
            f" WHERE ({', '.join('i.' + c for c in _IDENTITY)}) IS DISTINCT FROM ({', '.join('c.' + c for c in _IDENTITY)})"
        )
        if clash:
            raise CelFileError(
                f"{path.name}: {clash} rows reuse ids of other CEL rows already stored (another Asterisk?)"
            )
        new = await cel.fetchval(
            f"WITH ins AS (INSERT INTO cel (id, {', '.join(COLUMNS)}) SELECT id, {', '.join(COLUMNS)} FROM cel_import"
            " ON CONFLICT (id) DO NOTHING RETURNING 1) SELECT count(*) FROM ins"
        )
        # Keep the serial ahead of imported ids, in case cel_pgsql writes into this table too.
        await cel.execute(
            "SELECT setval(pg_get_serial_sequence('cel', 'id'), GREATEST((SELECT max(id) FROM cel),"
            " (SELECT last_value FROM cel_id_seq)))"
        )
    return len(records), new, linkedids


async def import_csv(
    conn: asyncpg.Connection, cel: asyncpg.Connection, path: Path, node: str, *, now: datetime
) -> ImportResult:
    """Load ``path`` into ``cel``'s table, then rebuild its calls into ``conn`` (may be the same)."""
    rows, new, linkedids = await load_rows(cel, path)
    async with conn.transaction():
        changed = await rebuild(conn, cel, node, linkedids, now=now)
    return ImportResult(rows, new, len(linkedids), changed)

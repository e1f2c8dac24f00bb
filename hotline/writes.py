"""Writes that need no answer, sent together: one statement, one round trip.

An action's last writes often depend on its row but not on each other (the citizen's SMS, the
access-log row of the look the answer gives). Each is a ``Write`` — its SQL with parameters
numbered from ``$1`` — and ``together`` sends them as data-modifying CTEs of one statement, each
one's parameters renumbered after the ones before it. They see the same snapshot, so none may
read what another writes (none of ours does: that is what "needs no answer" means here), and
PostgreSQL runs them in no set order: rows whose order matters (two notices of one citizen,
sent in id order) are written one after the other, not together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

_PARAM = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Write:
    sql: str  # one INSERT / UPDATE / DELETE, no RETURNING needed; parameters $1…$n
    args: tuple[Any, ...]


def _renumbered(sql: str, offset: int) -> str:
    return _PARAM.sub(lambda m: f"${int(m.group(1)) + offset}", sql) if offset else sql


def statement(writes: Iterable[Write | None]) -> tuple[str, list[Any]] | None:
    """The one statement for ``writes`` (None entries skipped) and its arguments; None for none."""
    live = [w for w in writes if w is not None]
    if not live:
        return None
    if len(live) == 1:
        return live[0].sql, list(live[0].args)
    parts, args = [], []
    for i, w in enumerate(live):
        parts.append(f"w{i} AS ({_renumbered(w.sql, len(args))})")
        args.extend(w.args)
    return f"WITH {', '.join(parts)} SELECT 1", args


async def together(conn: asyncpg.Connection, writes: Iterable[Write | None]) -> None:
    """Send ``writes`` on ``conn`` (inside the caller's transaction) in one round trip."""
    built = statement(writes)
    if built is not None:
        await conn.execute(built[0], *built[1])

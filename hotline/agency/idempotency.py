"""Idempotency keys for callbacks, stored in PostgreSQL in the action's own transaction.

The callback claims the (unit, key) row first, in the statement that locks the order
(``hotline.agency.callbacks``). A concurrent request with the same key blocks on that
row's unique index until the first commits (and then gets its stored answer, ``earlier``)
or rolls back (and then runs itself). ``record`` fills in the answer before the commit. A
request that fails (4xx) rolls back with its action, so nothing is remembered and the same
key may be retried once the cause is fixed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from hotline.agency.errors import IdempotencyKeyInvalid, IdempotencyKeyReused

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces


@dataclass(frozen=True)
class Stored:
    status: int
    body: Any


def check_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not _KEY.match(raw):
        raise IdempotencyKeyInvalid(
            f"{HEADER} must be 1–200 printable ASCII characters without spaces", {"length": len(raw)}
        )
    return raw


def request_hash(method: str, path: str, body: dict[str, Any]) -> bytes:
    """What makes two requests "the same": method, path and the JSON body, key order and
    whitespace aside."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method.upper()}\n{path}\n{canonical}".encode()).digest()


async def earlier(conn: asyncpg.Connection, unit_id: int, key: str, digest: bytes) -> Stored | None:
    """After a claim that inserted nothing (``callbacks`` claims in the statement that locks the
    order): the first answer, or IdempotencyKeyReused when the key was used for another request.
    None when the row is this transaction's own claim: a committed claim always holds its answer."""
    row = await conn.fetchrow(
        "SELECT request_hash, status, response, created_at FROM callback_idempotency WHERE unit_id = $1 AND key = $2",
        unit_id,
        key,
    )
    if row is None or row["status"] == 0:
        return None
    if row["request_hash"] != digest:
        raise IdempotencyKeyReused(
            f"this {HEADER} was used for a different request; use a new key for a new request",
            {"idempotency_key": key, "first_used_at": row["created_at"].isoformat()},
        )
    return Stored(row["status"], row["response"])


# The answer, filled in before the commit; $1 unit, $2 key, $3 status, $4 body.
RECORD = "UPDATE callback_idempotency SET status = $3, response = $4 WHERE unit_id = $1 AND key = $2"


async def record(conn: asyncpg.Connection, unit_id: int, key: str, status: int, body: Any) -> None:
    await conn.execute(RECORD, unit_id, key, status, body)


async def prune(conn: asyncpg.Connection, older_than: timedelta) -> int:
    """Forget keys older than ``older_than``; returns how many."""
    done = await conn.execute("DELETE FROM callback_idempotency WHERE created_at < now() - $1::interval", older_than)
    return int(done.split()[-1])

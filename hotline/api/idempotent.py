"""``Idempotency-Key`` on staff requests that create something (POST /api/orders, an order
from a call, an order action, a unit, a rule, an alias), with the callback API's semantics:
a repeat with the same key and body returns the first answer (``Idempotent-Replayed:
true``) and creates nothing; the same key with another body is a 422
``idempotency_key_reused``. Keys are per user, stored in ``staff_idempotency`` in the same
transaction as what they create, so a client whose answer was lost (a timeout, a
restarted database) retries safely. A failed request stores nothing. Without the header a
request runs as before. Key creation is left out on purpose: its answer holds a secret,
which must not be kept to be replayed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from hotline.agency import idempotency
from hotline.agency.errors import IdempotencyKeyReused
from hotline.api.body import json_response
from hotline.api.keys import POOL
from hotline.api.middleware import principal


@dataclass(frozen=True)
class Created:
    """What a creating request answered, and what it announces once committed."""

    status: int
    body: Any
    after_commit: Callable[[], Awaitable[None]] | None = None


Work = Callable[[asyncpg.Connection], Awaitable[Created]]


async def once(request: web.Request, body: dict[str, Any], work: Work) -> web.Response:
    """Run ``work`` in one transaction, remembered under the request's Idempotency-Key."""
    key = idempotency.check_key(request.headers.get(idempotency.HEADER))
    user_id = principal(request).user_id
    async with request.app[POOL].acquire() as conn:
        async with conn.transaction():
            if key is not None and user_id is not None:
                digest = idempotency.request_hash(request.method, request.path, body)
                stored = await _claim(conn, user_id, key, digest)
                if stored is not None:
                    response = json_response(stored.body, status=stored.status)
                    response.headers["Idempotent-Replayed"] = "true"
                    return response
            created = await work(conn)
            if key is not None and user_id is not None:
                await conn.execute(
                    "UPDATE staff_idempotency SET status = $3, response = $4 WHERE user_id = $1 AND key = $2",
                    user_id, key, created.status, json.loads(json.dumps(created.body, default=str)),
                )  # fmt: skip
    if created.after_commit is not None:
        await created.after_commit()
    return json_response(created.body, status=created.status)


async def _claim(conn: asyncpg.Connection, user_id: int, key: str, digest: bytes) -> idempotency.Stored | None:
    """None: the key is new (a concurrent twin waits on the row until this commits or rolls back)."""
    inserted = await conn.fetchval(
        """INSERT INTO staff_idempotency (user_id, key, request_hash, status) VALUES ($1, $2, $3, 0)
           ON CONFLICT (user_id, key) DO NOTHING RETURNING true""",
        user_id, key, digest,
    )  # fmt: skip
    if inserted:
        return None
    row = await conn.fetchrow(
        "SELECT request_hash, status, response, created_at FROM staff_idempotency WHERE user_id = $1 AND key = $2",
        user_id, key,
    )  # fmt: skip
    if row["request_hash"] != digest:
        raise IdempotencyKeyReused(
            f"this {idempotency.HEADER} was used for a different request; use a new key for a new request",
            {"idempotency_key": key, "first_used_at": row["created_at"].isoformat()},
        )
    return idempotency.Stored(row["status"], row["response"])

"""The durable claim of a signed request's nonce (``signed_nonces``), kept for the timestamp window.

A nonce is claimed once per key: a second claim within the window is a replay. Nonces older
than the window are forgotten as the key signs on; the DELETE spares this nonce (one
statement may not touch a row twice), and a nonce seen only outside the window is claimed
afresh. The claim runs wherever its caller's commit is: on its own (``hotline.api.agency_auth``),
or inside a callback's transaction, so the callback commits (and waits for the disk) once.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from adapters.webhook import signing

TTL = timedelta(seconds=signing.NONCE_TTL_SECONDS)


def claim_cte(key_id: str, nonce: str, window: str) -> str:
    """The claim as two CTEs of a caller's statement, for the parameters named (a NULL key id
    claims nothing); the CTE ``nonce`` has a row when the nonce is new."""
    return f"""nonce_forgotten AS (
        DELETE FROM signed_nonces
        WHERE {key_id}::text IS NOT NULL AND key_id = {key_id} AND seen_at < now() - {window}::interval
          AND nonce <> {nonce}
    ), nonce AS (
        INSERT INTO signed_nonces (key_id, nonce, seen_at) SELECT {key_id}, {nonce}, now() WHERE {key_id}::text IS NOT NULL
        ON CONFLICT (key_id, nonce) DO UPDATE SET seen_at = now() WHERE signed_nonces.seen_at < now() - {window}::interval
        RETURNING true
    )"""


CLAIM = f"WITH {claim_cte('$1', '$2', '$3')} SELECT EXISTS (SELECT 1 FROM nonce)"


async def claim(conn: asyncpg.Connection, key_id: str, nonce: str) -> bool:
    """True when the nonce is new (and now claimed); False when it was seen within the window."""
    return bool(await conn.fetchval(CLAIM, key_id, nonce, TTL))


async def claimed_here(conn: asyncpg.Connection, parts: signing.SignedParts) -> bool:
    """After a statement with ``claim_cte`` found nothing to do: did this transaction claim the
    nonce (its row is this transaction's), or had it been seen before?"""
    return bool(
        await conn.fetchval(
            "SELECT xmin = pg_current_xact_id()::xid FROM signed_nonces WHERE key_id = $1 AND nonce = $2",
            parts.key_id,
            parts.nonce,
        )
    )


async def claim_or_refuse(conn: asyncpg.Connection, parts: signing.SignedParts) -> None:
    if not await claim(conn, parts.key_id, parts.nonce):
        raise replayed(parts)


def replayed(parts: signing.SignedParts) -> signing.SignatureRefused:
    return signing.SignatureRefused(
        signing.Refusal.REPLAYED, "nonce already used; sign every request with a new nonce", {"nonce": parts.nonce}
    )

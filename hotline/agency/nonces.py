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

# $1 key id, $2 nonce, $3 the window (TTL); RETURNING true when the nonce is new.
CLAIM = """
    WITH forgotten AS (
        DELETE FROM signed_nonces WHERE key_id = $1 AND seen_at < now() - $3::interval AND nonce <> $2
    )
    INSERT INTO signed_nonces (key_id, nonce, seen_at) VALUES ($1, $2, now())
    ON CONFLICT (key_id, nonce) DO UPDATE SET seen_at = now() WHERE signed_nonces.seen_at < now() - $3::interval
    RETURNING true"""


async def claim(conn: asyncpg.Connection, key_id: str, nonce: str) -> bool:
    """True when the nonce is new (and now claimed); False when it was seen within the window."""
    return bool(await conn.fetchval(CLAIM, key_id, nonce, TTL))


async def claim_or_refuse(conn: asyncpg.Connection, parts: signing.SignedParts) -> None:
    if not await claim(conn, parts.key_id, parts.nonce):
        raise replayed(parts)


def replayed(parts: signing.SignedParts) -> signing.SignatureRefused:
    return signing.SignatureRefused(
        signing.Refusal.REPLAYED, "nonce already used; sign every request with a new nonce", {"nonce": parts.nonce}
    )

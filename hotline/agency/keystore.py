"""Units' HMAC keys: issue, rotate, revoke, look up.

A unit holds at most ``MAX_ACTIVE`` (two) active keys: issuing a third revokes the oldest,
so an agency rotates by asking for a new key, deploying it, and letting the old one go
(or revoking it at once). Callbacks verify against the key they name; pushes to the unit
are signed with its newest active key, named in ``X-Hotline-Key``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from hotline.errors import NotFound
from hotline.secretbox import SecretBox

log = logging.getLogger(__name__)

MAX_ACTIVE = 2
# Without HOTLINE_SECRET_KEY secrets are stored as issued (see hotline.secretbox).
CLEAR = SecretBox()


@dataclass(frozen=True)
class IssuedKey:
    """Returned once, at creation: the only time the secret leaves the server."""

    key_id: str
    secret: str
    unit_id: int
    created_at: datetime
    revoked: list[str]


@dataclass(frozen=True)
class UnitKey:
    key_id: str
    secret: str
    unit_id: int
    unit_code: str
    unit_name: str
    unit_active: bool
    revoked_at: datetime | None
    last_used_at: datetime | None


def new_key_id() -> str:
    return "hk_" + secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


async def create_key(
    conn: asyncpg.Connection, unit_id: int, created_by: int | None = None, box: SecretBox = CLEAR
) -> IssuedKey:
    """Issue a key for ``unit_id``; when the unit already holds MAX_ACTIVE, revoke the oldest.
    The admin helper behind ``POST /api/admin/units/{unit_id}/keys``."""
    async with conn.transaction():
        # The unit row lock serialises two rotations of one unit.
        exists = await conn.fetchval("SELECT id FROM units WHERE id = $1 FOR UPDATE", unit_id)
        if exists is None:
            raise NotFound("no such unit", {"unit_id": unit_id})
        active = await conn.fetch(
            "SELECT key_id FROM unit_keys WHERE unit_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, key_id",
            unit_id,
        )
        to_revoke = [r["key_id"] for r in active[MAX_ACTIVE - 1 :]]
        if to_revoke:
            await conn.execute("UPDATE unit_keys SET revoked_at = now() WHERE key_id = ANY($1::text[])", to_revoke)
        key_id, secret = new_key_id(), new_secret()
        created_at = await conn.fetchval(
            """INSERT INTO unit_keys (key_id, unit_id, secret, created_by, created_at)
               VALUES ($1, $2, $3, $4, clock_timestamp()) RETURNING created_at""",
            key_id,
            unit_id,
            box.seal(secret),
            created_by,
        )
    log.info("unit key issued", extra={"unit_id": unit_id, "key_id": key_id, "revoked": to_revoke})
    return IssuedKey(key_id, secret, unit_id, created_at, to_revoke)


async def revoke_key(conn: asyncpg.Connection, unit_id: int, key_id: str) -> None:
    done = await conn.fetchval(
        """UPDATE unit_keys SET revoked_at = COALESCE(revoked_at, now())
           WHERE key_id = $1 AND unit_id = $2 RETURNING key_id""",
        key_id,
        unit_id,
    )
    if done is None:
        raise NotFound("no such key for this unit", {"unit_id": unit_id, "key_id": key_id})
    log.info("unit key revoked", extra={"unit_id": unit_id, "key_id": key_id})


async def list_keys(conn: asyncpg.Connection, unit_id: int) -> list[dict[str, object]]:
    """The unit's keys, newest first, without their secrets."""
    rows = await conn.fetch(
        """SELECT key_id, created_at, revoked_at, last_used_at FROM unit_keys
           WHERE unit_id = $1 ORDER BY created_at DESC, key_id""",
        unit_id,
    )
    return [
        {
            "key_id": r["key_id"],
            "active": r["revoked_at"] is None,
            "created_at": r["created_at"].isoformat(),
            "revoked_at": r["revoked_at"].isoformat() if r["revoked_at"] else None,
            "last_used_at": r["last_used_at"].isoformat() if r["last_used_at"] else None,
        }
        for r in rows
    ]


async def lookup(conn: asyncpg.Connection, key_id: str, box: SecretBox = CLEAR) -> UnitKey | None:
    row = await conn.fetchrow(
        """SELECT k.key_id, k.secret, k.unit_id, k.revoked_at, k.last_used_at, u.code, u.name, u.active
           FROM unit_keys k JOIN units u ON u.id = k.unit_id WHERE k.key_id = $1""",
        key_id,
    )
    if row is None:
        return None
    return UnitKey(
        row["key_id"], box.open(row["secret"]), row["unit_id"], row["code"], row["name"], row["active"], row["revoked_at"],
        row["last_used_at"],
    )  # fmt: skip


# A key's last use is recorded at most once a minute (a hot key must not become a hot row); the
# signed-request check writes it in the statement that claims the nonce (hotline.api.agency_auth).
TOUCH_EVERY = timedelta(minutes=1)


async def signing_key(conn: asyncpg.Connection, unit_id: int, box: SecretBox = CLEAR) -> tuple[str, str] | None:
    """(key_id, secret) of the unit's newest active key: what pushes to it are signed with."""
    row = await conn.fetchrow(
        """SELECT key_id, secret FROM unit_keys WHERE unit_id = $1 AND revoked_at IS NULL
           ORDER BY created_at DESC, key_id LIMIT 1""",
        unit_id,
    )
    return (row["key_id"], box.open(row["secret"])) if row else None

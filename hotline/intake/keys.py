"""Credentials of channels: Open311 api_keys (bearer secrets, stored hashed) and the HMAC
keys of our own channels' back ends (the secret kept, as HMAC needs it; see unit_keys)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from hotline.errors import DuplicateKey, NotFound
from hotline.secretbox import SecretBox

CHANNELS = ("web", "app", "wechat", "email")


@dataclass(frozen=True)
class IntakeKey:
    key_id: str
    channel: str
    secret: str
    revoked: bool


def _hash(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


async def add_open311_client(conn: asyncpg.Connection, name: str) -> tuple[int, str]:
    """A new client and its api_key, which is shown this once."""
    api_key = "o311_" + secrets.token_urlsafe(24)
    try:
        client_id = await conn.fetchval(
            "INSERT INTO open311_clients (name, api_key_hash) VALUES ($1, $2) RETURNING id", name, _hash(api_key)
        )
    except asyncpg.UniqueViolationError:
        raise DuplicateKey("an Open311 client of that name exists", {"name": name}) from None
    return client_id, api_key


async def open311_client(conn: asyncpg.Connection, api_key: str) -> int | None:
    """The active client holding ``api_key``."""
    return await conn.fetchval(
        "SELECT id FROM open311_clients WHERE api_key_hash = $1 AND revoked_at IS NULL", _hash(api_key)
    )


async def list_open311_clients(conn: asyncpg.Connection) -> list[dict[str, object]]:
    rows = await conn.fetch("SELECT id, name, created_at, revoked_at FROM open311_clients ORDER BY id")
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dict(r).items()} for r in rows]


async def revoke_open311_client(conn: asyncpg.Connection, client_id: int) -> None:
    done = await conn.fetchval(
        "UPDATE open311_clients SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id", client_id
    )
    if done is None:
        raise NotFound("no such Open311 client", {"client_id": client_id})


async def add_intake_key(conn: asyncpg.Connection, channel: str, box: SecretBox) -> tuple[str, str]:
    """A new HMAC key for ``channel``'s back end: (key_id, secret), the secret shown this once
    and stored sealed, as units' secrets are (``hotline.secretbox``)."""
    key_id, secret = "ck_" + secrets.token_hex(8), secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO intake_keys (key_id, channel, secret) VALUES ($1, $2, $3)", key_id, channel, box.seal(secret)
    )
    return key_id, secret


async def intake_key(conn: asyncpg.Connection, key_id: str, box: SecretBox) -> IntakeKey | None:
    row = await conn.fetchrow("SELECT key_id, channel, secret, revoked_at FROM intake_keys WHERE key_id = $1", key_id)
    if row is None:
        return None
    return IntakeKey(row["key_id"], row["channel"], box.open(row["secret"]), row["revoked_at"] is not None)


async def revoke_intake_key(conn: asyncpg.Connection, key_id: str) -> None:
    done = await conn.fetchval(
        "UPDATE intake_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1 RETURNING key_id", key_id
    )
    if done is None:
        raise NotFound("no such intake key", {"key_id": key_id})

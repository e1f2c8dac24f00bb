"""Passwords and bearer tokens.

Passwords are hashed with scrypt (stdlib, memory-hard). Bearer tokens are 32
random bytes shown to the client once; only their SHA-256 is stored, with an
expiry, so a leaked table cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from hotline.errors import Locked, Unauthenticated

# Call-centre staff: they take in orders and act for the centre.
CENTRE_ROLES = frozenset({"agent", "supervisor", "admin"})

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    salt_b64, digest_b64 = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt_b64}${digest_b64}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    actual = hashlib.scrypt(password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected))
    return hmac.compare_digest(actual, expected)


# A fixed hash to compare against when the user does not exist, so the time
# taken does not tell an attacker which usernames are real.
_DUMMY_HASH = hash_password("not-a-real-password")


@dataclass(frozen=True)
class Principal:
    """Who is making a request. An agency system signing its callbacks has no user: user_id is None."""

    user_id: int | None
    username: str
    role: str
    unit_id: int | None
    display_name: str = ""

    @property
    def is_centre(self) -> bool:
        return self.role in CENTRE_ROLES


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def login(conn: asyncpg.Connection, username: str, password: str, ttl: timedelta) -> tuple[str, datetime]:
    row = await conn.fetchrow("SELECT id, password_hash, active, locked_at FROM users WHERE username = $1", username)
    if row is not None and row["locked_at"] is not None:
        # Said before the password is checked, so a locked account confirms no guess.
        raise Locked("this account is locked after repeated failed logins; an admin must unlock it")
    ok = verify_password(password, row["password_hash"] if row else _DUMMY_HASH)
    if not row or not ok or not row["active"]:
        raise Unauthenticated("wrong username or password")
    token = secrets.token_urlsafe(32)
    expires_at = await conn.fetchval(
        "INSERT INTO auth_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, now() + $3) RETURNING expires_at",
        _token_hash(token),
        row["id"],
        ttl,
    )
    return token, expires_at


def token_digest(token: str) -> bytes:
    """What the database keys a token by (and the token cache, hotline.token_cache)."""
    return _token_hash(token)


def token_id(token: str) -> str:
    """A token's public name (hex of its hash): what a logout announces on the bus."""
    return _token_hash(token).hex()


@dataclass(frozen=True)
class Session:
    principal: Principal
    expires_at: datetime
    # Seconds left, by the database's clock (the one that set expires_at), so a process whose
    # clock is off still closes a socket when the token runs out.
    ttl_seconds: float


async def authenticate(conn: asyncpg.Connection, token: str) -> Principal:
    return (await session(conn, token)).principal


async def session(conn: asyncpg.Connection, token: str) -> Session:
    """The token's principal and how long it has left (a socket closes then)."""
    row = await conn.fetchrow(
        """SELECT u.id, u.username, u.role, u.unit_id, u.display_name, u.active, t.expires_at, t.revoked_at,
                  t.expires_at <= now() AS expired, extract(epoch FROM t.expires_at - now())::float8 AS ttl
             FROM auth_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = $1""",
        _token_hash(token),
    )
    if row is None:
        raise Unauthenticated("unknown token")
    if row["revoked_at"] is not None:
        raise Unauthenticated("token revoked")
    if row["expired"]:
        raise Unauthenticated("token expired", {"expired_at": row["expires_at"].isoformat()})
    if not row["active"]:
        raise Unauthenticated("account disabled")
    principal = Principal(row["id"], row["username"], row["role"], row["unit_id"], row["display_name"])
    return Session(principal, row["expires_at"], row["ttl"])


async def logout(conn: asyncpg.Connection, token: str) -> None:
    await conn.execute(
        "UPDATE auth_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL", _token_hash(token)
    )


async def create_user(
    conn: asyncpg.Connection,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    unit_id: int | None = None,
    agent_interface: str | None = None,
    agent_name: str | None = None,
) -> int:
    return await conn.fetchval(
        """INSERT INTO users (username, display_name, password_hash, role, unit_id, agent_interface, agent_name)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (username) DO UPDATE
              SET display_name = EXCLUDED.display_name, role = EXCLUDED.role, unit_id = EXCLUDED.unit_id,
                  agent_interface = EXCLUDED.agent_interface, agent_name = EXCLUDED.agent_name
           RETURNING id""",
        username,
        display_name or username,
        hash_password(password),
        role,
        unit_id,
        agent_interface,
        agent_name,
    )

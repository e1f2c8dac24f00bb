"""Accounts: create, disable, reset a password, unlock — and the auth_events record of each.

What ``hotline users …`` and ``hotline city init`` call, so an operator needs no Python.
Every change is written with an ``auth_events`` row in the same transaction; disabling an
account or resetting its password revokes its tokens (its open sockets close on their next
check).
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

import asyncpg

from hotline.auth import hash_password
from hotline.errors import DuplicateKey, InvalidInput, NotFound

UserRole = Literal["agent", "handler", "supervisor", "admin"]
ROLES: tuple[str, ...] = get_args(UserRole)
MIN_PASSWORD = 8


async def record(
    conn: asyncpg.Connection,
    kind: str,
    username: str,
    *,
    user_id: int | None = None,
    address: str | None = None,
    actor: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO auth_events (kind, username, user_id, address, actor, details)
           VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)""",
        kind, username, user_id, address, actor, json.dumps(details or {}, ensure_ascii=False),
    )  # fmt: skip


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters", {"length": len(password)})


async def add_user(
    conn: asyncpg.Connection,
    username: str,
    password: str,
    role: str,
    *,
    unit_code: str | None = None,
    display_name: str = "",
    actor: str = "cli",
) -> int:
    """A new account; a handler needs its unit (by code). An existing username is a 409."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", {"role": role})
    if not username.strip() or len(username) > 100:
        raise InvalidInput("a username is 1–100 characters", {"username": username})
    _check_password(password)
    unit_id = None
    if unit_code is not None:
        unit_id = await conn.fetchval("SELECT id FROM units WHERE code = $1", unit_code)
        if unit_id is None:
            raise InvalidInput("no such unit", {"unit": unit_code})
    if role == "handler" and unit_id is None:
        raise InvalidInput("a handler belongs to a unit: give --unit CODE", {"role": role})
    async with conn.transaction():
        try:
            user_id = await conn.fetchval(
                """INSERT INTO users (username, display_name, password_hash, role, unit_id)
                   VALUES ($1, $2, $3, $4, $5) RETURNING id""",
                username, display_name or username, hash_password(password), role, unit_id,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise DuplicateKey("a user with this username exists", {"username": username}) from None
        await record(conn, "user_created", username, user_id=user_id, actor=actor,
                     details={"role": role, "unit": unit_code})  # fmt: skip
    return user_id


async def _user_id(conn: asyncpg.Connection, username: str) -> int:
    user_id = await conn.fetchval("SELECT id FROM users WHERE username = $1 FOR UPDATE", username)
    if user_id is None:
        raise NotFound("no such user", {"username": username})
    return user_id


async def _revoke_tokens(conn: asyncpg.Connection, user_id: int) -> int:
    done = await conn.execute(
        "UPDATE auth_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id
    )
    return int(done.split()[-1])


async def disable(conn: asyncpg.Connection, username: str, *, actor: str = "cli") -> int:
    """Switch the account off and revoke its tokens; returns how many tokens were revoked."""
    async with conn.transaction():
        user_id = await _user_id(conn, username)
        await conn.execute("UPDATE users SET active = false WHERE id = $1", user_id)
        revoked = await _revoke_tokens(conn, user_id)
        await record(conn, "disabled", username, user_id=user_id, actor=actor, details={"tokens_revoked": revoked})
    return revoked


async def reset_password(conn: asyncpg.Connection, username: str, password: str, *, actor: str = "cli") -> int:
    """A new password; every token of the account is revoked. Returns the tokens revoked."""
    _check_password(password)
    async with conn.transaction():
        user_id = await _user_id(conn, username)
        await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, hash_password(password))
        revoked = await _revoke_tokens(conn, user_id)
        await record(conn, "password_reset", username, user_id=user_id, actor=actor,
                     details={"tokens_revoked": revoked})  # fmt: skip
    return revoked


async def lock(conn: asyncpg.Connection, username: str, failures: int, address: str | None) -> bool:
    """Lock the account after ``failures`` failed logins in a row; False when there is no such user."""
    async with conn.transaction():
        user_id = await conn.fetchval(
            "UPDATE users SET locked_at = COALESCE(locked_at, now()) WHERE username = $1 RETURNING id", username
        )
        if user_id is None:
            return False
        await record(conn, "locked", username, user_id=user_id, address=address, details={"failures": failures})
    return True


async def unlock(conn: asyncpg.Connection, username: str, *, actor: str = "cli") -> bool:
    """Lift a lockout; False when the account was not locked."""
    async with conn.transaction():
        user_id = await _user_id(conn, username)
        was = await conn.fetchval(
            "UPDATE users SET locked_at = NULL WHERE id = $1 AND locked_at IS NOT NULL RETURNING true", user_id
        )
        await record(conn, "unlocked", username, user_id=user_id, actor=actor, details={"was_locked": bool(was)})
    return bool(was)

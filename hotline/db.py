"""Database access: the pool and the migration runner.

Migrations are plain numbered SQL files in ``sql/``; each is applied once, in
order, inside its own transaction, and recorded in ``schema_migrations``. An
advisory lock makes two processes starting at once apply them one after the
other instead of racing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_MIGRATION_LOCK = 0x12345_0001  # advisory lock key shared by every hotline process
_NAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(sql_dir.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise RuntimeError(f"migration file name not of the form NNN_name.sql: {path.name}")
        found.append(Migration(int(m.group(1)), m.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number in {sql_dir}")
    return found


async def migrate(conn: asyncpg.Connection, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date)."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for mig in discover(sql_dir):
            if mig.version in done:
                continue
            async with conn.transaction():
                await conn.execute(mig.path.read_text(encoding="utf-8"))
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", mig.version, mig.name
                )
            log.info("migration applied", extra={"migration": mig.path.name})
            applied_now.append(mig.path.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now


_DB_NAME = re.compile(r"^[A-Za-z0-9_]{1,63}$")


async def create_database(server_url: str, name: str, *, template: str | None = None, replace: bool = False) -> str:
    """Create database ``name`` on the server at ``server_url`` (optionally from ``template``,
    or dropping one of that name first); return its URL. For tests, the demo and benchmarks."""
    for n in (name, template):
        if n is not None and not _DB_NAME.match(n):
            raise ValueError(f"not a plain database name: {n!r}")
    admin = await asyncpg.connect(server_url)
    try:
        if replace:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await admin.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting whoever still uses it."""
    if not _DB_NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database (query string, e.g. a socket host, kept)."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, so callers never json.dumps by hand.
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: json.dumps(v, ensure_ascii=False), decoder=json.loads, schema="pg_catalog"
    )
    await conn.set_type_codec(
        "json", encoder=lambda v: json.dumps(v, ensure_ascii=False), decoder=json.loads, schema="pg_catalog"
    )


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection released without asyncpg's reset query.

    The default reset (advisory unlock, CLOSE ALL, UNLISTEN *, RESET ALL) is one more round trip on
    every release — two or three per request. Our pooled work leaves no session state behind: settings
    are SET LOCAL, advisory locks are transaction-scoped (the migration lock is released in a finally),
    cursors live inside transactions, LISTEN runs on dedicated connections. asyncpg still rolls back
    an open transaction and drops listeners on release whatever this returns."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=60,
        timeout=5,
        connection_class=PooledConnection,
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One connection, one transaction: the unit every state change runs in."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn

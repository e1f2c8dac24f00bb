"""A throw-away database for benchmarks and tests: created (optionally from a template
or with the migrations applied), yielded as a URL, dropped with FORCE afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@asynccontextmanager
async def scratch_database(
    server_url: str, *, template: str | None = None, migrate: bool = False, prefix: str = "dispatch_scratch"
) -> AsyncIterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await admin.close()
    url = with_database(server_url, name)
    try:
        if migrate:
            from hotline import db

            conn = await asyncpg.connect(url)
            try:
                await db.migrate(conn)
            finally:
                await conn.close()
        yield url
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

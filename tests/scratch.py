"""A throw-away database for benchmarks and tests: created (optionally from a template
or with the migrations applied), yielded as a URL, dropped with FORCE afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from hotline import db


@asynccontextmanager
async def scratch_database(
    server_url: str, *, template: str | None = None, migrate: bool = False, prefix: str = "dispatch_scratch"
) -> AsyncIterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = await db.create_database(server_url, name, template=template)
    try:
        if migrate:
            conn = await asyncpg.connect(url)
            try:
                await db.migrate(conn)
            finally:
                await conn.close()
        yield url
    finally:
        await db.drop_database(server_url, name)

"""Test fixtures on a real PostgreSQL and a real Redis.

DATABASE_URL / REDIS_URL when set, otherwise the embedded servers under
``var/test``. Migrations are applied once per run into a template database;
every test that asks for ``pool`` gets a fresh database cloned from it, and
every test that asks for ``redis`` a flushed Redis database.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from hotline import bus, db
from hotline.cli import DEFAULT_DIVISIONS
from hotline.embedded import Embedded, ensure_servers
from tests.api_helpers import TEST_INSTANCE
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# The recordings and division file from ../shared the tests read, copied so a clone runs its
# tests on its own; test_shared_copy checks the copy against ../shared wherever that exists.
SHARED_COPY = ROOT / "tests" / "data" / "shared"
TEST_REDIS_DB = 13  # keep test keys away from db 0 of a developer's Redis


@pytest.fixture(scope="session")
def servers() -> Iterator[Embedded]:
    emb = ensure_servers(
        os.environ.get("DATABASE_URL") or None, os.environ.get("REDIS_URL") or None, ROOT / "var" / "test"
    )
    yield emb
    emb.close()


@pytest.fixture(scope="session")
def template_db(servers: Embedded) -> Iterator[str]:
    """Name of a database holding every migration, cloned per test."""
    assert servers.database_url
    name = f"hotline_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        conn = await asyncpg.connect(await db.create_database(servers.database_url, name))
        try:
            await db.migrate(conn)
        finally:
            await conn.close()

    asyncio.run(create())
    yield name
    asyncio.run(db.drop_database(servers.database_url, name))


@pytest.fixture(scope="session")
def seeded_template_db(servers: Embedded, template_db: str) -> Iterator[str]:
    """A template with the 徐州 demo data (divisions, categories, units, users) on top of the migrations."""
    assert servers.database_url
    name = f"hotline_seeded_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def create() -> None:
        from hotline.seed import seed_demo

        await db.create_database(servers.database_url, name, template=template_db)
        conn = await asyncpg.connect(db.with_database(servers.database_url, name))
        try:
            await seed_demo(conn, DEFAULT_DIVISIONS)
        finally:
            await conn.close()

    asyncio.run(create())
    yield name
    asyncio.run(db.drop_database(servers.database_url, name))


async def _fresh_database(servers: Embedded, template: str) -> AsyncIterator[str]:
    assert servers.database_url
    name = f"hotline_t_{uuid.uuid4().hex[:12]}"
    yield await db.create_database(servers.database_url, name, template=template)
    await db.drop_database(servers.database_url, name)


@pytest.fixture
async def database_url(servers: Embedded, template_db: str) -> AsyncIterator[str]:
    """URL of a fresh, migrated, empty database for this test alone."""
    async for url in _fresh_database(servers, template_db):
        yield url


@pytest.fixture
async def seeded_database_url(servers: Embedded, seeded_template_db: str) -> AsyncIterator[str]:
    """URL of a fresh database holding the 徐州 demo data, for this test alone."""
    async for url in _fresh_database(servers, seeded_template_db):
        yield url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(database_url, min_size=1, max_size=10)
    yield p
    await p.close()


@pytest.fixture
async def seeded_pool(seeded_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(seeded_database_url, min_size=1, max_size=10)
    yield p
    await p.close()


@pytest.fixture
def redis_url(servers: Embedded) -> str:
    assert servers.redis_url
    url = servers.redis_url
    if url.startswith("unix://"):
        return f"{url}?db={TEST_REDIS_DB}"
    return db.with_database(url, str(TEST_REDIS_DB))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = bus.connect(redis_url, TEST_INSTANCE)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
async def _fail_on_loop_errors() -> AsyncIterator[None]:
    """A test fails if its event loop reported an unhandled exception (e.g. a task that died)."""
    errors: list[dict] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    yield
    loop.set_exception_handler(previous)
    assert not errors, f"unhandled exceptions in the event loop: {errors}"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED_COPY


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own that it may stop and restart."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()

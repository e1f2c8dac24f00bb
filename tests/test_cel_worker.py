"""The CEL worker: new rows by id after a stored cursor, a call written when its Linkedid ends,
safe to restart and to run twice, reading CEL from a separate database when told to."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from adapters.cel.importer import import_csv, load_rows
from adapters.cel.worker import CelWorker, resolve_node
from hotline import db
from hotline.embedded import Embedded
from tests.cel_helpers import asterisk_dir

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
NODE = "pbx1"


def _clock() -> datetime:
    return NOW


def _worker(pool: asyncpg.Pool, **kw) -> CelWorker:  # type: ignore[no-untyped-def]
    return CelWorker(pool, NODE, clock=_clock, interval=0.02, **kw)


def _parts(shared_dir: Path, tmp_path: Path, cut_at: list[int]) -> list[Path]:
    """The transfers export split after these line numbers (calls end in different parts)."""
    header, *lines = (asterisk_dir(shared_dir) / "transfers.cel.csv").read_text(encoding="utf-8").splitlines()
    bounds = [0, *cut_at, len(lines)]
    paths = []
    for n, (a, b) in enumerate(itertools.pairwise(bounds)):
        path = tmp_path / f"part{n}.csv"
        path.write_text("\n".join([header, *lines[a:b]]) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


async def _snapshot(pool: asyncpg.Pool) -> tuple[list[dict], list[dict]]:  # type: ignore[type-arg]
    calls = [
        {k: v for k, v in dict(r).items() if k not in ("id", "created_at", "updated_at")}
        for r in await pool.fetch("SELECT * FROM calls ORDER BY linkedid")
    ]
    legs = [
        dict(r)
        for r in await pool.fetch(
            "SELECT c.linkedid, a.seq, a.interface, a.queue, a.answered_at, a.talk_seconds, a.ended_by"
            " FROM call_agent_legs a JOIN calls c ON c.id = a.call_id ORDER BY 1, 2"
        )
    ]
    return calls, legs


async def test_a_call_is_written_when_its_linkedid_ends_and_the_cursor_moves(
    pool: asyncpg.Pool, shared_dir: Path, tmp_path: Path
) -> None:
    first, second = _parts(shared_dir, tmp_path, [100])
    worker = _worker(pool)
    async with pool.acquire() as conn:
        await load_rows(conn, first)
    assert await worker.step() == 100
    early = {r["linkedid"] for r in await pool.fetch("SELECT linkedid FROM calls")}
    assert 0 < len(early) < 5  # the calls still in progress have no record yet
    assert await worker.step() == 0
    restarted = _worker(pool)  # a new process: the cursor is in the database
    async with pool.acquire() as conn:
        await load_rows(conn, second)
    assert await restarted.step() == 87
    assert await pool.fetchval("SELECT last_id FROM cel_cursors WHERE name = 'cel'") == 983
    assert await pool.fetchval("SELECT count(*) FROM calls") == 5


async def test_two_workers_give_the_same_records_as_one_import(
    pool: asyncpg.Pool, database_url: str, shared_dir: Path, tmp_path: Path
) -> None:
    workers = [_worker(pool), _worker(pool)]
    for w in workers:
        await w.start()
    try:
        for part in _parts(shared_dir, tmp_path, [40, 90, 150]):
            async with pool.acquire() as conn:
                await load_rows(conn, part)
            await asyncio.sleep(0.05)
        for _ in range(500):
            if await pool.fetchval("SELECT last_id FROM cel_cursors") == 983:
                break
            await asyncio.sleep(0.02)
    finally:
        for w in workers:
            await w.stop()
    by_workers = await _snapshot(pool)
    assert len(by_workers[0]) == 5 and sum(w.calls_changed for w in workers) == 5  # each call written once
    async with pool.acquire() as conn:
        result = await import_csv(conn, conn, asterisk_dir(shared_dir) / "transfers.cel.csv", NODE, now=NOW)
    assert result.calls_changed == 0  # a rebuild finds nothing to change
    assert await _snapshot(pool) == by_workers


async def test_a_held_cursor_is_skipped_not_waited_for(pool: asyncpg.Pool) -> None:
    await pool.execute("INSERT INTO cel_cursors (name) VALUES ('cel')")
    async with pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM cel_cursors WHERE name = 'cel' FOR UPDATE")
        assert await asyncio.wait_for(_worker(pool).step(), 5) is None


@pytest.fixture
async def cel_database(servers: Embedded, template_db: str) -> AsyncIterator[str]:
    """Asterisk's own database, apart from ours (HOTLINE_CEL_DATABASE_URL)."""
    assert servers.database_url
    name = f"hotline_cel_{uuid.uuid4().hex[:12]}"
    yield await db.create_database(servers.database_url, name, template=template_db)
    await db.drop_database(servers.database_url, name)


async def test_cel_from_a_separate_database(pool: asyncpg.Pool, cel_database: str, shared_dir: Path) -> None:
    cel = await asyncpg.connect(cel_database)
    try:
        await load_rows(cel, asterisk_dir(shared_dir) / "transfers.cel.csv")
    finally:
        await cel.close()
    worker = _worker(pool, cel_url=cel_database)
    await worker.start()
    try:
        for _ in range(500):
            if await pool.fetchval("SELECT count(*) FROM calls WHERE source = 'cel'") == 5:
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
    assert await pool.fetchval("SELECT count(*) FROM calls") == 5
    assert await pool.fetchval("SELECT count(*) FROM cel") == 0  # nothing copied into ours


async def test_an_unreachable_cel_database_is_retried_without_moving_the_cursor(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    worker = _worker(pool, cel_url="postgresql://postgres@127.0.0.1:1/none")
    await worker.start()
    try:
        for _ in range(500):
            if sum("CEL pass failed" in r.getMessage() for r in caplog.records) >= 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
    assert sum("CEL pass failed" in r.getMessage() for r in caplog.records) >= 2
    assert await pool.fetchval("SELECT last_id FROM cel_cursors WHERE name = 'cel'") in (None, 0)


def test_the_node_defaults_to_the_only_ami_node() -> None:
    assert resolve_node("", "") == "pbx1"
    assert resolve_node("", "ami://u:p@h/pbx7") == "pbx7"
    assert resolve_node("", "ami://u:p@h/a,ami://u:p@h/b") == "pbx1"
    assert resolve_node("site2", "ami://u:p@h/a") == "site2"

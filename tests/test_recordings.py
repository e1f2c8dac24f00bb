"""GET /api/calls/{id}/recording: the MixMonitor file the call's events named, served from the
recordings directory with HTTP ranges, to supervisors and the agent who took the call, each fetch
in the personal-data access log; units, other agents and names leaving the directory are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from tests.ami_helpers import calls, replay_into
from tests.api_helpers import Client, running_server
from tests.test_api import assert_error
from tests.test_survey import _server

AUDIO = bytes(range(256)) * 40  # 10,240 bytes standing in for a WAV file
ASTERISK_DIR = "/var/spool/asterisk/monitor"  # the default HOTLINE_RECORDINGS_ASTERISK_DIR


@dataclass
class Bench:
    session: aiohttp.ClientSession
    base: str
    pool: asyncpg.Pool
    call_id: int  # a call agent1001 took, with its recording on disk
    other_id: int  # a call agent1002 took
    dir: Path

    async def as_user(self, username: str) -> Client:
        return await Client(self.session, self.base).login(username)


@asynccontextmanager
async def _bench(seeded_pool: asyncpg.Pool, database_url: str, redis_url: str, shared_dir: Path, files: Path,
                 **settings: Any) -> AsyncIterator[Bench]:  # fmt: skip
    """The survey calls replayed (with their MixMonitor names), the two agents' files written to
    ``files``, and a server with ``settings``."""
    await replay_into(seeded_pool, None, _server(shared_dir))
    rows = await calls(seeded_pool)
    by_agent = {r["agent_interface"].split("@")[0][-4:]: r for r in rows.values() if r["agent_interface"]}
    mine, other = by_agent["1001"], by_agent["1002"]
    # Asterisk names them in its monitor directory; this machine (or the file server) has them.
    assert mine["recording_file"].startswith(f"{ASTERISK_DIR}/") and mine["recording_file"].endswith(".wav")
    for r in (mine, other):
        (files / Path(r["recording_file"]).name).write_bytes(AUDIO)
    async with running_server(database_url, redis_url, **settings) as base, aiohttp.ClientSession() as session:
        yield Bench(session, base, seeded_pool, mine["id"], other["id"], files)


@pytest.fixture
async def bench(seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, shared_dir: Path,
                tmp_path: Path) -> AsyncIterator[Bench]:  # fmt: skip
    async with _bench(seeded_pool, seeded_database_url, redis_url, shared_dir, tmp_path,
                      recordings_dir=str(tmp_path)) as b:  # fmt: skip
        yield b


async def _get(client: Client, call_id: int, **headers: str) -> aiohttp.ClientResponse:
    auth = {"Authorization": f"Bearer {client.token}"}
    async with client.session.get(f"{client.base}/api/calls/{call_id}/recording", headers=auth | headers) as r:
        await r.read()
        return r


async def _looks(pool: asyncpg.Pool) -> list[tuple[str, int]]:
    rows = await pool.fetch(
        "SELECT username, call_id FROM personal_data_access WHERE 'recording' = ANY(fields) ORDER BY id"
    )
    return [(r["username"], r["call_id"]) for r in rows]


async def test_a_supervisor_gets_the_whole_file_and_any_range(bench: Bench) -> None:
    boss = await bench.as_user("supervisor")
    whole = await _get(boss, bench.call_id)
    assert whole.status == 200 and whole.headers["Content-Type"] == "audio/wav"
    assert whole.headers.get("Accept-Ranges") == "bytes" and int(whole.headers["Content-Length"]) == len(AUDIO)
    async with boss.session.get(
        f"{boss.base}/api/calls/{bench.call_id}/recording",
        headers={"Authorization": f"Bearer {boss.token}", "Range": "bytes=100-199"},
    ) as r:
        assert r.status == 206
        assert r.headers["Content-Range"] == f"bytes 100-199/{len(AUDIO)}"
        assert await r.read() == AUDIO[100:200]
    async with boss.session.get(
        f"{boss.base}/api/calls/{bench.call_id}/recording",
        headers={"Authorization": f"Bearer {boss.token}", "Range": "bytes=-16"},
    ) as r:
        assert r.status == 206 and await r.read() == AUDIO[-16:]
    beyond = await _get(boss, bench.call_id, Range=f"bytes={len(AUDIO) + 10}-")
    assert beyond.status == 416
    assert await _looks(bench.pool) == [("supervisor", bench.call_id)] * 4  # every fetch, ranges included


async def test_the_agent_who_took_the_call_and_nobody_else(bench: Bench) -> None:
    agent = await bench.as_user("agent1001")
    assert (await _get(agent, bench.call_id)).status == 200
    status, body = await agent.request("GET", f"/api/calls/{bench.other_id}/recording")
    assert_error(status, body, 403, "forbidden")
    unit = await bench.as_user("cgj")
    status, body = await unit.request("GET", f"/api/calls/{bench.call_id}/recording")
    assert status == 403
    status, body = await unit.request("GET", f"/api/calls/{bench.call_id}")
    assert status == 403  # nor the call record that names the file
    assert await _looks(bench.pool) == [("agent1001", bench.call_id)]


@pytest.mark.parametrize(
    "stored",
    ["../outside.wav", "/etc/passwd", "/var/spool/asterisk/monitor/../../../etc/passwd", "missing.wav"],
)
async def test_names_that_leave_the_directory_or_find_nothing_are_404(bench: Bench, stored: str) -> None:
    (bench.dir.parent / "outside.wav").write_bytes(b"secret")
    await bench.pool.execute("UPDATE calls SET recording_file = NULLIF($2, '') WHERE id = $1", bench.call_id, stored)
    boss = await bench.as_user("supervisor")
    status, body = await boss.request("GET", f"/api/calls/{bench.call_id}/recording")
    assert_error(status, body, 404, "not_found")
    assert await _looks(bench.pool) == []


async def test_a_relative_name_is_under_our_directory(bench: Bench) -> None:
    name = await bench.pool.fetchval("SELECT recording_file FROM calls WHERE id = $1", bench.call_id)
    await bench.pool.execute("UPDATE calls SET recording_file = $2 WHERE id = $1", bench.call_id, Path(name).name)
    boss = await bench.as_user("supervisor")
    assert (await _get(boss, bench.call_id)).status == 200


async def test_unknown_call_and_no_recordings_directory(seeded_database_url: str, redis_url: str) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        boss = await Client(session, base).login("supervisor")
        status, body = await boss.request("GET", "/api/calls/999999/recording")
        assert_error(status, body, 404, "not_found")
        status, body = await boss.request("GET", "/api/calls/1/recording")  # no HOTLINE_RECORDINGS_DIR here
        assert_error(status, body, 404, "not_found")

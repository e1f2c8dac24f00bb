"""GET /api/calls/{id}/recording: the MixMonitor file the call's events named, served from the
recordings directory with HTTP ranges, to supervisors and the agent who took the call, each fetch
in the personal-data access log; units, other agents and names leaving the directory are refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from adapters.ami.trace import load_trace
from adapters.cel.importer import import_csv
from hotline.config import ConfigError, load_settings
from tests.ami_helpers import NODE, calls, replay_into
from tests.api_helpers import Client, running_server
from tests.cel_helpers import asterisk_dir
from tests.range_server import FileServer, closed_port, file_server, silent_server
from tests.test_api import assert_error
from tests.test_survey import NOW, _server

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
    async with boss.session.get(
        f"{boss.base}/api/calls/{bench.call_id}/recording",
        headers={"Authorization": f"Bearer {boss.token}", "Range": f"bytes={len(AUDIO) + 10}-"},
    ) as beyond:
        # Our JSON error, as from the relay, with the size the player may ask within.
        assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{len(AUDIO)}"
        assert_error(beyond.status, await beyond.json(), 416, "range_not_satisfiable")
    assert await _looks(bench.pool) == [("supervisor", bench.call_id)] * 4  # every fetch, ranges included


async def test_a_range_the_file_cannot_give_is_our_json_416(bench: Bench) -> None:
    boss = await bench.as_user("supervisor")
    auth = {"Authorization": f"Bearer {boss.token}"}
    url = f"{boss.base}/api/calls/{bench.call_id}/recording"
    size = len(AUDIO)
    for asked, status in [
        (f"bytes={size}-", 416), ("bytes=abc", 416), ("items=0-5", 416), ("bytes=5-2", 416),
        ("bytes=0-1,5-6", 416),  # one range per answer is what is served from a file
        ("bytes=-99999", 206), (f"bytes={size - 1}-", 206), ("bytes=0-", 206),
    ]:  # fmt: skip
        async with boss.session.get(url, headers=auth | {"Range": asked}) as r:
            assert r.status == status, asked
            if status == 416:
                assert r.headers["Content-Range"] == f"bytes */{size}"
                assert_error(r.status, await r.json(), 416, "range_not_satisfiable")
                assert (await r.json())["error"]["details"] == {"size": size}
            else:
                assert (await r.read()) == AUDIO[-(int(r.headers["Content-Length"])) :]
    # A player whose copy is older than the file gets the whole new file, whatever range it asks.
    stale = {"Range": f"bytes={size + 10}-", "If-Range": "Wed, 21 Oct 2015 07:28:00 GMT"}
    async with boss.session.get(url, headers=auth | stale) as r:
        assert r.status == 200 and await r.read() == AUDIO


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


async def test_without_a_stored_name_and_no_name_setting_there_is_none(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, shared_dir: Path, tmp_path: Path
) -> None:
    async with _bench(seeded_pool, seeded_database_url, redis_url, shared_dir, tmp_path,
                      recordings_dir=str(tmp_path), recordings_name="") as bench:  # fmt: skip
        await bench.pool.execute("UPDATE calls SET recording_file = NULL WHERE id = $1", bench.call_id)
        boss = await bench.as_user("supervisor")
        status, body = await boss.request("GET", f"/api/calls/{bench.call_id}/recording")
        assert_error(status, body, 404, "not_found")
        assert await _looks(bench.pool) == []


# --- CEL-only calls: the file name the dialplan gives (HOTLINE_RECORDINGS_NAME) -------------------


def _mixmonitor_names(shared_dir: Path) -> dict[str, str]:
    """Linkedid → the MIXMONITOR_FILENAME the AMI recording told for the call."""
    trace = load_trace(asterisk_dir(shared_dir) / "survey.ami")
    return {
        m.get("Linkedid") or "": m.get("Value") or ""
        for m in trace.events("VarSet")
        if m.get("Variable") == "MIXMONITOR_FILENAME"
    }


async def _cel_calls(pool: asyncpg.Pool, shared_dir: Path) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        await import_csv(conn, conn, asterisk_dir(shared_dir) / "survey.cel.csv", NODE, now=NOW)
    return await pool.fetch(
        "SELECT c.id, c.linkedid, c.caller_uniqueid, c.recording_file, u.username FROM calls c"
        " LEFT JOIN users u ON u.id = c.agent_user_id ORDER BY c.linkedid"
    )


async def test_a_cel_only_call_has_the_file_the_dialplan_named(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, shared_dir: Path, tmp_path: Path
) -> None:
    rows = await _cel_calls(seeded_pool, shared_dir)
    told = _mixmonitor_names(shared_dir)
    assert rows and all(r["recording_file"] is None for r in rows)  # CEL never tells the name
    # The default name is what MixMonitor(${UNIQUEID}.wav) wrote on each call's caller leg.
    assert {r["linkedid"]: f"{ASTERISK_DIR}/{r['caller_uniqueid']}.wav" for r in rows} == told
    call = next(r for r in rows if r["username"] == "agent1001")
    (tmp_path / f"{call['caller_uniqueid']}.wav").write_bytes(AUDIO)
    async with (
        running_server(seeded_database_url, redis_url, recordings_dir=str(tmp_path)) as base,
        aiohttp.ClientSession() as session,
    ):
        agent = await Client(session, base).login("agent1001")
        r = await _get(agent, call["id"])
        assert r.status == 200 and int(r.headers["Content-Length"]) == len(AUDIO)
        other = next(r for r in rows if r["username"] not in (None, "agent1001"))
        status, _ = await agent.request("GET", f"/api/calls/{other['id']}/recording")
        assert status == 403
        boss = await Client(session, base).login("supervisor")
        status, body = await boss.request("GET", f"/api/calls/{other['id']}/recording")
        assert_error(status, body, 404, "not_found")  # its file is not on this machine
    assert await _looks(seeded_pool) == [("agent1001", call["id"])]


async def test_the_name_setting_can_use_the_linkedid_and_a_stored_name_wins(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, shared_dir: Path, tmp_path: Path
) -> None:
    rows = await _cel_calls(seeded_pool, shared_dir)
    first, second = rows[0], rows[1]
    (tmp_path / first["linkedid"]).mkdir()
    (tmp_path / first["linkedid"] / f"{first['caller_uniqueid']}.wav").write_bytes(AUDIO)
    (tmp_path / "told.wav").write_bytes(AUDIO[:10])
    await seeded_pool.execute("UPDATE calls SET recording_file = 'told.wav' WHERE id = $1", second["id"])
    settings = {"recordings_dir": str(tmp_path), "recordings_name": "{linkedid}/{uniqueid}.wav"}
    async with running_server(seeded_database_url, redis_url, **settings) as base, aiohttp.ClientSession() as session:
        boss = await Client(session, base).login("supervisor")
        assert (await _get(boss, first["id"])).headers["Content-Length"] == str(len(AUDIO))
        assert (await _get(boss, second["id"])).headers["Content-Length"] == "10"


@pytest.mark.parametrize(
    "template", ["{callerid}.wav", "{}.wav", "{0}.wav", "{uniqueid!r}.wav", "{uniqueid:>20}.wav", "{uniqueid",
                 "{uniqueid.real}", "fixed.wav"],
)  # fmt: skip
def test_a_bad_name_setting_stops_the_start(template: str) -> None:
    with pytest.raises(ConfigError, match="recordings_name"):
        load_settings(recordings_name=template)


@pytest.mark.parametrize("template", ["", "{uniqueid}.wav", "{linkedid}-{uniqueid}.gsm", "/mnt/{{x}}/{linkedid}.wav"])
def test_good_name_settings(template: str) -> None:
    assert load_settings(recordings_name=template).recordings_name == template


# --- from a file server: HOTLINE_RECORDINGS_URL ----------------------------------------------------


@dataclass
class Remote:
    bench: Bench
    files: FileServer


@pytest.fixture
async def remote(seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, shared_dir: Path,
                 tmp_path: Path) -> AsyncIterator[Remote]:  # fmt: skip
    async with file_server({}) as files:
        async with _bench(seeded_pool, seeded_database_url, redis_url, shared_dir, tmp_path,
                          recordings_url=f"{files.base}/monitor") as bench:  # fmt: skip
            # The file server has the monitor directory under /monitor/ (no trailing slash given).
            stored = await seeded_pool.fetch(
                "SELECT recording_file FROM calls WHERE id = ANY($1::bigint[])", [bench.call_id, bench.other_id]
            )
            files.files.update({f"/monitor/{Path(r['recording_file']).name}": AUDIO for r in stored})
            yield Remote(bench, files)


async def _ranged(client: Client, call_id: int, byte_range: str) -> tuple[aiohttp.ClientResponse, bytes]:
    headers = {"Authorization": f"Bearer {client.token}", "Range": byte_range}
    async with client.session.get(f"{client.base}/api/calls/{call_id}/recording", headers=headers) as r:
        return r, await r.read()


async def test_the_relay_answers_as_the_file_server_did(remote: Remote) -> None:
    bench = remote.bench
    boss = await bench.as_user("supervisor")
    whole = await _get(boss, bench.call_id)
    assert whole.status == 200 and int(whole.headers["Content-Length"]) == len(AUDIO)
    assert whole.headers["Content-Type"] == "audio/x-wav"  # the server's own type
    assert whole.headers["Accept-Ranges"] == "bytes" and whole.headers["Cache-Control"] == "private"
    for asked, expected, content_range in [
        ("bytes=100-199", AUDIO[100:200], f"bytes 100-199/{len(AUDIO)}"),
        ("bytes=-16", AUDIO[-16:], f"bytes {len(AUDIO) - 16}-{len(AUDIO) - 1}/{len(AUDIO)}"),
        (f"bytes={len(AUDIO) - 5}-", AUDIO[-5:], f"bytes {len(AUDIO) - 5}-{len(AUDIO) - 1}/{len(AUDIO)}"),
    ]:
        r, body = await _ranged(boss, bench.call_id, asked)
        assert (r.status, body, r.headers["Content-Range"]) == (206, expected, content_range)
        assert int(r.headers["Content-Length"]) == len(expected)
    r, body = await _ranged(boss, bench.call_id, "bytes=0-1,5-6")  # the server sends it all instead
    assert r.status == 200 and body == AUDIO
    r, body = await _ranged(boss, bench.call_id, "bytes=范围")  # not passed on: the whole file
    assert r.status == 200 and body == AUDIO
    r, body = await _ranged(boss, bench.call_id, f"bytes={len(AUDIO) + 10}-")
    assert r.status == 416 and r.headers["Content-Range"] == f"bytes */{len(AUDIO)}"
    assert_error(r.status, json.loads(body), 416, "range_not_satisfiable")
    auth = {"Authorization": f"Bearer {boss.token}"}
    async with boss.session.head(f"{boss.base}/api/calls/{bench.call_id}/recording", headers=auth) as r:
        assert (r.status, r.headers["Content-Length"], await r.read()) == (200, str(len(AUDIO)), b"")
    # The client's Range went through as sent, to the file the call's events named.
    name = Path(await bench.pool.fetchval("SELECT recording_file FROM calls WHERE id = $1", bench.call_id)).name
    assert [seen[1:] for seen in remote.files.seen[:-1]] == [
        (f"/monitor/{name}", None), (f"/monitor/{name}", "bytes=100-199"), (f"/monitor/{name}", "bytes=-16"),
        (f"/monitor/{name}", f"bytes={len(AUDIO) - 5}-"), (f"/monitor/{name}", "bytes=0-1,5-6"),
        (f"/monitor/{name}", None), (f"/monitor/{name}", f"bytes={len(AUDIO) + 10}-"),
    ]  # fmt: skip
    assert remote.files.seen[-1] == ("HEAD", f"/monitor/{name}", None)
    assert await _looks(bench.pool) == [("supervisor", bench.call_id)] * 8


async def test_the_relay_streams_before_the_file_server_has_sent_it_all(remote: Remote) -> None:
    bench = remote.bench
    big = bytes(range(256)) * 4096  # 1 MiB
    name = Path(await bench.pool.fetchval("SELECT recording_file FROM calls WHERE id = $1", bench.call_id)).name
    remote.files.files[f"/monitor/{name}"] = big
    remote.files.hold = asyncio.Event()  # the server sends half, then waits until we got bytes
    boss = await bench.as_user("supervisor")
    async with bench.session.get(
        f"{bench.base}/api/calls/{bench.call_id}/recording", headers={"Authorization": f"Bearer {boss.token}"}
    ) as r:
        assert r.status == 200 and int(r.headers["Content-Length"]) == len(big)
        first = await asyncio.wait_for(r.content.readexactly(1000), 5)
        remote.files.hold.set()
        assert first + await r.read() == big


async def test_a_file_server_that_breaks_off_cuts_the_answer_short(remote: Remote) -> None:
    bench = remote.bench
    remote.files.cut = True
    boss = await bench.as_user("supervisor")
    with pytest.raises(aiohttp.ClientPayloadError):
        await _get(boss, bench.call_id)
    remote.files.cut = False
    assert (await _get(boss, bench.call_id)).status == 200  # the server goes on serving


async def test_the_relay_keeps_the_access_rules(remote: Remote) -> None:
    bench = remote.bench
    agent = await bench.as_user("agent1001")
    assert (await _get(agent, bench.call_id)).status == 200
    status, body = await agent.request("GET", f"/api/calls/{bench.other_id}/recording")
    assert_error(status, body, 403, "forbidden")
    unit = await bench.as_user("cgj")
    status, body = await unit.request("GET", f"/api/calls/{bench.call_id}/recording")
    assert_error(status, body, 403, "forbidden")
    assert len(remote.files.seen) == 1  # the refused were never fetched
    assert await _looks(bench.pool) == [("agent1001", bench.call_id)]


@pytest.mark.parametrize(
    ("stored", "fetched"),
    [("../outside.wav", None), ("/etc/passwd", None), (f"{ASTERISK_DIR}/../x.wav", None),
     ("missing.wav", "/monitor/missing.wav"), (f"{ASTERISK_DIR}/录音 1#?.wav", "/monitor/录音 1#?.wav")],
)  # fmt: skip
async def test_names_that_leave_the_directory_or_the_server_lacks_are_404(
    remote: Remote, stored: str, fetched: str | None
) -> None:
    bench = remote.bench
    await bench.pool.execute("UPDATE calls SET recording_file = $2 WHERE id = $1", bench.call_id, stored)
    boss = await bench.as_user("supervisor")
    status, body = await boss.request("GET", f"/api/calls/{bench.call_id}/recording")
    assert_error(status, body, 404, "not_found")
    assert [seen[1] for seen in remote.files.seen] == ([fetched] if fetched else [])  # the name, encoded and back
    assert await _looks(bench.pool) == []


@pytest.mark.parametrize("upstream", [500, 403, 401])
async def test_a_file_server_that_will_not_give_the_file_is_503(remote: Remote, upstream: int) -> None:
    remote.files.status = upstream
    boss = await remote.bench.as_user("supervisor")
    status, body = await boss.request("GET", f"/api/calls/{remote.bench.call_id}/recording")
    assert_error(status, body, 503, "recordings_unavailable")
    assert body["error"]["details"] == {"upstream_status": upstream}
    assert await _looks(remote.bench.pool) == []


async def test_a_file_server_that_is_down_or_silent_is_503(seeded_pool: asyncpg.Pool, seeded_database_url: str,
                                                          redis_url: str) -> None:  # fmt: skip
    call_id = await seeded_pool.fetchval(
        "INSERT INTO calls (node, linkedid, caller_uniqueid, state) VALUES ('pbx1', '1.1', '1.2', 'ended') RETURNING id"
    )
    async with silent_server() as silent_port, aiohttp.ClientSession() as session:
        for url in (f"http://127.0.0.1:{closed_port()}/monitor/", f"http://127.0.0.1:{silent_port}/"):
            settings = {"recordings_url": url, "recordings_timeout": 0.5}
            async with running_server(seeded_database_url, redis_url, **settings) as base:
                boss = await Client(session, base).login("supervisor")
                status, body = await boss.request("GET", f"/api/calls/{call_id}/recording")
                assert_error(status, body, 503, "recordings_unavailable")
    assert await _looks(seeded_pool) == []


@pytest.mark.parametrize(
    ("url", "problem"),
    [("ftp://files.example/monitor/", "http"), ("http:///monitor/", "http"), ("files.example/monitor", "http"),
     ("http://files.example/monitor/?sig=1", "query"), ("http://files.example/m/#x", "query")],
)  # fmt: skip
def test_a_bad_recordings_url_stops_the_start(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"recordings_url.*{problem}"):
        load_settings(recordings_url=url)


def test_a_recordings_url_or_directory_not_both() -> None:
    with pytest.raises(ConfigError, match="not both"):
        load_settings(recordings_url="http://files.example/monitor/", recordings_dir="/mnt/monitor")
    assert load_settings(recordings_url="https://files.example/monitor").recordings_url == (
        "https://files.example/monitor/"
    )

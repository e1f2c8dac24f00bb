"""Acceptance: no call lost across an AMI outage. The client's own recording of a 20 s cut
(outage.client.ami: its events, the cut, its reconnect and new snapshot) is replayed over a real
socket into the adapter, then the same Asterisk's CEL export is loaded with ``cel import``:
every call of the truth (the facts read from an uncut connection) is there and right."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from adapters.ami.adapter import AmiAdapter
from adapters.ami.replay import client_recording_server
from adapters.cel.importer import import_csv
from tests.ami_helpers import NODE, SECRET, USER, node_for, settle
from tests.cel_helpers import agent_number, asterisk_dir, facts

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def _ts(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


async def _replay(pool: asyncpg.Pool, shared_dir: Path) -> AmiAdapter:
    server = client_recording_server(asterisk_dir(shared_dir) / "outage.client.ami", username=USER, secret=SECRET)
    await server.start()
    adapter = AmiAdapter([node_for(server)], pool, None)
    await adapter.start()
    try:
        await settle(adapter, server)
    finally:
        await adapter.stop()
        await server.close()
    assert server.logins == 2  # the cut happened and the adapter came back
    return adapter


async def test_every_call_of_the_truth_after_replay_with_cut_and_cel_import(
    pool: asyncpg.Pool, shared_dir: Path
) -> None:
    await _replay(pool, shared_dir)
    truth = {f["ami"]["linkedid"]: f["ami"] for f in facts(shared_dir, "outage")}
    seen_live = {r["linkedid"] for r in await pool.fetch("SELECT linkedid FROM calls")}
    assert seen_live < truth.keys()  # calls that began and ended inside the gap: AMI alone lost them

    async with pool.acquire() as conn:
        await import_csv(conn, conn, asterisk_dir(shared_dir) / "outage.cel.csv", NODE, now=NOW)

    rows = {r["linkedid"]: r for r in await pool.fetch("SELECT * FROM calls WHERE node = $1", NODE)}
    assert rows.keys() == truth.keys(), "missing or extra calls"
    for linkedid, want in truth.items():
        row = rows[linkedid]
        assert (row["state"], row["incomplete"], row["finalized_at"]) == ("ended", False, NOW), linkedid
        assert row["queue"] == want["queues"][0]
        assert row["outcome"] == ("abandoned" if want["abandoned"] else "answered")
        assert _ts(row["entered_at"]) == pytest.approx(want["entered"], abs=1.0)
        assert _ts(row["answered_at"]) == pytest.approx(want["answered"], abs=1.0)
        assert _ts(row["ended_at"]) == pytest.approx(want["ended"], abs=1.0)
        assert (row["caller_number"], row["caller_name"]) == (want["caller_num"], want["caller_name"])
        legs = await pool.fetch(
            "SELECT * FROM call_agent_legs WHERE call_id = $1 AND answered_at IS NOT NULL ORDER BY seq", row["id"]
        )
        assert [agent_number(leg["interface"]) for leg in legs] == want["agents"]
        for leg, said in zip(legs, want["legs"], strict=True):
            assert leg["queue"] == said["queue"]
            assert _ts(leg["answered_at"]) == pytest.approx(said["answered"], abs=1.0)
            assert float(leg["talk_seconds"]) == pytest.approx(said["talktime"], abs=1.0)
        if want["legs"]:
            assert row["talk_time"] == pytest.approx(sum(leg["talktime"] for leg in want["legs"]), abs=1.0)
        queues = await pool.fetch("SELECT queue FROM call_queue_legs WHERE call_id = $1 ORDER BY seq", row["id"])
        assert [q["queue"] for q in queues] == want["queues"]

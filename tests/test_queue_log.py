"""``queue-log import``: call records from queue_log for sites without CEL, reconciled with
what AMI recorded, checked against the queue_log view of the recordings' facts files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from adapters.ami.adapter import AmiAdapter
from adapters.ami.replay import client_recording_server
from adapters.cel.importer import load_rows
from adapters.queuelog.importer import QueueLogError, import_queue_log
from tests.ami_helpers import NODE, SECRET, USER, node_for, settle
from tests.cel_helpers import asterisk_dir, facts

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


async def _import(pool: asyncpg.Pool, path: Path):  # type: ignore[no-untyped-def]
    async with pool.acquire() as conn:
        return await import_queue_log(conn, path, NODE, now=NOW)


async def _talked(pool: asyncpg.Pool, call_id: int) -> list[str]:
    legs = await pool.fetch(
        "SELECT interface FROM call_agent_legs WHERE call_id = $1 AND answered_at IS NOT NULL ORDER BY seq", call_id
    )
    return [leg["interface"] for leg in legs]


async def test_queue_log_completes_what_ami_saw_across_the_outage(pool: asyncpg.Pool, shared_dir: Path) -> None:
    server = client_recording_server(asterisk_dir(shared_dir) / "outage.client.ami", username=USER, secret=SECRET)
    await server.start()
    adapter = AmiAdapter([node_for(server)], pool, None)
    await adapter.start()
    try:
        await settle(adapter, server)
    finally:
        await adapter.stop()
        await server.close()
    result = await _import(pool, asterisk_dir(shared_dir) / "outage.queue_log")
    truth = facts(shared_dir, "outage")
    assert result.calls == len(truth)
    rows = await pool.fetch("SELECT * FROM calls")
    assert len(rows) == len(truth)  # the calls AMI never saw are created (keyed by their queue channel)
    assert all(r["state"] == "ended" and not r["incomplete"] for r in rows)
    by_caller = {r["caller_number"]: r for r in rows}
    for fact in truth:
        want = fact["queue_log"]
        row = by_caller[fact["ami"]["caller_num"]]
        assert row["outcome"] == ("abandoned" if want["abandoned"] else "answered")
        assert [name.split()[-1] for name in await _talked(pool, row["id"])] == want["agents"]  # "Agent 1002"
        if want["completions"]:
            assert row["talk_time"] == sum(c["calltime"] for c in want["completions"])


async def test_with_cel_rows_to_map_channels_a_transfer_is_one_call(pool: asyncpg.Pool, shared_dir: Path) -> None:
    async with pool.acquire() as conn:
        await load_rows(conn, asterisk_dir(shared_dir) / "transfers.cel.csv")  # the mapping only, no rebuild
    result = await _import(pool, asterisk_dir(shared_dir) / "transfers.queue_log")
    assert result.calls == 5
    for fact in facts(shared_dir, "transfers"):
        row = await pool.fetchrow("SELECT * FROM calls WHERE linkedid = $1", fact["cel"]["linkedid"])
        assert row["source"] == "queue_log"
        talked = await _talked(pool, row["id"])
        assert len(talked) == len(fact["queue_log"]["agents"])
        queues = await pool.fetch("SELECT queue FROM call_queue_legs WHERE call_id = $1 ORDER BY seq", row["id"])
        assert [q["queue"] for q in queues] == fact["queue_log"]["queues"]
    again = await _import(pool, asterisk_dir(shared_dir) / "transfers.queue_log")
    assert again.calls_changed == 0


@pytest.mark.parametrize("bad", ["just one field", "yesterday|1.2|hotline|NONE|ENTERQUEUE||1|1"])
async def test_a_bad_line_is_named(pool: asyncpg.Pool, tmp_path: Path, bad: str) -> None:
    path = tmp_path / "queue_log"
    path.write_text("1796176167|1.2|hotline|NONE|ENTERQUEUE||139|1\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(QueueLogError, match="line 2"):
        await _import(pool, path)
    assert await pool.fetchval("SELECT count(*) FROM calls") == 0

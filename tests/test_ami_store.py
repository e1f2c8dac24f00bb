"""Upsert merge rules and node settings."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from adapters.ami.config import AmiConfigError, parse_nodes
from adapters.ami.records import CallRecord
from adapters.ami.store import load_open_calls, upsert_calls

T0 = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)


async def _row(pool: asyncpg.Pool) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM calls WHERE linkedid = '1.0'")


async def test_upserts_merge_without_regressing(pool: asyncpg.Pool) -> None:
    started = CallRecord(
        node="pbx1", linkedid="1.0", caller_uniqueid="1.1", caller_number="110", queue="q", entered_at=T0
    )
    ended = CallRecord(
        node="pbx1", linkedid="1.0", caller_uniqueid="1.1", caller_number="110", queue="q", entered_at=T0,
        state="ended", outcome="answered", answered_at=T0, ended_at=T0, talk_time=30, ring_no_answer=2,
        transfers=[{"type": "blind"}],
    )  # fmt: skip
    async with pool.acquire() as conn:
        await upsert_calls(conn, [started])
        await upsert_calls(conn, [ended])
        after_end = await _row(pool)
        await upsert_calls(conn, [started, ended, started])  # an old snapshot arriving late / a replay
    row = await _row(pool)
    assert dict(row) == dict(after_end)  # nothing regressed, and not even updated_at moved
    assert (row["state"], row["outcome"], row["talk_time"], row["ring_no_answer"]) == ("ended", "answered", 30, 2)
    assert row["transfers"] == [{"type": "blind"}]

    closed_unseen = CallRecord(node="pbx1", linkedid="1.0", state="ended", outcome="unknown", gap=True)
    async with pool.acquire() as conn:
        await upsert_calls(conn, [closed_unseen])
    row = await _row(pool)
    assert row["outcome"] == "answered" and row["incomplete"] is True and row["caller_number"] == "110"


async def test_agent_user_and_open_calls(pool: asyncpg.Pool) -> None:
    uid = await pool.fetchval(
        "INSERT INTO users (username, display_name, password_hash, role, agent_interface) "
        "VALUES ('a', 'a', 'x', 'agent', 'PJSIP/1001') RETURNING id"
    )
    rec = CallRecord(node="pbx1", linkedid="1.0", state="connected", agent_interface="PJSIP/1001", entered_at=T0)
    other_node = CallRecord(node="pbx2", linkedid="1.0", state="queued")
    async with pool.acquire() as conn:
        await upsert_calls(conn, [rec, other_node])
        assert (await _row(pool))["agent_user_id"] == uid
        [open_call] = await load_open_calls(conn, "pbx1")
    assert (open_call.linkedid, open_call.state, open_call.agent_interface) == ("1.0", "connected", "PJSIP/1001")
    assert open_call.incomplete
    assert await pool.fetchval("SELECT count(*) FROM calls") == 2  # (node, linkedid) is the key


def test_nodes_from_urls_and_json() -> None:
    [a, b] = parse_nodes("ami://hotline:p%40ss@10.0.0.5:5039/pbx1, ami://u:s@10.0.0.6/pbx2?ping_interval=3")
    assert (a.name, a.host, a.port, a.username, a.secret.get_secret_value()) == (
        "pbx1",
        "10.0.0.5",
        5039,
        "hotline",
        "p@ss",
    )
    assert (b.port, b.ping_interval) == (5038, 3.0)
    [c] = parse_nodes('[{"name": "pbx3", "host": "h", "username": "u", "secret": "hush-hush"}]')
    assert c.name == "pbx3" and "hush" not in repr(c)
    assert parse_nodes("  ") == []


@pytest.mark.parametrize(
    "value",
    [
        "http://u:s@h/pbx1",
        "ami://u:s@h/pbx1,ami://u:s@h2/pbx1",
        "ami://u:s@h/pbx1?ping_interval=0",
        "ami://u:s@h/pbx1?reconnect_min=10&reconnect_max=1",
        "ami://h/pbx1",
        "[{]",
    ],
)
def test_bad_node_settings_are_refused(value: str) -> None:
    with pytest.raises(AmiConfigError):
        parse_nodes(value)

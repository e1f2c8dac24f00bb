"""The adapter end to end: replay server → TCP → panoramisk → interpreter → PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest
from panoramisk.message import Message

from adapters.ami import interpreter as interpreter_module
from adapters.ami.adapter import AmiAdapter
from adapters.ami.protocol import HotlineAMIProtocol
from adapters.ami.replay import Cut, ReplayServer
from tests.ami_helpers import (
    NODE,
    SECRET,
    USER,
    calls,
    comparable,
    node_for,
    replay_into,
    settle,
    trace,
    trace_facts,
    wait_for,
)


def server_for(shared_dir: Path, name: str, **kwargs: Any) -> ReplayServer:
    return ReplayServer(trace(shared_dir, name), username=USER, secret=SECRET, **kwargs)


@pytest.mark.parametrize("name", ["basic", "burst", "latejoin"])
async def test_trace_over_tcp_gives_one_row_per_call(pool: asyncpg.Pool, shared_dir: Path, name: str) -> None:
    server = server_for(shared_dir, name)
    adapter = await replay_into(pool, None, server)
    t = server.trace
    facts = trace_facts(t)
    rows = await calls(pool)
    outcomes = Counter(r["outcome"] for r in rows.values())
    assert outcomes["answered"] == len(t.events("AgentConnect")) + (3 if name == "latejoin" else 0)
    assert outcomes["abandoned"] == len(t.events("QueueCallerAbandon"))
    assert sum(outcomes.values()) == len(rows)
    assert sorted(r["talk_time"] for r in rows.values() if r["outcome"] == "answered") == sorted(
        facts["talk_times"].elements()
    )
    for linkedid, talk in facts["talk_by_linkedid"].items():
        assert rows[linkedid]["talk_time"] == talk
    assert all(r["state"] == "ended" and r["ended_at"] is not None for r in rows.values())
    assert all(r["node"] == NODE for r in rows.values())
    if name == "latejoin":
        # every call was already up when we logged in: created from the snapshot, flagged incomplete
        assert len(rows) == 9 and all(r["incomplete"] for r in rows.values())
        assert all(r["entered_at"] <= r["answered_at"] < r["ended_at"] for r in rows.values())
        assert server.actions[:3] == ["Login", "CoreShowChannels", "QueueStatus"]
    else:
        assert set(rows) == facts["joined"]
        assert not any(r["incomplete"] for r in rows.values())
        for linkedid, row in rows.items():
            assert row["caller_number"] == facts["numbers"][linkedid]
            assert row["ring_no_answer"] == facts["ring_no_answer"].get(linkedid, 0)
    session = adapter.sessions[NODE]
    assert session.stats.events == server.events_sent == len(t.stream)
    assert session.stats.connects == 1 and session.stats.interpreter_errors == 0


class RecordingProtocol(HotlineAMIProtocol):
    reads: ClassVar[list[bytes]] = []

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        RecordingProtocol.reads.append(data)
        super().data_received(data)


async def test_chinese_names_split_across_reads_arrive_whole(pool: asyncpg.Pool, shared_dir: Path) -> None:
    server = server_for(shared_dir, "chinese-names", chunk_size=7)
    RecordingProtocol.reads = []
    await server.start()
    adapter = AmiAdapter([node_for(server)], pool, None, protocol_factory=RecordingProtocol)
    await adapter.start()
    try:
        await settle(adapter, server)
    finally:
        await adapter.stop()
        await server.close()
    split_reads = 0
    for data in RecordingProtocol.reads:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            split_reads += 1
    assert split_reads > 10, "the replay must really split characters across reads"
    facts = trace_facts(server.trace)
    rows = await calls(pool)
    assert {k: r["caller_name"] for k, r in rows.items()} == facts["names"]
    assert {"张三", "欧阳娜娜", "司马光"} <= set(facts["names"].values())


async def test_replaying_the_same_trace_twice_leaves_the_same_rows(pool: asyncpg.Pool, shared_dir: Path) -> None:
    await replay_into(pool, None, server_for(shared_dir, "basic"))
    first = await calls(pool)
    await replay_into(pool, None, server_for(shared_dir, "basic"))
    second = await calls(pool)
    assert len(second) == len(first) == 20
    # not even updated_at moved: every upsert of the second run merged into an identical row
    assert second == first
    assert await pool.fetchval("SELECT count(*) FROM calls") == 20


# What an interrupted connection costs, per call (basic.ami cut after K events, G events missed):
#  - a call entirely before the cut or after the resume: identical to the uncut run;
#  - a call entirely inside the gap: not recorded (only CEL/queue_log could bring it back);
#  - every other call: incomplete = true, and only these fields may differ from the uncut run:
GAP_MAY_DIFFER = {
    # ended in the gap: its end is not known; closed at the reconciliation's clock
    "ended": {"ended_at", "outcome", "talk_time", "complete_reason", "hangup_cause", "hangup_cause_txt",
              "ring_no_answer", "answered_at", "hold_time", "ring_time", "agent_interface", "agent_name",
              "abandon_position"},
    # up before the cut and after the resume: events of the gap are lost
    "across": {"ring_no_answer", "answered_at", "ring_time"},
    # started in the gap, up at the resume: created from the snapshot
    "started": {"entered_at", "recording_file", "ring_no_answer", "answered_at", "ring_time"},
    # up before the resume but queued after it: what came before the queue join is lost
    "prequeue": {"recording_file"},
}  # fmt: skip
K, G = 350, 300


def _lifetimes(server: ReplayServer) -> dict[str, tuple[int, int, int]]:
    """linkedid -> stream index of its first event, its QueueCallerJoin, its caller leg's Hangup."""
    stream = server.trace.stream
    caller = {m.get("Linkedid"): m.get("Uniqueid") for m in stream if m.event == "QueueCallerJoin"}
    join = {m.get("Linkedid"): i for i, m in enumerate(stream) if m.event == "QueueCallerJoin"}
    first: dict[str | None, int] = {}
    for i, m in enumerate(stream):
        first.setdefault(m.get("Linkedid") or m.get("LinkedID"), i)
    end = {
        m.get("Linkedid"): i
        for i, m in enumerate(stream)
        if m.event == "Hangup" and caller.get(m.get("Linkedid")) == m.get("Uniqueid")
    }
    return {linkedid: (first[linkedid], join[linkedid], end[linkedid]) for linkedid in caller}  # type: ignore[index]


async def test_cut_connection_reconnects_and_reconciles(pool: asyncpg.Pool, shared_dir: Path) -> None:
    await replay_into(pool, None, server_for(shared_dir, "basic"))
    uncut = await calls(pool)
    await pool.execute("DELETE FROM calls")

    server = server_for(shared_dir, "basic", cuts=[Cut(after_events=K, gap_events=G)])
    adapter = await replay_into(pool, None, server)
    cut = await calls(pool)
    stats = adapter.sessions[NODE].stats
    assert (server.connections, stats.logins, stats.reconcile_failures) == (2, 2, 0)
    assert len(server.skipped) == G and server.events_sent == len(server.trace.stream) - G

    kinds: dict[str, str] = {}
    for linkedid, (first, joined, ended) in _lifetimes(server).items():
        if ended < K or first >= K + G:
            kinds[linkedid] = "clean"
        elif joined >= K + G:
            kinds[linkedid] = "prequeue"
        elif joined >= K:
            kinds[linkedid] = "unseen" if ended < K + G else "started"
        else:
            kinds[linkedid] = "ended" if ended < K + G else "across"
    assert set(Counter(kinds.values())) == {"clean", "unseen", "ended", "across", "started", "prequeue"}

    assert set(cut) == {k for k, kind in kinds.items() if kind != "unseen"}
    last_seen = max(m.timestamp or 0 for m in server.trace.stream[:K])
    for linkedid, row in cut.items():
        kind, before = kinds[linkedid], uncut[linkedid]
        if kind == "clean":
            assert comparable(row) == comparable(before), linkedid
            continue
        assert row["incomplete"] is True, linkedid
        differing = {k for k, v in comparable(row).items() if v != before[k]} - {"incomplete"}
        assert differing <= GAP_MAY_DIFFER[kind], (linkedid, kind, differing)
        assert row["state"] == "ended" and row["ended_at"] is not None
        if kind == "ended":
            assert row["ended_at"].timestamp() >= last_seen
            assert row["outcome"] == ("answered" if row["answered_at"] else "unknown")
        if kind == "started":
            # estimated from QueueEntry Wait, then corrected by the HoldTime of AgentConnect / Abandon
            assert abs((row["entered_at"] - before["entered_at"]).total_seconds()) <= 1.5
        if row["answered_at"] is not None and before["answered_at"] is not None:
            assert abs((row["answered_at"] - before["answered_at"]).total_seconds()) <= 1.5


async def test_cut_mid_message_drops_only_that_message(pool: asyncpg.Pool, shared_dir: Path) -> None:
    t = trace(shared_dir, "basic")
    offset = sum(len(m.raw) for m in t.stream[:200]) + 50  # 50 bytes into event 200
    server = server_for(shared_dir, "basic", cuts=[Cut(at_byte=offset)])
    adapter = await replay_into(pool, None, server)
    assert server.connections == 2 and len(server.skipped) == 1
    assert adapter.sessions[NODE].stats.events == len(t.stream) - 1
    rows = await calls(pool)
    assert set(rows) == trace_facts(t)["joined"]
    assert all(r["state"] == "ended" for r in rows.values())


async def test_silent_server_is_detected_by_the_liveness_check(
    pool: asyncpg.Pool, shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = server_for(shared_dir, "basic", cuts=[Cut(after_events=400, silent=True)])
    caplog.set_level(logging.WARNING, logger="adapters.ami")
    adapter = await replay_into(pool, None, server, ping_interval=0.1, ping_timeout=0.2)
    stats = adapter.sessions[NODE].stats
    assert stats.liveness_failures == 1 and server.connections == 2
    assert server.actions.count("Ping") >= 1  # sent, never answered
    assert any("liveness check failed" in r.getMessage() for r in caplog.records)
    rows = await calls(pool)
    assert len(rows) == 20 and all(r["state"] == "ended" for r in rows.values())
    # no event was lost (the stream resumed where it went silent), but calls up during the
    # silence are flagged: we cannot know we missed nothing
    assert stats.events == len(server.trace.stream)
    assert any(r["incomplete"] for r in rows.values())


async def test_raising_handlers_do_not_kill_the_connection(
    pool: asyncpg.Pool, shared_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_interpreter_handler(*_: object) -> list[object]:
        raise RuntimeError("bug in a handler")

    monkeypatch.setitem(interpreter_module.HANDLERS, "AgentRingNoAnswer", broken_interpreter_handler)
    server = server_for(shared_dir, "basic")
    await server.start()
    adapter = AmiAdapter([node_for(server)], pool, None)
    await adapter.start()
    manager = adapter.sessions[NODE].manager

    def sync_boom(_manager: object, event: Message) -> None:
        if event.event == "QueueCallerJoin":
            raise ValueError("sync callback bug")

    async def async_boom(_manager: object, event: Message) -> None:
        raise ValueError("async callback bug")

    manager.register_event("*", sync_boom)
    manager.register_event("AgentConnect", async_boom)
    caplog.set_level(logging.ERROR, logger="adapters.ami")
    try:
        await settle(adapter, server)
        await asyncio.sleep(0.05)  # let the async callbacks finish
    finally:
        await adapter.stop()
        await server.close()
    t = server.trace
    stats = adapter.sessions[NODE].stats
    assert server.connections == 1 and stats.events == len(t.stream)
    assert stats.interpreter_errors == len(t.events("AgentRingNoAnswer")) == 3
    assert manager.callback_errors == len(t.events("QueueCallerJoin")) + len(t.events("AgentConnect"))
    rows = await calls(pool)
    assert len(rows) == 20 and all(r["ring_no_answer"] == 0 for r in rows.values())
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(getattr(r, "ami_event", None) == "AgentRingNoAnswer" and getattr(r, "linkedid", None) for r in logged)


async def test_refused_login_is_retried_and_stop_is_clean(pool: asyncpg.Pool, shared_dir: Path) -> None:
    server = server_for(shared_dir, "basic")
    await server.start()
    adapter = AmiAdapter([node_for(server, secret="wrong")], pool, None)
    await adapter.start()
    try:
        await wait_for(lambda: server.connections >= 3, 5.0, "login retries")
    finally:
        await adapter.stop()
        await server.close()
    assert adapter.sessions[NODE].stats.logins == 0 and server.logins == 0
    leftover = [t for t in asyncio.all_tasks() if t.get_name().startswith("ami-")]
    assert leftover == []


async def test_stop_while_streaming_stores_what_was_received(pool: asyncpg.Pool, shared_dir: Path) -> None:
    server = server_for(shared_dir, "burst", speed=50.0)
    await server.start()
    adapter = AmiAdapter([node_for(server)], pool, None)
    await adapter.start()
    try:
        await wait_for(lambda: adapter.sessions[NODE].stats.events > 2000, 10.0, "some events")
    finally:
        await adapter.stop()
        await server.close()
    rows = await calls(pool)
    assert 0 < len(rows) < 120
    assert adapter.writer.pending == 0
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("ami-")]


async def test_restart_adopts_open_calls_and_closes_them(pool: asyncpg.Pool, shared_dir: Path) -> None:
    """A process that dies mid-call leaves rows open; the next one reconciles them."""
    await pool.execute(
        """INSERT INTO calls (node, linkedid, caller_uniqueid, caller_number, queue, state, entered_at)
           VALUES ($1, 'gone.1', 'gone.2', '110', 'hotline', 'queued', now() - interval '1 minute')""",
        NODE,
    )
    await replay_into(pool, None, server_for(shared_dir, "basic"))
    row = (await calls(pool))["gone.1"]
    assert (row["state"], row["outcome"], row["incomplete"]) == ("ended", "unknown", True)
    assert row["ended_at"] is not None


async def test_healthy_idle_connection_answers_pings_and_stays(pool: asyncpg.Pool, shared_dir: Path) -> None:
    server = server_for(shared_dir, "latejoin")
    await server.start()
    adapter = AmiAdapter([node_for(server, ping_interval=0.05, ping_timeout=0.5)], pool, None)
    await adapter.start()
    try:
        await settle(adapter, server)
        await wait_for(lambda: server.pings >= 4, 5.0, "pings on an idle connection")
    finally:
        await adapter.stop()
        await server.close()
    stats = adapter.sessions[NODE].stats
    assert stats.liveness_failures == 0 and server.connections == 1

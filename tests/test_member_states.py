"""Queue members' states (示闲 / 示忙 / ringing / in a call / wrap-up / offline) from the recorded
``states`` scenario replayed over TCP, against the member timelines of its facts file; repaired
from QueueStatus after a reconnect; kept apart per node."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from adapters.ami.adapter import AmiAdapter
from adapters.ami.members import MemberBoard
from adapters.ami.replay import Cut
from tests.ami_helpers import node_for, replay_into, wait_for
from tests.member_helpers import (
    agrees,
    expected_timelines,
    member_key,
    state_at,
    states_facts,
    states_server,
    states_trace,
    timelines,
)

NODE = "pbx1"


async def test_every_member_timeline_is_the_recordings(pool: asyncpg.Pool, shared_dir: Path) -> None:
    await replay_into(pool, None, states_server(shared_dir))
    ours, facts = await timelines(pool, NODE), expected_timelines(shared_dir)
    assert set(ours) == set(facts) == {"hotline/1001", "hotline/1002", "hotline/1003", "hotline/1004",
                                       "hotline/1005", "expert/2001"}  # fmt: skip
    for key in facts:
        assert agrees(ours[key], facts[key]), (key, ours[key], facts[key])
    # 1002 paused while talking: in_call + paused, then paused (小休) once the call ended
    assert [o[1:4] for o in ours["hotline/1002"][2:5]] == [
        ("in_call", False, None), ("in_call", True, "小休"), ("paused", True, "小休")]  # fmt: skip


async def test_the_end_state_is_what_queue_status_said_at_the_end(pool: asyncpg.Pool, shared_dir: Path) -> None:
    await replay_into(pool, None, states_server(shared_dir))
    rows = {member_key(r["queue"], r["interface"]): r for r in await pool.fetch("SELECT * FROM member_states")}
    for end in states_facts(shared_dir)["status_end_vs_timeline"]:
        status, row = end["status_end"], rows[end["member"]]
        assert row["paused"] == (status["Paused"] == "1")
        assert row["state"] == ("paused" if status["Paused"] == "1" else "ready")
        assert row["calls_taken"] == int(status["CallsTaken"]), end["member"]
        assert row["node"] == NODE
    assert rows["hotline/1005"]["membership"] == "dynamic" and rows["hotline/1001"]["membership"] == "static"


def _first(shared_dir: Path, event: str, member: str) -> int:
    stream = states_trace(shared_dir).stream
    return next(i for i, m in enumerate(stream) if m.event == event and m.get("MemberName") == member)


async def test_a_pause_missed_while_disconnected_is_repaired_from_queue_status(
    pool: asyncpg.Pool, shared_dir: Path
) -> None:
    # The link drops just before 1004's pause (培训) and the pause is played to nobody: only the
    # QueueStatus asked on reconnecting can tell, and it must.
    pause = _first(shared_dir, "QueueMemberPause", "Agent 1004")
    server = states_server(shared_dir, cuts=[Cut(after_events=pause, gap_events=1)])
    await replay_into(pool, None, server)
    assert server.connections == 2 and [m.event for m in server.skipped] == ["QueueMemberPause"]
    ours = (await timelines(pool, NODE))["hotline/1004"]
    repaired = [o for o in ours if o[4] == "QueueStatus" and o[2]]
    # Paused with its reason. (The member was still ringing, but a Local channel's device state says
    # nothing of a ring, so QueueStatus cannot tell; the ring was ending paused anyway.)
    assert len(repaired) == 1 and repaired[0][1:4] == ("paused", True, "培训")
    # from there on the same changes as the recording: unpaused later, rung, …
    facts = expected_timelines(shared_dir)["hotline/1004"]
    assert [o[1:4] for o in ours[ours.index(repaired[0]) :]] == [f[1:] for f in facts[3:]]


async def test_a_member_removed_while_disconnected_goes_offline(pool: asyncpg.Pool, shared_dir: Path) -> None:
    removed = _first(shared_dir, "QueueMemberRemoved", "Agent 1005")
    server = states_server(shared_dir, cuts=[Cut(after_events=removed, gap_events=1)])
    await replay_into(pool, None, server)
    ours = (await timelines(pool, NODE))["hotline/1005"]
    assert [o[1] for o in ours[:3]] == ["ready", "offline", "paused"]  # added, gone (seen by QueueStatus), re-added
    assert ours[1][4] == "QueueStatus"


async def test_two_nodes_keep_their_members_apart(pool: asyncpg.Pool, shared_dir: Path) -> None:
    a, b = states_server(shared_dir), states_server(shared_dir)
    await a.start()
    await b.start()
    adapter = AmiAdapter([node_for(a, name="east"), node_for(b, name="west")], pool, None)
    await adapter.start()
    try:
        for name, server in (("east", a), ("west", b)):
            await asyncio.wait_for(server.done.wait(), 30)
            heard = adapter.sessions[name].stats
            await wait_for(lambda s=server, h=heard: h.events >= s.events_sent, 20, f"{name} to hear everything")
        await adapter.flush()
    finally:
        await adapter.stop()
        await a.close()
        await b.close()
    facts = expected_timelines(shared_dir)
    for node in ("east", "west"):
        ours = await timelines(pool, node)
        assert all(agrees(ours[k], facts[k]) for k in facts), node
    assert await pool.fetchval("SELECT count(*) FROM member_states") == 12


async def test_the_states_calls_from_cel_are_the_recordings(pool: asyncpg.Pool, shared_dir: Path) -> None:
    # CEL has no member state (the recording's README): through the CEL import the scenario's
    # calls come back whole, each with the agent who took it, whatever the members did meanwhile.
    from adapters.cel.importer import import_csv
    from tests.cel_helpers import facts

    async with pool.acquire() as conn:
        await import_csv(conn, conn, shared_dir / "asterisk" / "states.cel.csv", NODE, now=T0 + timedelta(days=1))
    rows = {r["linkedid"]: r for r in await pool.fetch("SELECT * FROM calls")}
    expected = {c["cel"]["linkedid"]: c["cel"]["agents"] for c in facts(shared_dir, "states")}
    assert len(rows) == len(expected) == 20
    for linkedid, agents in expected.items():
        row = rows[linkedid]
        # CEL names the agent by its channel (Local/1001@agents), the queue by its interface (…/n)
        assert row["outcome"] == "answered" and f"Local/{agents[-1]}@agents/n".startswith(row["agent_interface"])
    assert await pool.fetchval("SELECT count(*) FROM member_state_changes") == 0


# -- the board alone: what the recording does not show --------------------------------------

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
IFACE = "Local/1001@agents/n"


def _ev(name: str, **fields: str) -> dict[str, str]:
    return {"Event": name, "Queue": "hotline", "Interface": IFACE, "MemberName": "Agent 1001", **fields}


def _board(wrapup: int = 0) -> MemberBoard:
    board = MemberBoard("n", {"hotline": wrapup} if wrapup else {})
    board.snapshot([{"Event": "QueueMember", "Queue": "hotline", "Location": IFACE, "Name": "Agent 1001",
                     "Status": "1", "Paused": "0", "Wrapuptime": "0"}], T0)  # fmt: skip
    return board


def _at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_wrap_up_follows_a_call_for_the_queues_time_and_ends_on_time() -> None:
    board = _board(wrapup=10)
    board.feed(_ev("AgentCalled", Linkedid="L1"), _at(1))
    board.feed(_ev("AgentConnect", Linkedid="L1"), _at(2))
    [done] = board.feed(_ev("AgentComplete", Linkedid="L1", TalkTime="30"), _at(32))
    assert (done.state, done.calls_taken) == ("wrapup", 1)
    assert board.tick(_at(41)) == []
    [ready] = board.tick(_at(47))  # noticed late, dated when it ended
    assert (ready.state, ready.at, ready.event) == ("ready", _at(42), "WrapupEnd")


def test_the_members_own_wrap_up_time_wins_and_a_pause_in_wrap_up_shows_after_it() -> None:
    board = MemberBoard("n", {"hotline": 10})
    board.snapshot([{"Event": "QueueMember", "Queue": "hotline", "Location": IFACE, "Status": "1", "Paused": "0",
                     "Wrapuptime": "3"}], T0)  # fmt: skip
    board.feed(_ev("AgentConnect", Linkedid="L1"), _at(1))
    board.feed(_ev("AgentComplete"), _at(5))
    [paused] = board.feed(_ev("QueueMemberPause", Paused="1", PausedReason="后处理"), _at(6))
    assert (paused.state, paused.paused, paused.reason) == ("wrapup", True, "后处理")
    [after] = board.tick(_at(8))
    assert (after.state, after.at, after.reason) == ("paused", _at(8), "后处理")


def test_ringall_answered_elsewhere_or_abandoned_ends_every_ring() -> None:
    board = MemberBoard("n")
    other = "Local/1002@agents/n"
    for iface in (IFACE, other):
        board.feed({"Event": "AgentCalled", "Queue": "expert", "Interface": iface, "Linkedid": "L1"}, _at(1))
    changes = board.feed({"Event": "AgentConnect", "Queue": "expert", "Interface": IFACE, "Linkedid": "L1"}, _at(2))
    assert [(c.interface, c.state) for c in changes] == [(IFACE, "in_call"), (other, "ready")]
    board.feed({"Event": "AgentCalled", "Queue": "expert", "Interface": other, "Linkedid": "L2"}, _at(3))
    [gone] = board.feed({"Event": "QueueCallerAbandon", "Queue": "expert", "Linkedid": "L2"}, _at(4))
    assert (gone.interface, gone.state) == (other, "ready")


def test_events_that_name_no_member_change_nothing() -> None:
    board = _board()
    assert board.feed({"Event": "AgentCalled", "Queue": "hotline"}, _at(1)) == []
    assert board.feed({"Event": "QueueMemberPause", "Interface": IFACE}, _at(1)) == []
    assert board.feed({"Event": "Newexten", "Queue": "hotline", "Interface": IFACE}, _at(1)) == []
    assert board.feed(_ev("AgentRingNoAnswer"), _at(1)) == []  # not ringing: nothing to end


def test_a_snapshot_takes_members_asterisk_no_longer_has_offline_and_finds_their_calls() -> None:
    from adapters.ami.records import CallRecord

    board = _board()
    busy = CallRecord(node="n", linkedid="L9", state="connected", agent_interface="Local/1002@agents/n")
    changes = board.snapshot([{"Event": "QueueMember", "Queue": "hotline", "Location": "Local/1002@agents/n",
                               "Status": "2", "InCall": "0", "Paused": "1", "PausedReason": "会议"}],
                             _at(5), [busy])  # fmt: skip
    got = {(c.interface, c.state, c.paused, c.reason, c.linkedid) for c in changes}
    assert got == {(IFACE, "offline", False, None, None), ("Local/1002@agents/n", "in_call", True, "会议", "L9")}


def test_the_time_line_of_facts_is_readable_at_any_moment(shared_dir: Path) -> None:
    facts = expected_timelines(shared_dir)["hotline/1002"]
    assert state_at(facts, facts[3][0])[1:] == ("in_call", True, "小休")

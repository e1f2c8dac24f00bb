"""The pure interpreter and reconciliation, fed the real traces' messages (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from panoramisk.message import Message

from adapters.ami.interpreter import Interpreter
from adapters.ami.reconcile import Snapshot, agent_for_channel, reconcile
from adapters.ami.records import CallRecord, parse_timestamp
from adapters.ami.trace import Trace, TraceMessage
from tests.ami_helpers import trace, trace_facts

RECEIVED = datetime(2030, 1, 1, tzinfo=UTC)  # a receive time no trace event uses


def as_message(m: TraceMessage) -> Message:
    return Message.from_line(m.raw.decode("utf-8").strip())


def run(t: Trace, interp: Interpreter | None = None) -> tuple[Interpreter, dict[str, int]]:
    interp = interp or Interpreter("pbx1")
    kinds: dict[str, int] = {}
    for m in t.stream:
        for change in interp.feed(as_message(m), RECEIVED):
            kinds[change.kind] = kinds.get(change.kind, 0) + 1
    return interp, kinds


@pytest.mark.parametrize("name", ["basic", "burst", "chinese-names"])
def test_every_queued_call_becomes_one_finished_record(shared_dir: Path, name: str) -> None:
    t = trace(shared_dir, name)
    facts = trace_facts(t)
    interp, kinds = run(t)
    records = interp.recent
    assert not interp.active
    assert set(records) == facts["joined"]
    assert kinds["started"] == kinds["ended"] == len(facts["joined"])
    assert kinds["answered"] == len(facts["answered"])
    assert {k for k, r in records.items() if r.outcome == "answered"} == facts["answered"]
    assert {k for k, r in records.items() if r.outcome == "abandoned"} == facts["abandoned"]
    assert sorted(r.talk_time for r in records.values() if r.outcome == "answered") == sorted(
        facts["talk_times"].elements()
    )
    for linkedid, talk in facts["talk_by_linkedid"].items():
        assert records[linkedid].talk_time == talk
    for linkedid, rec in records.items():
        assert rec.caller_number == facts["numbers"][linkedid]
        assert rec.caller_name == facts["names"][linkedid]
        assert rec.ring_no_answer == facts["ring_no_answer"].get(linkedid, 0)
        assert rec.state == "ended" and not rec.incomplete
        assert rec.hangup_cause == 16 and rec.hangup_cause_txt == "Normal Clearing"
        assert rec.recording_file and rec.recording_file.endswith(f"{rec.caller_uniqueid}.wav")
        assert rec.entered_at is not None and rec.ended_at is not None and rec.entered_at < rec.ended_at
        assert rec.entered_at != RECEIVED  # times come from the events' Timestamp header


def test_basic_call_times_come_from_the_events(shared_dir: Path) -> None:
    t = trace(shared_dir, "basic")
    interp, _ = run(t)
    first = interp.recent["1795381243.0"]
    assert first.entered_at == parse_timestamp("1795381244.349842")  # QueueCallerJoin
    assert first.answered_at == parse_timestamp("1795381244.350892")  # AgentConnect
    assert first.ended_at == parse_timestamp("1795381244.852013")  # Hangup of the caller (queue) leg
    assert (first.agent_interface, first.agent_name, first.queue) == ("Local/1001@agents/n", "Agent 1001", "hotline")
    assert first.complete_reason == "caller"


def test_agent_complete_without_caller_fields_is_matched_by_agent(shared_dir: Path) -> None:
    """basic.ami has an AgentComplete sent after the caller leg was gone: no Linkedid in it."""
    t = trace(shared_dir, "basic")
    orphan = [m for m in t.events("AgentComplete") if not m.get("Linkedid")]
    assert len(orphan) == 1 and orphan[0].get("TalkTime") == "2"
    interp, _ = run(t)
    citizen11 = interp.recent["1795381246.30"]
    assert citizen11.caller_name == "Citizen 11"
    assert citizen11.talk_time == 2 and citizen11.complete_reason == "caller"


def test_events_without_timestamp_use_the_receive_time() -> None:
    interp = Interpreter("pbx1")
    join = {"Event": "QueueCallerJoin", "Linkedid": "1.1", "Uniqueid": "1.2", "Queue": "q", "CallerIDNum": "110"}
    [change] = interp.feed(join, RECEIVED)
    assert change.kind == "started" and change.call.entered_at == RECEIVED


def test_left_queue_unanswered_is_failed_and_transfers_are_kept() -> None:
    interp = Interpreter("pbx1")
    at = RECEIVED
    interp.feed({"Event": "QueueCallerJoin", "Linkedid": "9.0", "Uniqueid": "9.1", "Queue": "q"}, at)
    interp.feed({"Event": "QueueCallerLeave", "Linkedid": "9.0", "Uniqueid": "9.1", "Queue": "q"}, at)
    [ended] = interp.feed({"Event": "Hangup", "Linkedid": "9.0", "Uniqueid": "9.1", "Cause": "16"}, at)
    assert ended.kind == "ended" and ended.call.outcome == "failed"

    interp.feed({"Event": "QueueCallerJoin", "Linkedid": "8.0", "Uniqueid": "8.1", "Queue": "q"}, at)
    interp.feed(
        {
            "Event": "AgentConnect",
            "Linkedid": "8.0",
            "Uniqueid": "8.1",
            "Queue": "q",
            "Interface": "PJSIP/1001",
            "HoldTime": "3",
        },
        at,
    )
    [moved] = interp.feed(
        {
            "Event": "BlindTransfer",
            "TransfererLinkedid": "8.0",
            "Extension": "12319",
            "Context": "city",
            "Result": "Success",
        },
        at,
    )
    assert moved.call.transfers == [
        {"type": "blind", "at": at.isoformat(), "result": "Success", "context": "city", "extension": "12319"}
    ]
    [done] = interp.feed(
        {"Event": "AgentComplete", "Queue": "q", "Interface": "PJSIP/1001", "TalkTime": "40", "Reason": "transfer"}, at
    )
    assert done.call.talk_time == 40 and done.call.complete_reason == "transfer"
    assert len(done.call.transfers) == 1  # the BlindTransfer already says it; no duplicate


def test_results_are_snapshots() -> None:
    interp = Interpreter("pbx1")
    [started] = interp.feed({"Event": "QueueCallerJoin", "Linkedid": "7.0", "Uniqueid": "7.1", "Queue": "q"}, RECEIVED)
    interp.feed({"Event": "AgentRingNoAnswer", "Linkedid": "7.0", "Uniqueid": "7.1"}, RECEIVED)
    assert started.call.ring_no_answer == 0
    assert interp.active["7.0"].ring_no_answer == 1


def _latejoin_snapshot(t: Trace) -> Snapshot:
    groups = {g.action: g for g in t.groups}
    return Snapshot.from_messages(
        [as_message(m) for m in groups["CoreShowChannels"].messages],
        [as_message(m) for m in groups["QueueStatus"].messages],
    )


def test_latejoin_reconciliation_creates_the_calls_already_up(shared_dir: Path) -> None:
    t = trace(shared_dir, "latejoin")
    snap = _latejoin_snapshot(t)
    now = parse_timestamp("1795381364.141470")  # SuccessfulAuth, right after the snapshot
    assert now is not None
    interp = Interpreter("pbx1")
    changes = reconcile(interp, snap, now)
    queue_legs = [c for c in snap.channels if c.application == "Queue"]
    assert len(changes) == len(queue_legs) == 9
    assert all(c.kind == "started" and not c.live and c.call.incomplete for c in changes)
    connected = {c.call.linkedid: c.call for c in changes if c.call.state == "connected"}
    bridged = {c.linkedid for c in queue_legs if c.bridge_id}
    assert set(connected) == bridged and len(bridged) == 3
    # the agent comes from the bridge peer's channel, matched to a QueueMember
    assert {r.agent_name for r in connected.values()} == {"Agent 1001", "Agent 1002", "Agent 1003"}
    waiting = {c.call.linkedid: c.call for c in changes if c.call.state == "queued"}
    for entry in snap.entries:
        leg = next(c for c in queue_legs if c.uniqueid == entry.uniqueid)
        assert waiting[leg.linkedid].entered_at == now - timedelta(seconds=entry.wait or 0)

    # then the live events finish every call; the AgentComplete's times replace the estimates
    run(t, interp)
    facts = trace_facts(t)
    assert not interp.active and len(interp.recent) == 9
    for linkedid, talk in facts["talk_by_linkedid"].items():
        rec = interp.recent[linkedid]
        assert rec.outcome == "answered" and rec.talk_time == talk and rec.incomplete
        assert rec.entered_at is not None and rec.answered_at is not None
        assert rec.entered_at <= rec.answered_at < rec.ended_at  # type: ignore[operator]


def test_reconcile_closes_calls_gone_and_flags_calls_still_up() -> None:
    interp = Interpreter("pbx1")
    interp.feed({"Event": "QueueCallerJoin", "Linkedid": "1.0", "Uniqueid": "1.1", "Queue": "q"}, RECEIVED)
    interp.feed({"Event": "QueueCallerJoin", "Linkedid": "2.0", "Uniqueid": "2.1", "Queue": "q"}, RECEIVED)
    interp.feed(
        {
            "Event": "AgentConnect",
            "Linkedid": "2.0",
            "Uniqueid": "2.1",
            "Queue": "q",
            "Interface": "PJSIP/1",
            "HoldTime": "1",
        },
        RECEIVED,
    )
    interp.feed({"Event": "QueueCallerJoin", "Linkedid": "3.0", "Uniqueid": "3.1", "Queue": "q"}, RECEIVED)
    assert interp.mark_gap() == 3
    later = RECEIVED + timedelta(minutes=2)
    snap = Snapshot.from_messages(
        [
            {"Event": "CoreShowChannel", "Uniqueid": "3.1", "Linkedid": "3.0", "Channel": "PJSIP/trunk-1",
             "Application": "Queue", "ApplicationData": "q", "BridgeId": "b1"},
            {"Event": "CoreShowChannel", "Uniqueid": "3.2", "Linkedid": "3.0", "Channel": "PJSIP/1002-0000000a",
             "Application": "AppQueue", "BridgeId": "b1"},
        ],
        [{"Event": "QueueMember", "Queue": "q", "Name": "Agent 1002", "Location": "PJSIP/1002"}],
    )  # fmt: skip
    changes = {c.call.linkedid: c for c in reconcile(interp, snap, later)}
    assert changes["1.0"].kind == "ended" and changes["1.0"].call.outcome == "unknown"
    assert changes["2.0"].kind == "ended" and changes["2.0"].call.outcome == "answered"
    assert changes["1.0"].call.ended_at == later and changes["1.0"].call.incomplete
    still = changes["3.0"].call
    assert still.state == "connected" and still.agent_name == "Agent 1002" and still.incomplete
    # a late Hangup of a call closed by the reconciliation corrects its end
    [late] = interp.feed({"Event": "Hangup", "Linkedid": "1.0", "Uniqueid": "1.1", "Cause": "16"}, later)
    assert late.kind == "updated" and late.call.hangup_cause == 16


def test_reconcile_closes_a_call_whose_caller_leg_is_gone_while_other_legs_linger() -> None:
    """The old rule kept a call open while any channel shared its Linkedid (4 calls left queued)."""
    interp = Interpreter("pbx1")
    interp.feed({"Event": "QueueCallerJoin", "Linkedid": "5.0", "Uniqueid": "5.1", "Queue": "q"}, RECEIVED)
    interp.mark_gap()
    snap = Snapshot.from_messages(
        [{"Event": "CoreShowChannel", "Uniqueid": "5.7", "Linkedid": "5.0", "Channel": "Local/1001@agents-0a;1",
          "Application": "AppQueue", "BridgeId": ""}],
    )  # fmt: skip
    [change] = reconcile(interp, snap, RECEIVED + timedelta(seconds=30))
    assert change.kind == "ended" and change.call.state == "ended" and "5.0" not in interp.active


def test_feed_survives_bad_values() -> None:
    interp = Interpreter("pbx1")
    [join] = interp.feed(
        {"Event": "QueueCallerJoin", "Linkedid": ["6.0", "junk"], "Uniqueid": "6.1", "Queue": "q", "Timestamp": "nan"},
        RECEIVED,
    )
    assert join.call.linkedid == "6.0" and join.call.entered_at == RECEIVED and join.call.incomplete
    [answer] = interp.feed(
        {"Event": "AgentConnect", "Linkedid": "6.0", "Queue": "q", "HoldTime": "-3", "RingTime": "x"}, RECEIVED
    )
    assert (answer.call.hold_time, answer.call.ring_time) == (0, None)


def test_agent_for_channel_matches_local_and_pjsip_members() -> None:
    snap = Snapshot.from_messages(
        [
            {"Event": "QueueMember", "Queue": "q", "Name": "A", "Location": "Local/1001@agents/n"},
            {"Event": "QueueMember", "Queue": "q", "Name": "B", "Location": "PJSIP/1002"},
        ]
    )
    a = agent_for_channel("Local/1001@agents-000000b1;1", snap.members)
    b = agent_for_channel("PJSIP/1002-0000001a", snap.members)
    assert a is not None and a.name == "A"
    assert b is not None and b.name == "B"
    assert agent_for_channel("PJSIP/10021-0000001a", snap.members) is None


def test_adopted_open_calls_are_incomplete() -> None:
    interp = Interpreter("pbx1")
    interp.adopt([CallRecord(node="pbx1", linkedid="5.0", caller_uniqueid="5.1", queue="q")])
    assert interp.active["5.0"].incomplete

"""Reconciliation after every login: fold a ``CoreShowChannels`` + ``QueueStatus``
snapshot into the interpreter's state. Pure: no I/O, time passed in.

What it can know (and what it cannot), per call:
- live in memory, its caller leg gone from the snapshot: it ended while we were not listening
  (other channels of its Linkedid may linger, e.g. an agent leg still hanging up: they do not
  keep the call open).
  Closed at ``now`` (the earliest moment we *know* it had ended), outcome
  ``answered`` if we had seen it answered, else ``unknown``; flagged incomplete.
- live in memory and in the snapshot: still up; flagged incomplete (events of
  the gap are lost). If its caller leg is now bridged it was answered unseen: the
  agent is taken from the bridge peer; AgentComplete later gives talk/hold time.
- in the snapshot (caller leg in ``Queue()``), unknown to us: it started while we
  were not listening. Created with ``entered_at = now - QueueEntry.Wait`` (or the
  channel's age), flagged incomplete.
- up but not yet in a queue (IVR): remembered; when it joins, its record is flagged
  incomplete (what happened before the join, e.g. MixMonitorStart, was missed).
- started *and* ended while we were not listening: invisible here. Only CEL or
  queue_log can bring it back (DESIGN §9).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.ami.interpreter import Interpreter, final_outcome
from adapters.ami.records import CallChange, CallRecord, parse_duration, parse_int

_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;\d+)?$")


@dataclass(frozen=True)
class ChannelInfo:
    channel: str
    uniqueid: str
    linkedid: str
    caller_number: str | None
    caller_name: str | None
    application: str
    application_data: str
    bridge_id: str
    duration: int | None


@dataclass(frozen=True)
class QueueEntryInfo:
    queue: str
    uniqueid: str
    wait: int | None


@dataclass(frozen=True)
class MemberInfo:
    queue: str
    name: str | None
    interface: str
    state_interface: str | None


@dataclass
class Snapshot:
    channels: list[ChannelInfo] = field(default_factory=list)
    entries: list[QueueEntryInfo] = field(default_factory=list)
    members: list[MemberInfo] = field(default_factory=list)

    @classmethod
    def from_messages(cls, *responses: Iterable[Mapping[str, Any]]) -> Snapshot:
        """Build from the messages answering CoreShowChannels and QueueStatus (any order)."""
        snap = cls()
        for messages in responses:
            for m in messages:
                name = m.get("Event")
                if name == "CoreShowChannel":
                    snap.channels.append(
                        ChannelInfo(
                            channel=m.get("Channel") or "",
                            uniqueid=m.get("Uniqueid") or "",
                            linkedid=m.get("Linkedid") or m.get("Uniqueid") or "",
                            caller_number=_cid(m.get("CallerIDNum")),
                            caller_name=_cid(m.get("CallerIDName")),
                            application=m.get("Application") or "",
                            application_data=m.get("ApplicationData") or "",
                            bridge_id=m.get("BridgeId") or "",
                            duration=parse_duration(m.get("Duration")),
                        )
                    )
                elif name == "QueueEntry":
                    snap.entries.append(
                        QueueEntryInfo(
                            queue=m.get("Queue") or "", uniqueid=m.get("Uniqueid") or "", wait=parse_int(m.get("Wait"))
                        )
                    )
                elif name == "QueueMember":
                    interface = m.get("Location") or m.get("Interface") or ""
                    snap.members.append(
                        MemberInfo(
                            queue=m.get("Queue") or "",
                            name=m.get("Name") or m.get("MemberName"),
                            interface=interface,
                            state_interface=m.get("StateInterface"),
                        )
                    )
        return snap


def _cid(value: str | None) -> str | None:
    return None if not value or value == "<unknown>" else value


def agent_for_channel(channel: str, members: list[MemberInfo]) -> MemberInfo | None:
    """``Local/1002@agents-000000b3;1`` or ``PJSIP/1002-0000001a`` → the queue member it belongs to."""
    base = _CHANNEL_SUFFIX.sub("", channel)
    for member in members:
        for iface in (member.interface, member.state_interface):
            if iface and (iface == base or iface.startswith(base + "/")):
                return member
    return None


def reconcile(interp: Interpreter, snap: Snapshot, now: datetime) -> list[CallChange]:
    """Apply a snapshot taken at ``now`` (node clock). Returns the changes to persist."""
    changes: list[CallChange] = []
    by_linkedid: dict[str, list[ChannelInfo]] = {}
    for ch in snap.channels:
        by_linkedid.setdefault(ch.linkedid, []).append(ch)
    by_bridge: dict[str, list[ChannelInfo]] = {}
    for ch in snap.channels:
        if ch.bridge_id:
            by_bridge.setdefault(ch.bridge_id, []).append(ch)
    waits = {e.uniqueid: e for e in snap.entries}

    def answered_by(caller: ChannelInfo) -> MemberInfo | None:
        for peer in by_bridge.get(caller.bridge_id, []) if caller.bridge_id else []:
            if peer.uniqueid != caller.uniqueid:
                member = agent_for_channel(peer.channel, snap.members)
                if member is not None:
                    return member
        return None

    for rec in list(interp.active.values()):
        rec.gap = True
        legs = by_linkedid.get(rec.linkedid) or []
        caller_up = any(c.uniqueid == rec.caller_uniqueid for c in legs) if rec.caller_uniqueid else bool(legs)
        if not caller_up:
            rec.ended_at = now
            rec.state = "ended"
            rec.outcome = final_outcome(rec)
            interp.retire(rec)
            changes.append(CallChange("ended", rec.snapshot(), live=False))
            continue
        caller = next((c for c in legs if c.uniqueid == rec.caller_uniqueid), None)
        if caller is not None and caller.bridge_id and rec.state == "queued":
            _mark_answered(rec, answered_by(caller))
            interp.note_agent(rec)
        changes.append(CallChange("updated", rec.snapshot(), live=False))

    queued = {ch.linkedid for ch in snap.channels if ch.application.lower() == "queue"}
    for linkedid in by_linkedid.keys() - queued - interp.active.keys():
        interp.note_unqueued(linkedid)
    for ch in snap.channels:
        if ch.application.lower() != "queue" or ch.linkedid in interp.active:
            continue
        entry = waits.get(ch.uniqueid)
        wait = entry.wait if entry is not None else ch.duration
        rec = CallRecord(
            node=interp.node,
            linkedid=ch.linkedid,
            caller_uniqueid=ch.uniqueid,
            caller_channel=ch.channel,
            caller_number=ch.caller_number,
            caller_name=ch.caller_name,
            queue=entry.queue if entry is not None else (ch.application_data.split(",", 1)[0] or None),
            entered_at=now - timedelta(seconds=wait or 0),
            seen_from_start=False,
        )
        if ch.bridge_id:
            _mark_answered(rec, answered_by(ch))
        interp.start(rec)
        interp.note_agent(rec)
        changes.append(CallChange("started", rec.snapshot(), live=False))
    return changes


def _mark_answered(rec: CallRecord, member: MemberInfo | None) -> None:
    rec.state = "connected"
    rec.outcome = "answered"
    rec.left_queue = True
    if member is not None:
        rec.agent_interface = member.interface
        rec.agent_name = member.name

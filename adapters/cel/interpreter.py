"""Turn one Linkedid's CEL rows into a call with its legs: a pure fold, no I/O.

``interpret(rows)`` feeds the rows (in ``id`` order) through ``HANDLERS``, a dispatch table by
eventtype that fills per-channel facts, then assembles the call from them. The rules are those
of Asterisk 22's own streams (see ../shared/asterisk/README.md), not of one recording:

- a **queue segment** is a run of one channel's rows whose ``Queue`` appdata names the same
  queue. A Redirect or a blind transfer into another queue shows no APP_END/APP_START, only
  the appdata changing; an attended transfer runs a second ``Queue`` on a new channel.
- an **agent leg** is a channel app_queue dialled (its rows carry appname ``AppQueue``). It
  talked from its first BRIDGE_ENTER to its last BRIDGE_EXIT (its own bridge time: after a
  Redirect, AgentComplete's TalkTime covers the rest of the call, so it is not used). Its queue
  is that of the ``Queue`` row entering the same bridge (by ``extra.bridge_id``: the caller's
  ``peer`` is sometimes empty).
- a leg that never bridged rang: unanswered, or cancelled when the call went elsewhere.
- how a talking leg ended: a BLINDTRANSFER or ATTENDEDTRANSFER row on its channel; a Redirect
  when its caller went on into another queue with no transfer row; else whoever left the
  bridge first hung up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.ami.survey import SURVEY_EVENT, survey_key
from adapters.cel.rows import CelRow

CANCEL_WINDOW = timedelta(seconds=0.5)  # a ringing leg hung up this soon after the call moved on was cancelled
ABANDON_WINDOW = timedelta(seconds=1)  # a caller gone this soon after its last queue row hung up in the queue
_INSTANCE_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;\d+)?$")


def interface_of(channel: str) -> str:
    """``Local/1001@agents-00000049;1`` → ``Local/1001@agents``; ``PJSIP/1001-0000001a`` → ``PJSIP/1001``."""
    return _INSTANCE_SUFFIX.sub("", channel)


@dataclass
class QueueRun:
    queue: str
    uniqueid: str
    channel: str
    joined_at: datetime
    last_at: datetime


@dataclass
class Bridge:
    bridge_id: str
    entered_at: datetime
    exited_at: datetime | None = None


@dataclass
class Channel:
    uniqueid: str
    name: str
    first_at: datetime
    started_at: datetime | None = None
    hangup_at: datetime | None = None
    hangup_cause: int | None = None
    cid_num: str = ""
    cid_name: str = ""
    dialled_by_queue: bool = False
    runs: list[QueueRun] = field(default_factory=list)
    bridges: list[Bridge] = field(default_factory=list)


@dataclass
class QueueSegment:
    seq: int
    queue: str
    channel: str
    uniqueid: str
    joined_at: datetime
    left_at: datetime
    outcome: str  # answered / abandoned / left
    agent_leg: int | None = None  # seq of the agent leg that answered here


@dataclass
class AgentLeg:
    seq: int
    queue: str | None
    channel: str
    uniqueid: str
    interface: str
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    wait_seconds: float | None
    talk_seconds: float | None
    ended_by: str


@dataclass
class CelCall:
    linkedid: str
    caller_uniqueid: str
    caller_channel: str
    caller_number: str | None
    caller_name: str | None
    queue: str
    entered_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    outcome: str  # answered / abandoned / failed
    hold_time: int | None
    talk_time: int | None
    ring_no_answer: int
    agent_interface: str | None
    complete_reason: str | None
    hangup_cause: int | None
    transfers: list[dict[str, Any]]
    queue_legs: list[QueueSegment]
    agent_legs: list[AgentLeg]
    last_row_id: int
    survey_digit: str | None = None  # the end-of-call survey's key (USER_DEFINED HotlineSurvey)
    survey_at: datetime | None = None  # None: no survey was played on this call
    survey_garbled: bool = False  # a survey row told a value that is not one key (not stored; flags the call)

    @property
    def survey_source(self) -> str | None:
        return "cel" if self.survey_at is not None else None


class _Fold:
    """Per-channel facts of one Linkedid, filled row by row."""

    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.bridge_queue: dict[str, tuple[str, str]] = {}  # bridge_id -> (queue, caller uniqueid)
        self.transfers: list[tuple[str, CelRow]] = []
        self.ended_at: datetime | None = None
        self.survey: tuple[str | None, datetime] | None = None
        self.survey_garbled = False
        self.linkedid = ""
        self.last_id = 0

    def channel(self, row: CelRow) -> Channel:
        ch = self.channels.get(row.uniqueid)
        if ch is None:
            ch = self.channels[row.uniqueid] = Channel(row.uniqueid, row.channame, row.eventtime)
        if row.cid_num and not ch.cid_num:
            ch.cid_num, ch.cid_name = row.cid_num, row.cid_name
        if row.appname == "AppQueue":
            ch.dialled_by_queue = True
        queue = row.queue
        if queue is not None:
            last = ch.runs[-1] if ch.runs else None
            if last is not None and last.queue == queue:
                last.last_at = row.eventtime
            else:
                ch.runs.append(QueueRun(queue, row.uniqueid, row.channame, row.eventtime, row.eventtime))
        return ch

    def feed(self, row: CelRow) -> None:
        self.linkedid = row.linkedid
        self.last_id = max(self.last_id, row.id)
        ch = self.channel(row)
        handler = HANDLERS.get(row.eventtype)
        if handler is not None:
            handler(self, ch, row)

    # -- handlers ---------------------------------------------------------------------------------

    def on_chan_start(self, ch: Channel, row: CelRow) -> None:
        ch.started_at = row.eventtime

    def on_bridge_enter(self, ch: Channel, row: CelRow) -> None:
        bridge_id = str(row.extra_json().get("bridge_id") or "")
        ch.bridges.append(Bridge(bridge_id, row.eventtime))
        if row.queue is not None and bridge_id and bridge_id not in self.bridge_queue:
            self.bridge_queue[bridge_id] = (row.queue, row.uniqueid)

    def on_bridge_exit(self, ch: Channel, row: CelRow) -> None:
        bridge_id = str(row.extra_json().get("bridge_id") or "")
        for bridge in reversed(ch.bridges):
            if bridge.exited_at is None and bridge.bridge_id == bridge_id:
                bridge.exited_at = row.eventtime
                return

    def on_hangup(self, ch: Channel, row: CelRow) -> None:
        ch.hangup_at = row.eventtime
        cause = row.extra_json().get("hangupcause")
        ch.hangup_cause = cause if isinstance(cause, int) and 0 <= cause < 1000 else None

    def on_transfer(self, ch: Channel, row: CelRow) -> None:
        self.transfers.append(("blind" if row.eventtype == "BLINDTRANSFER" else "attended", row))

    def on_linkedid_end(self, ch: Channel, row: CelRow) -> None:
        self.ended_at = row.eventtime

    def on_user_defined(self, ch: Channel, row: CelRow) -> None:
        # CELGenUserEvent(HotlineSurvey,${SAT}): the key is extra's "extra" (appdata repeats it).
        if row.userdeftype != SURVEY_EVENT:
            return
        told = row.extra_json().get("extra")
        digit, believable = survey_key(told if isinstance(told, str) else None)
        self.survey_garbled = self.survey_garbled or not believable
        # The first telling wins, except that a key beats an earlier "no key" (silence or garble).
        if self.survey is None or (self.survey[0] is None and digit is not None):
            self.survey = (digit, row.eventtime)


HANDLERS: dict[str, Callable[[_Fold, Channel, CelRow], None]] = {
    "CHAN_START": _Fold.on_chan_start,
    "BRIDGE_ENTER": _Fold.on_bridge_enter,
    "BRIDGE_EXIT": _Fold.on_bridge_exit,
    "HANGUP": _Fold.on_hangup,
    "BLINDTRANSFER": _Fold.on_transfer,
    "ATTENDEDTRANSFER": _Fold.on_transfer,
    "LINKEDID_END": _Fold.on_linkedid_end,
    "USER_DEFINED": _Fold.on_user_defined,
}


def interpret(rows: Iterable[CelRow]) -> CelCall | None:
    """The call of one Linkedid's rows, or None while it has not ended (no LINKEDID_END) or when
    it never entered a queue (click-to-call and internal calls are not queue calls)."""
    fold = _Fold()
    for row in sorted(rows, key=lambda r: r.id):
        fold.feed(row)
    if fold.ended_at is None:
        return None
    runs = sorted((run for ch in fold.channels.values() for run in ch.runs), key=lambda r: r.joined_at)
    if not runs:
        return None
    return _assemble(fold, runs)


def _assemble(fold: _Fold, runs: list[QueueRun]) -> CelCall:
    assert fold.ended_at is not None
    caller = fold.channels[runs[0].uniqueid]
    segments = [
        QueueSegment(n, r.queue, r.channel, r.uniqueid, r.joined_at, r.last_at, "left") for n, r in enumerate(runs, 1)
    ]
    agents = sorted((c for c in fold.channels.values() if c.dialled_by_queue), key=lambda c: c.started_at or c.first_at)
    legs = [_agent_leg(fold, n, ch, segments) for n, ch in enumerate(agents, 1)]
    for segment in segments:
        segment.outcome = _segment_outcome(fold, segment, legs)
    talking = [leg for leg in legs if leg.answered_at is not None]
    first = talking[0] if talking else None
    last_segment = segments[-1]
    outcome = "answered" if talking else last_segment.outcome if last_segment.outcome == "abandoned" else "failed"
    end_of_wait = first.answered_at if first is not None else last_segment.left_at
    assert end_of_wait is not None
    talk = sum(leg.talk_seconds or 0.0 for leg in talking)
    return CelCall(
        linkedid=fold.linkedid,
        caller_uniqueid=caller.uniqueid,
        caller_channel=caller.name,
        caller_number=caller.cid_num or None,
        caller_name=caller.cid_name or None,
        queue=runs[0].queue,
        entered_at=runs[0].joined_at,
        answered_at=first.answered_at if first is not None else None,
        ended_at=fold.ended_at,
        outcome=outcome,
        hold_time=max(0, round((end_of_wait - runs[0].joined_at).total_seconds())),
        talk_time=round(talk) if talking else None,
        ring_no_answer=sum(1 for leg in legs if leg.ended_by == "ring_no_answer"),
        agent_interface=first.interface if first is not None else None,
        complete_reason=_reason(talking[-1].ended_by) if talking else None,
        hangup_cause=caller.hangup_cause,
        transfers=_transfers(fold, legs),
        queue_legs=segments,
        agent_legs=legs,
        last_row_id=fold.last_id,
        survey_digit=fold.survey[0] if fold.survey else None,
        survey_at=fold.survey[1] if fold.survey else None,
        survey_garbled=fold.survey_garbled,
    )


def _segment_at(segments: list[QueueSegment], queue: str | None, at: datetime) -> QueueSegment | None:
    """The segment (of ``queue`` if given) the call was in at ``at``: the latest joined by then."""
    fitting = [s for s in segments if (queue is None or s.queue == queue) and s.joined_at <= at]
    if not fitting and queue is not None:
        fitting = [s for s in segments if s.queue == queue]
    return fitting[-1] if fitting else None


def _agent_leg(fold: _Fold, seq: int, ch: Channel, segments: list[QueueSegment]) -> AgentLeg:
    rang = ch.started_at or ch.first_at
    if not ch.bridges:
        segment = _segment_at(segments, None, rang)
        cancelled = segment is not None and _call_moved_on(fold, segment, ch.hangup_at)
        return AgentLeg(
            seq, segment.queue if segment else None, ch.name, ch.uniqueid, interface_of(ch.name), rang, None,
            ch.hangup_at, None, None, "ring_canceled" if cancelled else "ring_no_answer",
        )  # fmt: skip
    first, last = ch.bridges[0], ch.bridges[-1]
    queue_of_bridge = fold.bridge_queue.get(first.bridge_id)
    queue = queue_of_bridge[0] if queue_of_bridge else None
    segment = _segment_at(segments, queue, first.entered_at)
    ended = last.exited_at or ch.hangup_at or first.entered_at
    if segment is not None and segment.agent_leg is None:
        segment.agent_leg = seq
    wait = (first.entered_at - segment.joined_at).total_seconds() if segment else None
    return AgentLeg(
        seq, queue or (segment.queue if segment else None), ch.name, ch.uniqueid, interface_of(ch.name), rang,
        first.entered_at, ended, None if wait is None else max(0.0, wait),
        max(0.0, (ended - first.entered_at).total_seconds()), _ended_by(fold, ch, first, queue_of_bridge),
    )  # fmt: skip


def _call_moved_on(fold: _Fold, segment: QueueSegment, hangup_at: datetime | None) -> bool:
    """A ringing leg was cancelled when the call left its segment (answered elsewhere, caller gone)."""
    if hangup_at is None:
        return True
    moments = [
        segment.left_at,
        *(b.entered_at for c in fold.channels.values() if c.dialled_by_queue for b in c.bridges),
    ]
    return any(abs(hangup_at - m) <= CANCEL_WINDOW for m in moments)


def _ended_by(fold: _Fold, ch: Channel, first: Bridge, queue_of_bridge: tuple[str, str] | None) -> str:
    for kind, row in fold.transfers:
        extra = row.extra_json()
        if row.uniqueid == ch.uniqueid or extra.get("channel2_uniqueid") == ch.uniqueid:
            return f"{kind}_transfer"
    if queue_of_bridge is not None:
        queue, caller_uid = queue_of_bridge
        caller = fold.channels.get(caller_uid)
        left = first.exited_at
        if caller is not None and left is not None and any(r.joined_at >= left - CANCEL_WINDOW and
                                                           r.queue != queue for r in caller.runs):  # fmt: skip
            return "redirect"
        caller_exit = _exit_of(caller, first.bridge_id) if caller is not None else None
        if caller_exit is not None and left is not None:
            return "agent" if left <= caller_exit else "caller"
    return "agent"


def _exit_of(ch: Channel, bridge_id: str) -> datetime | None:
    return next((b.exited_at for b in ch.bridges if b.bridge_id == bridge_id and b.exited_at), None)


def _segment_outcome(fold: _Fold, segment: QueueSegment, legs: list[AgentLeg]) -> str:
    if segment.agent_leg is not None:
        return "answered"
    ch = fold.channels[segment.uniqueid]
    later = [r for r in ch.runs if r.joined_at > segment.joined_at]
    if not later and ch.hangup_at is not None and ch.hangup_at - segment.left_at <= ABANDON_WINDOW:
        return "abandoned"
    return "left"


def _reason(ended_by: str) -> str:
    return "transfer" if ended_by.endswith("transfer") or ended_by == "redirect" else ended_by


def _transfers(fold: _Fold, legs: list[AgentLeg]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, row in fold.transfers:
        extra = row.extra_json()
        target = extra.get("extension") or extra.get("transfer_target_channel_name")
        out.append({"type": kind, "at": row.eventtime.isoformat(), "from": interface_of(row.channame), "to": target})
    for leg in legs:
        if leg.ended_by == "redirect" and leg.ended_at is not None:
            out.append({"type": "redirect", "at": leg.ended_at.isoformat(), "from": leg.interface, "to": None})
    return sorted(out, key=lambda t: t["at"])

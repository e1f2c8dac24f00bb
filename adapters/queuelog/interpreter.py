"""Asterisk's queue_log (``epoch|callid|queue|agent|event|data…``) into calls with legs, for a
site whose Asterisk cannot write CEL to PostgreSQL. Pure: no I/O.

What queue_log carries is less than CEL: whole-second times, the member *name* (``Agent 1001``)
rather than its channel, no hang-up (a call ends at its last line), and ``callid`` is the
Uniqueid of the channel that ran Queue(), not the Linkedid (the importer maps it where it can).
A Redirect writes no transfer line: a CONNECT in one queue followed by an ENTERQUEUE in another
ends the first leg as ``redirect``, its talk counted up to that ENTERQUEUE (COMPLETECALLER's
calltime then covers both legs, as AgentComplete's TalkTime does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.cel.interpreter import AgentLeg, CelCall, QueueSegment


class QueueLogError(ValueError):
    """A queue_log line that cannot be read; the message names the line."""


@dataclass(frozen=True)
class Line:
    at: datetime
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


def parse_line(text: str, number: int) -> Line | None:
    """One line; None for the queue-wide lines (callid NONE: QUEUESTART, member changes)."""
    parts = text.rstrip("\r\n").split("|")
    if len(parts) < 5:
        raise QueueLogError(f"line {number}: not epoch|callid|queue|agent|event|data")
    try:
        epoch = float(parts[0])
        at = datetime.fromtimestamp(epoch, UTC)
    except (ValueError, OverflowError, OSError):
        raise QueueLogError(f"line {number}: {parts[0]!r} is not an epoch") from None
    if parts[1] in ("NONE", ""):
        return None
    return Line(at, parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))


def _int(data: tuple[str, ...], i: int) -> int | None:
    try:
        return max(0, int(data[i]))
    except (IndexError, ValueError):
        return None


@dataclass
class _Fold:
    callid: str
    number: str | None = None
    segments: list[QueueSegment] = field(default_factory=list)
    legs: list[AgentLeg] = field(default_factory=list)
    last_at: datetime | None = None
    leg_callid: dict[int, str] = field(default_factory=dict)  # agent leg seq -> callid it talked on

    def open_segment(self, line: Line) -> QueueSegment | None:
        return next((s for s in reversed(self.segments) if s.queue == line.queue and s.uniqueid == line.callid), None)

    def talking(self, queue: str, agent: str) -> AgentLeg | None:
        return next((a for a in reversed(self.legs) if a.queue == queue and a.interface == agent and
                     a.answered_at is not None and a.ended_by == "talking"), None)  # fmt: skip

    def end_leg(self, line: Line, ended_by: str, talk: int | None) -> None:
        leg = self.talking(line.queue, line.agent)
        if leg is not None:
            leg.ended_by, leg.ended_at = ended_by, line.at
            leg.talk_seconds = float(talk) if talk is not None else leg.talk_seconds

    # -- handlers ----------------------------------------------------------------------------------

    def on_enterqueue(self, line: Line) -> None:
        self.number = self.number or (line.data[1] if len(line.data) > 1 and line.data[1] else None)
        for leg in self.legs:  # this channel still talking in another queue: the caller was redirected
            if (leg.ended_by == "talking" and leg.queue != line.queue and leg.answered_at is not None
                    and self.leg_callid.get(leg.seq) == line.callid):  # fmt: skip
                leg.ended_by, leg.ended_at = "redirect", line.at
                leg.talk_seconds = (line.at - leg.answered_at).total_seconds()
        seq = len(self.segments) + 1
        self.segments.append(QueueSegment(seq, line.queue, "", line.callid, line.at, line.at, "left"))

    def on_connect(self, line: Line) -> None:
        segment = self.open_segment(line)
        seq = len(self.legs) + 1
        wait = _int(line.data, 0)
        self.legs.append(AgentLeg(seq, line.queue, "", line.data[1] if len(line.data) > 1 else "", line.agent,
                                  None, line.at, None, None if wait is None else float(wait), None, "talking"))  # fmt: skip
        self.leg_callid[seq] = line.callid
        if segment is not None:
            segment.outcome, segment.left_at, segment.agent_leg = "answered", line.at, seq

    def on_complete(self, line: Line) -> None:
        self.end_leg(line, "agent" if line.event == "COMPLETEAGENT" else "caller", _int(line.data, 1))

    def on_transfer(self, line: Line) -> None:
        kind = "blind_transfer" if line.event == "BLINDTRANSFER" else "attended_transfer"
        self.end_leg(line, kind, _int(line.data, 3))

    def on_ring_no_answer(self, line: Line) -> None:
        seq = len(self.legs) + 1
        self.legs.append(AgentLeg(seq, line.queue, "", "", line.agent, line.at, None, line.at, None, None,
                                  "ring_no_answer"))  # fmt: skip

    def on_left(self, line: Line) -> None:
        segment = self.open_segment(line)
        if segment is not None and segment.outcome == "left":
            segment.outcome = "abandoned" if line.event == "ABANDON" else "left"
            segment.left_at = line.at


HANDLERS: dict[str, Callable[[_Fold, Line], None]] = {
    "ENTERQUEUE": _Fold.on_enterqueue,
    "CONNECT": _Fold.on_connect,
    "COMPLETEAGENT": _Fold.on_complete,
    "COMPLETECALLER": _Fold.on_complete,
    "BLINDTRANSFER": _Fold.on_transfer,
    "ATTENDEDTRANSFER": _Fold.on_transfer,
    "RINGNOANSWER": _Fold.on_ring_no_answer,
    "ABANDON": _Fold.on_left,
    "EXITWITHTIMEOUT": _Fold.on_left,
    "EXITEMPTY": _Fold.on_left,
    "EXITWITHKEY": _Fold.on_left,
}


def interpret(linkedid: str, lines: Iterable[Line]) -> CelCall | None:
    """The call of one Linkedid's lines (of one or more callids, in file order); None without a queue."""
    lines = list(lines)
    if not lines:
        return None
    callid = lines[0].callid
    fold = _Fold(callid)
    for line in lines:
        fold.last_at = line.at
        handler = HANDLERS.get(line.event)
        if handler is not None:
            handler(fold, line)
    if not fold.segments or fold.last_at is None:
        return None
    for leg in fold.legs:
        if leg.ended_by == "talking":  # no completion line (yet): talked until the last line
            leg.ended_by, leg.ended_at = "caller", fold.last_at
    talked = [leg for leg in fold.legs if leg.answered_at is not None]
    first, segment = fold.segments[0], fold.segments[-1]
    answered = talked[0].answered_at if talked else None
    transfers = [{"type": leg.ended_by.removesuffix("_transfer"), "at": leg.ended_at.isoformat(), "from": leg.interface,
                  "to": None} for leg in talked if leg.ended_by not in ("agent", "caller") and leg.ended_at]  # fmt: skip
    return CelCall(
        linkedid=linkedid, caller_uniqueid=callid, caller_channel="", caller_number=fold.number, caller_name=None,
        queue=first.queue, entered_at=first.joined_at, answered_at=answered, ended_at=fold.last_at,
        outcome="answered" if talked else "abandoned" if segment.outcome == "abandoned" else "failed",
        hold_time=round(((answered or segment.left_at) - first.joined_at).total_seconds()),
        talk_time=round(sum(leg.talk_seconds or 0 for leg in talked)) if talked else None,
        ring_no_answer=sum(1 for leg in fold.legs if leg.ended_by == "ring_no_answer"),
        agent_interface=talked[0].interface if talked else None,
        complete_reason=("transfer" if talked[-1].ended_by not in ("agent", "caller") else talked[-1].ended_by)
        if talked else None,
        hangup_cause=None, transfers=transfers, queue_legs=fold.segments, agent_legs=fold.legs, last_row_id=0,
    )  # fmt: skip

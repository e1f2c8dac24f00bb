"""Call records and the domain results the interpreter hands to the writer.

A call is one ``Linkedid`` on one Asterisk node that entered a queue. The
record is a plain mutable dataclass inside the interpreter; every result
carries a *copy* (a snapshot), so the writer can persist it later without
seeing changes made in between.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

CallState = Literal["queued", "connected", "ended"]
# answered: an agent took it (AgentConnect); abandoned: the caller hung up in the queue
# (QueueCallerAbandon); failed: it left the queue unanswered without hanging up (timeout,
# empty or full queue); unknown: it ended while we were not listening and we cannot tell.
Outcome = Literal["answered", "abandoned", "failed", "unknown"]
ChangeKind = Literal["started", "answered", "updated", "ended"]

STATE_RANK: dict[str, int] = {"queued": 1, "connected": 2, "ended": 3}


@dataclass
class CallRecord:
    node: str
    linkedid: str
    caller_uniqueid: str | None = None  # the leg that entered the queue
    caller_channel: str | None = None
    caller_number: str | None = None
    caller_name: str | None = None
    queue: str | None = None
    state: CallState = "queued"
    outcome: Outcome | None = None
    entered_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hold_time: int | None = None  # seconds waited in the queue (Asterisk's HoldTime)
    ring_time: int | None = None  # seconds the answering agent rang (AgentConnect RingTime)
    talk_time: int | None = None  # seconds talked (AgentComplete TalkTime)
    ring_no_answer: int = 0  # AgentRingNoAnswer while this call waited
    agent_interface: str | None = None
    agent_name: str | None = None
    complete_reason: str | None = None  # AgentComplete Reason: caller / agent / transfer
    abandon_position: int | None = None
    hangup_cause: int | None = None
    hangup_cause_txt: str | None = None
    recording_file: str | None = None
    survey_digit: str | None = None  # the key pressed for the end-of-call survey (see adapters/ami/survey.py)
    survey_at: datetime | None = None  # when the survey's answer (or its silence) was told
    survey_source: str | None = None  # "ami" once this stream told it
    transfers: list[dict[str, Any]] = field(default_factory=list)
    # Bookkeeping, not columns of their own: together they make ``incomplete``.
    seen_from_start: bool = True  # False when the record was created from a snapshot (latejoin, reconnect)
    gap: bool = False  # we were disconnected during part of this call's life
    repaired: bool = False  # an event of it carried a value we could not believe (time, integer): replaced
    left_queue: bool = False

    @property
    def incomplete(self) -> bool:
        """Some part of this call's life was not observed live, or not believably: values may be
        estimates or missing (the CEL pass completes them)."""
        return self.gap or self.repaired or not self.seen_from_start

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.linkedid)

    def snapshot(self) -> CallRecord:
        return copy.copy(self) if not self.transfers else copy.deepcopy(self)

    def log_extra(self) -> dict[str, Any]:
        return {"node": self.node, "linkedid": self.linkedid, "queue": self.queue, "call_state": self.state}


@dataclass(frozen=True)
class CallChange:
    """One domain result: what happened to a call, with the record as it is now."""

    kind: ChangeKind
    call: CallRecord
    live: bool = True  # False when learned from a reconciliation snapshot (no screen-pop for those)


def parse_timestamp(value: str | None) -> datetime | None:
    """AMI ``Timestamp: 1795381244.349842`` (epoch seconds) → aware UTC datetime."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def parse_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def clamp_int(value: str | None, low: int, high: int) -> tuple[int | None, bool]:
    """An integer header within [low, high]: (value, repaired). Out of range it is clamped, not
    dropped (a HoldTime of -3 is still a call that waited); unreadable it is None; both repaired."""
    if value is None or value == "":
        return None, False
    number = parse_int(value.strip())
    if number is None:
        return None, True
    clamped = min(max(number, low), high)
    return clamped, clamped != number


def parse_duration(value: str | None) -> int | None:
    """CoreShowChannel ``Duration: 00:01:02`` → seconds."""
    if not value:
        return None
    try:
        h, m, s = (int(p) for p in value.split(":"))
    except ValueError:
        return None
    return h * 3600 + m * 60 + s

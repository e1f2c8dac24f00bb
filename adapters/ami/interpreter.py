"""Fold raw AMI events into call records: a pure dispatch table, no I/O.

``Interpreter.feed(event, received_at)`` looks the event name up in
``HANDLERS`` and returns the domain results (:class:`CallChange`) the writer
persists. Events of other names cost one dict lookup. The caller leg is the
channel that enters the queue (``QueueCallerJoin``); a call is keyed by its
``Linkedid``. Times come from the event's ``Timestamp`` header
(``timestampevents=yes`` in manager.conf) or, without it, the receive time.

Events may be any mapping; a panoramisk ``Message`` (case-insensitive) or a
plain dict with Asterisk's own header spelling both work.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from adapters.ami.records import CallChange, CallRecord, ChangeKind, Outcome, clamp_int, parse_timestamp
from adapters.ami.survey import SURVEY_EVENT, survey_key

Event = Mapping[str, Any]
Handler = Callable[["Interpreter", Event, datetime], list[CallChange]]

log = logging.getLogger(__name__)
_UNKNOWN_CID = {"", "<unknown>"}
# Bounds of the integers we store: beyond them a value is clamped and the call flagged.
SECONDS = (0, 7 * 24 * 3600)
POSITION = (0, 1_000_000)
CAUSE = (0, 999)


def _get(event: Event, *keys: str) -> str | None:
    for key in keys:
        value = event.get(key)
        if isinstance(value, list):  # a repeated header: the first value counts
            value = value[0] if value else None
        if value is not None:
            return value if isinstance(value, str) else str(value)
    return None


def _cid(value: str | None) -> str | None:
    return None if value is None or value in _UNKNOWN_CID else value


class Interpreter:
    """Live call state of one Asterisk node. Not thread-safe; one per node, fed in wire order."""

    def __init__(self, node: str, *, recent_limit: int = 4096, pending_limit: int = 4096) -> None:
        self.node = node
        self.active: dict[str, CallRecord] = {}
        # Ended calls stay here for a while so that late events (an AgentComplete after the
        # caller leg's Hangup, a Hangup after a reconciliation closed the call) still land.
        self.recent: OrderedDict[str, CallRecord] = OrderedDict()
        self._recent_limit = recent_limit
        self._pending_limit = pending_limit
        self._recording_by_uniqueid: OrderedDict[str, str] = OrderedDict()
        self._recording_by_linkedid: OrderedDict[str, str] = OrderedDict()  # started before the queue join
        # (queue, agent interface) -> linkedid of the call that agent is talking to. Needed because
        # Asterisk sends AgentComplete *without* the caller's channel fields (no Linkedid) when the
        # caller leg is already gone by then (seen in basic.ami).
        self._talking: OrderedDict[tuple[str, str], str] = OrderedDict()
        # Calls a reconciliation saw up but not yet queued (IVR, announcement): when they join,
        # what happened before (e.g. MixMonitorStart) was missed, so the record is incomplete.
        self._seen_before_queue: OrderedDict[str, str] = OrderedDict()
        self._repairing = False  # the event being fed carried a value that had to be replaced

    # -- entry points -------------------------------------------------------------------------

    def feed(self, event: Event, received_at: datetime, *, trusted_time: bool = True) -> list[CallChange]:
        """Apply one event. Its ``Timestamp`` is its time unless it is unreadable, NaN or infinite,
        or the session found it far from the node's clock (``trusted_time=False``): then the receive
        time is, and the calls it changed are flagged. No value of an event can make it raise."""
        handler = HANDLERS.get(_get(event, "Event") or "")
        if handler is None:
            return []
        raw = _get(event, "Timestamp")
        stamp = parse_timestamp(raw) if trusted_time else None
        self._repairing = raw is not None and stamp is None
        changes = handler(self, event, stamp or received_at)
        if self._repairing:
            for change in changes:
                change.call.repaired = True
                live = self.find(change.call.linkedid)
                if live is not None:
                    live.repaired = True
        return changes

    def _int(self, event: Event, key: str, bounds: tuple[int, int], *more: str) -> int | None:
        value, repaired = clamp_int(_get(event, key, *more), *bounds)
        self._repairing = self._repairing or repaired
        return value

    def find(self, linkedid: str | None) -> CallRecord | None:
        if not linkedid:
            return None
        return self.active.get(linkedid) or self.recent.get(linkedid)

    def mark_gap(self) -> int:
        """The connection is gone: every live call misses events from now on. Returns how many."""
        for rec in self.active.values():
            rec.gap = True
        return len(self.active)

    def adopt(self, records: list[CallRecord]) -> None:
        """Take over calls left open in the database by an earlier process (restart)."""
        for rec in records:
            if rec.linkedid not in self.active:
                rec.gap = True
                self.active[rec.linkedid] = rec

    def note_unqueued(self, linkedid: str) -> None:
        self._remember(self._seen_before_queue, linkedid, linkedid)

    def note_agent(self, rec: CallRecord) -> None:
        if rec.queue and rec.agent_interface:
            self._remember(self._talking, (rec.queue, rec.agent_interface), rec.linkedid)

    def retire(self, rec: CallRecord) -> None:
        self.active.pop(rec.linkedid, None)
        self.recent[rec.linkedid] = rec
        self.recent.move_to_end(rec.linkedid)
        while len(self.recent) > self._recent_limit:
            self.recent.popitem(last=False)

    def start(self, rec: CallRecord) -> None:
        self.recent.pop(rec.linkedid, None)
        self.active[rec.linkedid] = rec

    # -- helpers ------------------------------------------------------------------------------

    def _remember(self, table: OrderedDict[Any, str], key: Any, value: str) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self._pending_limit:
            table.popitem(last=False)

    def _end(self, rec: CallRecord, at: datetime) -> CallChange:
        was_active = rec.linkedid in self.active
        rec.ended_at = at
        rec.state = "ended"
        rec.outcome = final_outcome(rec)
        self.retire(rec)
        return CallChange("ended" if was_active else "updated", rec.snapshot())

    # -- handlers -----------------------------------------------------------------------------

    def on_queue_caller_join(self, ev: Event, at: datetime) -> list[CallChange]:
        linkedid = _get(ev, "Linkedid")
        if not linkedid:
            return []
        rec = self.active.get(linkedid)
        kind: ChangeKind = "updated"
        if rec is None:
            rec = CallRecord(node=self.node, linkedid=linkedid, entered_at=at)
            rec.gap = self._seen_before_queue.pop(linkedid, None) is not None
            self.start(rec)
            kind = "started"
        elif not rec.seen_from_start:
            # Created from a snapshot; now we see the real join: take its true time.
            rec.seen_from_start = True
            rec.entered_at = at
        elif rec.left_queue and rec.state == "queued":
            # Left one queue unanswered (timeout) and joins another: one call, latest queue.
            rec.left_queue = False
            rec.outcome = None
        rec.caller_uniqueid = _get(ev, "Uniqueid") or rec.caller_uniqueid
        rec.caller_channel = _get(ev, "Channel") or rec.caller_channel
        rec.caller_number = _cid(_get(ev, "CallerIDNum")) or rec.caller_number
        rec.caller_name = _cid(_get(ev, "CallerIDName")) or rec.caller_name
        rec.queue = _get(ev, "Queue") or rec.queue
        if rec.entered_at is None:
            rec.entered_at = at
        recording = self._recording_by_linkedid.pop(linkedid, None)
        if recording and not rec.recording_file:
            rec.recording_file = recording
        return [CallChange(kind, rec.snapshot())]

    def on_agent_connect(self, ev: Event, at: datetime) -> list[CallChange]:
        rec = self.find(_get(ev, "Linkedid"))
        if rec is None:
            return []
        rec.answered_at = at
        rec.hold_time = self._int(ev, "HoldTime", SECONDS)
        rec.ring_time = self._int(ev, "RingTime", SECONDS)
        rec.agent_interface = _get(ev, "Interface") or rec.agent_interface
        rec.agent_name = _get(ev, "MemberName") or rec.agent_name
        rec.outcome = "answered"
        if not rec.seen_from_start and rec.hold_time is not None:
            rec.entered_at = at - timedelta(seconds=rec.hold_time)  # better than the snapshot's estimate
        self.note_agent(rec)
        if rec.state == "ended":  # closed by a reconciliation before this (buffered) event was applied
            return [CallChange("updated", rec.snapshot())]
        rec.state = "connected"
        return [CallChange("answered", rec.snapshot())]

    def on_agent_complete(self, ev: Event, at: datetime) -> list[CallChange]:
        talking = (_get(ev, "Queue") or "", _get(ev, "Interface") or "")
        linkedid = _get(ev, "Linkedid")
        if linkedid is None or self._talking.get(talking) == linkedid:
            linkedid = self._talking.pop(talking, linkedid)
        rec = self.find(linkedid)
        if rec is None:
            return []
        rec.talk_time = self._int(ev, "TalkTime", SECONDS)
        hold = self._int(ev, "HoldTime", SECONDS)
        if hold is not None:
            rec.hold_time = hold
        rec.complete_reason = _get(ev, "Reason") or rec.complete_reason
        rec.agent_interface = rec.agent_interface or _get(ev, "Interface")
        rec.agent_name = rec.agent_name or _get(ev, "MemberName")
        if rec.answered_at is None and rec.talk_time is not None:
            rec.answered_at = at - timedelta(seconds=rec.talk_time)  # answered unseen: best estimate
            if not rec.seen_from_start and rec.hold_time is not None:
                rec.entered_at = rec.answered_at - timedelta(seconds=rec.hold_time)
        rec.outcome = "answered"
        if rec.complete_reason == "transfer" and not rec.transfers:
            rec.transfers.append({"type": "agent", "at": at.isoformat()})
        return [CallChange("updated", rec.snapshot())]

    def on_queue_caller_abandon(self, ev: Event, at: datetime) -> list[CallChange]:
        rec = self.find(_get(ev, "Linkedid"))
        if rec is None or rec.outcome == "answered":
            return []
        rec.outcome = "abandoned"
        rec.left_queue = True
        rec.hold_time = self._int(ev, "HoldTime", SECONDS)
        rec.abandon_position = self._int(ev, "OriginalPosition", POSITION, "Position")
        if not rec.seen_from_start and rec.hold_time is not None:
            rec.entered_at = at - timedelta(seconds=rec.hold_time)  # better than the snapshot's estimate
        return [CallChange("updated", rec.snapshot())]

    def on_queue_caller_leave(self, ev: Event, at: datetime) -> list[CallChange]:
        rec = self.find(_get(ev, "Linkedid"))
        if rec is not None:
            rec.left_queue = True  # not a result by itself: it precedes AgentConnect too
        return []

    def on_agent_ring_no_answer(self, ev: Event, at: datetime) -> list[CallChange]:
        rec = self.find(_get(ev, "Linkedid"))
        if rec is None:
            return []
        rec.ring_no_answer += 1
        return [CallChange("updated", rec.snapshot())]

    def on_var_set(self, ev: Event, at: datetime) -> list[CallChange]:
        if _get(ev, "Variable") == "MIXMONITOR_FILENAME":
            uniqueid, value = _get(ev, "Uniqueid"), _get(ev, "Value")
            if uniqueid and value:
                self._remember(self._recording_by_uniqueid, uniqueid, value)
        return []

    def on_mix_monitor_start(self, ev: Event, at: datetime) -> list[CallChange]:
        uniqueid, linkedid = _get(ev, "Uniqueid"), _get(ev, "Linkedid")
        filename = self._recording_by_uniqueid.pop(uniqueid or "", None)
        if not filename or not linkedid:
            return []
        rec = self.find(linkedid)
        if rec is None:
            self._remember(self._recording_by_linkedid, linkedid, filename)
            return []
        rec.recording_file = filename
        return [CallChange("updated", rec.snapshot())]

    def on_hangup(self, ev: Event, at: datetime) -> list[CallChange]:
        uniqueid = _get(ev, "Uniqueid")
        self._recording_by_uniqueid.pop(uniqueid or "", None)
        rec = self.find(_get(ev, "Linkedid"))
        if rec is None or uniqueid is None or uniqueid != rec.caller_uniqueid:
            return []
        rec.hangup_cause = self._int(ev, "Cause", CAUSE)
        rec.hangup_cause_txt = _get(ev, "Cause-txt")
        return [self._end(rec, at)]

    def on_cel(self, ev: Event, at: datetime) -> list[CallChange]:
        if _get(ev, "EventName") != "LINKEDID_END":
            return []
        linkedid = _get(ev, "LinkedID", "Linkedid")
        if not linkedid:
            return []
        self._recording_by_linkedid.pop(linkedid, None)
        rec = self.active.get(linkedid)
        if rec is None:  # the normal case: the caller leg's Hangup already ended it
            return []
        return [self._end(rec, at)]

    def on_user_event(self, ev: Event, at: datetime) -> list[CallChange]:
        if _get(ev, "UserEvent") != SURVEY_EVENT:
            return []
        rec = self.find(_get(ev, "Linkedid"))
        if rec is None or rec.survey_at is not None:
            return []  # not a queue call we know (the CEL pass still has it), or told already
        digit, believable = survey_key(_get(ev, "Score"))
        if not believable:
            log.warning(
                "survey score is not one key; not stored", extra={**rec.log_extra(), "score": _get(ev, "Score")}
            )
            rec.repaired = True
        rec.survey_digit, rec.survey_at, rec.survey_source = digit, at, "ami"
        return [CallChange("updated", rec.snapshot())]

    def on_blind_transfer(self, ev: Event, at: datetime) -> list[CallChange]:
        rec = self.find(_get(ev, "TransfererLinkedid"))
        if rec is None:
            return []
        rec.transfers.append(
            {
                "type": "blind",
                "at": at.isoformat(),
                "result": _get(ev, "Result"),
                "context": _get(ev, "Context"),
                "extension": _get(ev, "Extension"),
            }
        )
        return [CallChange("updated", rec.snapshot())]

    def on_attended_transfer(self, ev: Event, at: datetime) -> list[CallChange]:
        rec = self.find(_get(ev, "OrigTransfererLinkedid"))
        if rec is None:
            return []
        rec.transfers.append(
            {
                "type": "attended",
                "at": at.isoformat(),
                "result": _get(ev, "Result"),
                "dest_type": _get(ev, "DestType"),
                "target": _get(ev, "SecondTransfererChannel", "TransferTargetChannel"),
            }
        )
        return [CallChange("updated", rec.snapshot())]


def final_outcome(rec: CallRecord) -> Outcome:
    if rec.outcome in ("answered", "abandoned", "failed"):
        return rec.outcome
    if rec.answered_at is not None or rec.talk_time is not None:
        return "answered"
    if rec.left_queue and not rec.incomplete:
        return "failed"  # left the queue unanswered (timeout, empty, full) and then hung up
    return "unknown"


HANDLERS: dict[str, Handler] = {
    "QueueCallerJoin": Interpreter.on_queue_caller_join,
    "AgentConnect": Interpreter.on_agent_connect,
    "AgentComplete": Interpreter.on_agent_complete,
    "QueueCallerAbandon": Interpreter.on_queue_caller_abandon,
    "QueueCallerLeave": Interpreter.on_queue_caller_leave,
    "AgentRingNoAnswer": Interpreter.on_agent_ring_no_answer,
    "VarSet": Interpreter.on_var_set,
    "MixMonitorStart": Interpreter.on_mix_monitor_start,
    "Hangup": Interpreter.on_hangup,
    "CEL": Interpreter.on_cel,
    "BlindTransfer": Interpreter.on_blind_transfer,
    "AttendedTransfer": Interpreter.on_attended_transfer,
    "UserEvent": Interpreter.on_user_event,
}

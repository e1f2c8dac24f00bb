"""Queue members' states on one Asterisk node, followed from the queue events. Pure: no I/O,
times passed in.

A member is one (queue, interface). Its state, by precedence when several hold:
``offline`` (not a member: removed, or never added), ``in_call``, ``ringing``, ``wrapup``
(the wrap-up time after a call), ``paused`` (示忙, with the reason), ``ready`` (示闲). ``paused``
is also kept as a flag: a pause while talking is ``in_call`` with ``paused`` true, and the member
is ``paused`` once the call ends (the ``states`` recording shows Asterisk does exactly this).

What moves a member (what the recording shows each event means):
- ``QueueMemberAdded`` / ``QueueMemberRemoved``: membership, with Paused / PausedReason on an add;
- ``QueueMemberPause``: the pause flag and reason (one event per queue for a pause without Queue);
- ``AgentCalled``: ringing for a call; ``AgentRingNoAnswer`` ends it; so does the call being
  answered by another member (``AgentConnect`` with the same Linkedid, ringall) or abandoned
  (``QueueCallerAbandon``): Asterisk sends no RingNoAnswer then;
- ``AgentConnect``: in a call; ``AgentComplete``: the call ended (wrap-up follows when the
  member's or the queue's wrap-up time is not 0);
- ``QueueMemberStatus`` only refreshes the pause: its ``InCall`` is not
  reliable (1 in only 5 of 40 events of the recording), so it never starts or ends a call.

After every (re)connect, ``QueueStatus`` rebuilds every member (:meth:`MemberBoard.snapshot`):
what changed while we were away is recorded as changed by ``QueueStatus``, members gone from the
answer become offline, and a member busy on a call we follow gets that call's Linkedid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.ami.records import CallRecord, parse_int

# Asterisk's device states (QueueMember / QueueMemberStatus ``Status``).
DEVICE_STATES = {"0": "unknown", "1": "not_inuse", "2": "inuse", "3": "busy", "4": "invalid", "5": "unavailable",
                 "6": "ringing", "7": "ringinuse", "8": "onhold"}  # fmt: skip
_DEVICE_TALKING = {"inuse", "busy", "onhold"}
_DEVICE_RINGING = {"ringing", "ringinuse"}


@dataclass
class Member:
    queue: str
    interface: str
    name: str | None = None
    membership: str | None = None
    member: bool = True
    paused: bool = False
    reason: str | None = None
    ringing: str | None = None  # Linkedid of the call ringing this member
    talking: str | None = None  # Linkedid of the call the member is in ('' when the call is unknown)
    wrapup_until: datetime | None = None
    wrapup_seconds: int = 0  # the member's own wrap-up time (0: the queue's)
    calls_taken: int = 0
    since: datetime | None = None

    @property
    def state(self) -> str:
        if not self.member:
            return "offline"
        if self.talking is not None:
            return "in_call"
        if self.ringing is not None:
            return "ringing"
        if self.wrapup_until is not None:
            return "wrapup"
        return "paused" if self.paused else "ready"

    @property
    def linkedid(self) -> str | None:
        return self.talking or self.ringing or None

    def shown(self) -> tuple[str, bool, str | None]:
        """What a change is: state, pause flag, reason (a reason only while paused)."""
        return self.state, self.paused, self.reason if self.paused else None


@dataclass(frozen=True)
class MemberChange:
    node: str
    queue: str
    interface: str
    member_name: str | None
    membership: str | None
    state: str
    paused: bool
    reason: str | None
    linkedid: str | None
    calls_taken: int
    event: str
    at: datetime


@dataclass
class MemberBoard:
    node: str
    wrapup: Mapping[str, int] = field(default_factory=dict)  # queue -> wrap-up seconds (HOTLINE_QUEUE_WRAPUP)
    members: dict[tuple[str, str], Member] = field(default_factory=dict)

    # -- events -------------------------------------------------------------------------------

    def feed(self, message: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        name = message.get("Event") or ""
        handler = _HANDLERS.get(name)
        if handler is None:
            return []
        return handler(self, message, at)

    def tick(self, now: datetime) -> list[MemberChange]:
        """End the wrap-ups that are over (at the moment they ended, not when we noticed)."""
        changes = []
        for m in self.members.values():
            if m.wrapup_until is not None and m.wrapup_until <= now:
                ended = m.wrapup_until
                changes += self._change(m, "WrapupEnd", ended, lambda m: setattr(m, "wrapup_until", None))
        return changes

    def _member(self, message: Mapping[str, Any]) -> Member | None:
        queue, interface = message.get("Queue"), message.get("Interface")
        if not queue or not interface:
            return None
        m = self.members.get((queue, interface))
        if m is None:
            m = self.members[(queue, interface)] = Member(queue, interface, member=False)
        if message.get("MemberName"):
            m.name = message["MemberName"]
        return m

    def _change(self, m: Member, event: str, at: datetime, mutate: Any) -> list[MemberChange]:
        before = m.shown()
        mutate(m)
        if m.shown() == before:
            return []
        m.since = at
        return [self._record(m, event, at)]

    def _record(self, m: Member, event: str, at: datetime) -> MemberChange:
        state, paused, reason = m.shown()
        return MemberChange(self.node, m.queue, m.interface, m.name, m.membership, state, paused, reason,
                            m.linkedid, m.calls_taken, event, at)  # fmt: skip

    def _on_added(self, msg: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        m = self._member(msg)
        if m is None:
            return []

        def add(m: Member) -> None:
            m.member, m.ringing, m.talking, m.wrapup_until = True, None, None, None
            _fields(m, msg)

        return self._change(m, "QueueMemberAdded", at, add)

    def _on_removed(self, msg: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        m = self._member(msg)
        return [] if m is None else self._change(m, "QueueMemberRemoved", at, _gone)

    def _on_pause(self, msg: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        m = self._member(msg)
        if m is None:
            return []

        def pause(m: Member) -> None:
            m.member = True  # a pause event names a member: it is in the queue
            m.paused = msg.get("Paused") == "1"
            m.reason = (msg.get("PausedReason") or msg.get("Reason") or None) if m.paused else None

        return self._change(m, "QueueMemberPause", at, pause)

    def _on_status(self, msg: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        m = self._member(msg)
        if m is None:
            return []
        return self._change(m, "QueueMemberStatus", at, lambda m: _status(m, msg))

    def _on_called(self, msg: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        m = self._member(msg)
        if m is None:
            return []

        def ring(m: Member) -> None:
            m.member, m.ringing = True, msg.get("Linkedid") or ""

        return self._change(m, "AgentCalled", at, ring)

    def _on_ring_no_answer(self, msg: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        m = self._member(msg)
        return [] if m is None else self._change(m, "AgentRingNoAnswer", at, lambda m: setattr(m, "ringing", None))

    def _on_connect(self, msg: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        m = self._member(msg)
        if m is None:
            return []
        linkedid = msg.get("Linkedid") or ""

        def connect(m: Member) -> None:
            m.member, m.ringing, m.talking, m.wrapup_until = True, None, linkedid, None

        changes = self._change(m, "AgentConnect", at, connect)
        return changes + self._stop_ringing(linkedid, "AgentConnect", at, but=m)

    def _on_complete(self, msg: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        m = self._member(msg)
        if m is None:
            return []
        wrap = m.wrapup_seconds or self.wrapup.get(m.queue, 0)

        def complete(m: Member) -> None:
            if m.talking is not None:
                m.calls_taken += 1
            m.talking = None
            m.wrapup_until = at + timedelta(seconds=wrap) if wrap > 0 and m.member else None

        return self._change(m, "AgentComplete", at, complete)

    def _on_abandon(self, msg: Mapping[str, Any], at: datetime) -> list[MemberChange]:
        return self._stop_ringing(msg.get("Linkedid") or "", "QueueCallerAbandon", at)

    def _stop_ringing(self, linkedid: str, event: str, at: datetime, but: Member | None = None) -> list[MemberChange]:
        changes: list[MemberChange] = []
        if not linkedid:
            return changes
        for other in self.members.values():
            if other is not but and other.ringing == linkedid:
                changes += self._change(other, event, at, lambda m: setattr(m, "ringing", None))
        return changes

    # -- QueueStatus after a (re)connect ------------------------------------------------------

    def snapshot(
        self, messages: Iterable[Mapping[str, Any]], at: datetime, calls: Iterable[CallRecord] = ()
    ) -> list[MemberChange]:
        """Fold a ``QueueStatus`` answer in: every member as Asterisk has it now."""
        talking = {c.agent_interface: c.linkedid for c in calls if c.state == "connected" and c.agent_interface}
        seen: set[tuple[str, str]] = set()
        changes: list[MemberChange] = []
        for msg in messages:
            if msg.get("Event") != "QueueMember" or not msg.get("Queue") or not msg.get("Location"):
                continue
            queue, interface = msg["Queue"], msg["Location"]
            seen.add((queue, interface))
            m = self.members.get((queue, interface)) or Member(queue, interface, member=False)
            fresh = (queue, interface) not in self.members
            self.members[(queue, interface)] = m
            changes += self._from_status(m, msg, at, talking.get(interface), fresh)
        for key, m in self.members.items():
            if key not in seen and m.member:
                changes += self._change(m, "QueueStatus", at, _gone)
        return changes

    def _from_status(
        self, m: Member, msg: Mapping[str, Any], at: datetime, call: str | None, fresh: bool
    ) -> list[MemberChange]:
        device = DEVICE_STATES.get(msg.get("Status") or "", "unknown")

        def refresh(m: Member) -> None:
            m.name = msg.get("Name") or m.name
            m.member = True
            _fields(m, msg)
            in_call = msg.get("InCall") == "1" or device in _DEVICE_TALKING
            m.talking = (call or m.talking or "") if in_call else None
            m.ringing = (m.ringing or "") if device in _DEVICE_RINGING and not in_call else None
            if in_call or device in _DEVICE_RINGING:
                m.wrapup_until = None

        if fresh:  # first sight of this member: its state is news even when it equals the default
            refresh(m)
            m.since = at
            return [self._record(m, "QueueStatus", at)]
        return self._change(m, "QueueStatus", at, refresh)

    def adopt(self, members: Iterable[Member]) -> None:
        """The states a previous run stored: the next QueueStatus corrects them (and takes
        offline the members Asterisk no longer has)."""
        for m in members:
            self.members[(m.queue, m.interface)] = m


def _status(m: Member, msg: Mapping[str, Any]) -> None:
    m.member = True  # only members have a status
    _fields(m, msg)


def _gone(m: Member) -> None:
    m.member, m.paused, m.reason, m.ringing, m.talking, m.wrapup_until = False, False, None, None, None, None


def _fields(m: Member, msg: Mapping[str, Any]) -> None:
    """Membership, pause and wrap-up time from an event that carries the member's full state."""
    if msg.get("Membership"):
        m.membership = msg["Membership"]
    if "Paused" in msg:
        m.paused = msg.get("Paused") == "1"
        m.reason = (msg.get("PausedReason") or None) if m.paused else None
    taken = parse_int(msg.get("CallsTaken"))
    if taken is not None and taken >= 0:
        m.calls_taken = taken
    wrap = parse_int(msg.get("Wrapuptime"))
    if wrap is not None and wrap >= 0:
        m.wrapup_seconds = wrap


_HANDLERS = {
    "QueueMemberAdded": MemberBoard._on_added,
    "QueueMemberRemoved": MemberBoard._on_removed,
    "QueueMemberPause": MemberBoard._on_pause,
    "QueueMemberPaused": MemberBoard._on_pause,  # the name before Asterisk 12
    "QueueMemberStatus": MemberBoard._on_status,
    "AgentCalled": MemberBoard._on_called,
    "AgentRingNoAnswer": MemberBoard._on_ring_no_answer,
    "AgentConnect": MemberBoard._on_connect,
    "AgentComplete": MemberBoard._on_complete,
    "QueueCallerAbandon": MemberBoard._on_abandon,
}

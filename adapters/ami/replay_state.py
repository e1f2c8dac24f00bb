"""What a replayed Asterisk would answer to ``CoreShowChannels`` and ``QueueStatus``.

The replay server applies every event it plays (or skips, during a simulated
disconnection) to this tracker, so after a reconnect it can describe the calls
that are up *now*, as Asterisk would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.ami.trace import TraceMessage

EOL = "\r\n"


def _block(pairs: list[tuple[str, object]]) -> bytes:
    return (EOL.join(f"{k}: {'' if v is None else v}" for k, v in pairs) + EOL + EOL).encode("utf-8")


def _hms(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@dataclass
class _Channel:
    uniqueid: str
    linkedid: str
    channel: str
    state_desc: str = "Down"
    caller_number: str = ""
    caller_name: str = ""
    context: str = ""
    exten: str = ""
    application: str = ""
    application_data: str = ""
    bridge_id: str = ""
    created: float = 0.0


@dataclass
class _Entry:
    uniqueid: str
    channel: str
    caller_number: str
    caller_name: str
    joined: float


_MEMBER_EVENTS = ("QueueMemberStatus", "QueueMemberAdded", "QueueMemberPause", "AgentCalled", "AgentConnect",
                  "AgentComplete", "AgentRingNoAnswer")  # fmt: skip


@dataclass
class ReplayState:
    channels: dict[str, _Channel] = field(default_factory=dict)
    queues: dict[str, dict[str, _Entry]] = field(default_factory=dict)  # queue -> uniqueid -> entry (join order)
    members: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (queue, interface) -> fields
    now: float = 0.0

    def apply(self, msg: TraceMessage) -> None:
        h = msg.headers
        ts = msg.timestamp
        if ts is not None:
            self.now = ts
        name = msg.event
        uid = h.get("Uniqueid")
        if name == "Hangup":
            if uid:
                self.channels.pop(uid, None)
                for entries in self.queues.values():
                    entries.pop(uid, None)
            return
        if uid and "Channel" in h:
            ch = self.channels.get(uid)
            if ch is None:
                ch = self.channels[uid] = _Channel(uid, h.get("Linkedid", uid), h["Channel"], created=self.now)
            ch.channel = h["Channel"]
            ch.state_desc = h.get("ChannelStateDesc", ch.state_desc)
            ch.caller_number = h.get("CallerIDNum", ch.caller_number)
            ch.caller_name = h.get("CallerIDName", ch.caller_name)
            ch.context = h.get("Context", ch.context)
            ch.exten = h.get("Exten", ch.exten)
            if name == "Newexten":
                ch.application = h.get("Application", "")
                ch.application_data = h.get("AppData", "")
            elif name == "BridgeEnter":
                ch.bridge_id = h.get("BridgeUniqueid", "")
            elif name == "BridgeLeave":
                ch.bridge_id = ""
        if name == "QueueCallerJoin" and uid:
            self.queues.setdefault(h.get("Queue", ""), {})[uid] = _Entry(
                uid, h.get("Channel", ""), h.get("CallerIDNum", ""), h.get("CallerIDName", ""), self.now
            )
        elif name in ("QueueCallerLeave", "QueueCallerAbandon") and uid:
            self.queues.get(h.get("Queue", ""), {}).pop(uid, None)
        elif name in _MEMBER_EVENTS and h.get("Interface"):
            self._member_event(name, h)
        elif name == "QueueMemberRemoved" and h.get("Interface"):
            self.members.pop((h.get("Queue", ""), h["Interface"]), None)

    def _member_event(self, name: str, h: dict[str, str]) -> None:
        key = (h.get("Queue", ""), h["Interface"])
        member = self.members.setdefault(key, {"Name": h.get("MemberName", ""), "Status": "1", "Paused": "0"})
        member["Name"] = h.get("MemberName", member["Name"])
        for k in ("StateInterface", "Status", "Paused", "PausedReason", "CallsTaken", "InCall", "Membership"):
            if k in h:
                member[k] = h[k]
        # What QueueStatus would say of the member's call (device state and InCall):
        if name == "AgentConnect":
            member["Status"], member["InCall"] = "2", "1"
        elif name in ("AgentComplete", "AgentRingNoAnswer"):
            member["Status"], member["InCall"] = "1", "0"
            if name == "AgentComplete":
                member["CallsTaken"] = str(int(member.get("CallsTaken") or 0) + 1)

    def learn(self, messages: list[TraceMessage]) -> None:
        """A recorded QueueStatus answer handed out: its members are the state from then on."""
        for msg in messages:
            h = msg.headers
            if msg.event == "QueueMember" and h.get("Location"):
                self.members[(h.get("Queue", ""), h["Location"])] = {
                    k: h[k] for k in ("Name", "StateInterface", "Membership", "CallsTaken", "InCall", "Status",
                                      "Paused", "PausedReason") if k in h
                }  # fmt: skip

    def core_show_channels(self, action_id: str) -> bytes:
        out = [
            _block(
                [
                    ("Response", "Success"),
                    ("ActionID", action_id),
                    ("EventList", "start"),
                    ("Message", "Channels will follow"),
                ]
            )
        ]
        for ch in self.channels.values():
            out.append(
                _block(
                    [
                        ("Event", "CoreShowChannel"),
                        ("ActionID", action_id),
                        ("Channel", ch.channel),
                        ("ChannelStateDesc", ch.state_desc),
                        ("CallerIDNum", ch.caller_number),
                        ("CallerIDName", ch.caller_name),
                        ("Context", ch.context),
                        ("Exten", ch.exten),
                        ("Uniqueid", ch.uniqueid),
                        ("Linkedid", ch.linkedid),
                        ("Application", ch.application),
                        ("ApplicationData", ch.application_data),
                        ("Duration", _hms(self.now - ch.created)),
                        ("BridgeId", ch.bridge_id),
                    ]
                )
            )
        out.append(
            _block(
                [
                    ("Event", "CoreShowChannelsComplete"),
                    ("ActionID", action_id),
                    ("EventList", "Complete"),
                    ("ListItems", len(self.channels)),
                ]
            )
        )
        return b"".join(out)

    def queue_status(self, action_id: str) -> bytes:
        out = [
            _block(
                [
                    ("Response", "Success"),
                    ("ActionID", action_id),
                    ("EventList", "start"),
                    ("Message", "Queue status will follow"),
                ]
            )
        ]
        items = 0
        queues = set(self.queues) | {q for q, _ in self.members}
        for queue in sorted(queues):
            entries = self.queues.get(queue, {})
            out.append(
                _block([("Event", "QueueParams"), ("Queue", queue), ("Calls", len(entries)), ("ActionID", action_id)])
            )
            items += 1
            for (q, iface), m in self.members.items():
                if q != queue:
                    continue
                out.append(
                    _block(
                        [
                            ("Event", "QueueMember"),
                            ("Queue", queue),
                            ("Name", m.get("Name", "")),
                            ("Location", iface),
                            ("StateInterface", m.get("StateInterface", iface)),
                            ("Membership", m.get("Membership", "static")),
                            ("CallsTaken", m.get("CallsTaken", "0")),
                            ("InCall", m.get("InCall", "0")),
                            ("Status", m.get("Status", "1")),
                            ("Paused", m.get("Paused", "0")),
                            ("PausedReason", m.get("PausedReason", "")),
                            ("ActionID", action_id),
                        ]
                    )
                )
                items += 1
            for pos, e in enumerate(entries.values(), start=1):
                out.append(
                    _block(
                        [
                            ("Event", "QueueEntry"),
                            ("Queue", queue),
                            ("Position", pos),
                            ("Channel", e.channel),
                            ("Uniqueid", e.uniqueid),
                            ("CallerIDNum", e.caller_number),
                            ("CallerIDName", e.caller_name),
                            ("Wait", int(self.now - e.joined)),
                            ("ActionID", action_id),
                        ]
                    )
                )
                items += 1
        out.append(
            _block(
                [
                    ("Event", "QueueStatusComplete"),
                    ("ActionID", action_id),
                    ("EventList", "Complete"),
                    ("ListItems", items),
                ]
            )
        )
        return b"".join(out)

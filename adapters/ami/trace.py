"""Recorded AMI traces (raw wire text, ``\\r\\n`` line ends) split into messages.

A trace holds the banner, unsolicited events (the *stream* a replay plays) and
*response groups*: the recorded answers to actions the recording session sent
(``Login``, ``CoreShowChannels`` …), which a replay server hands back when its
client sends the same action.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

SEPARATOR = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"
DEFAULT_BANNER = b"Asterisk Call Manager/11.0.0\r\n"


@dataclass(frozen=True)
class TraceMessage:
    raw: bytes  # the message with its terminating blank line
    headers: dict[str, str]  # first value of each header, keys as on the wire

    @property
    def event(self) -> str | None:
        return self.headers.get("Event")

    @property
    def action_id(self) -> str | None:
        return self.headers.get("ActionID")

    @property
    def timestamp(self) -> float | None:
        value = self.headers.get("Timestamp")
        try:
            stamp = float(value) if value else None
        except ValueError:
            return None
        return stamp if stamp is not None and math.isfinite(stamp) else None  # a replay may carry bad ones

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)


@dataclass
class ResponseGroup:
    action: str | None  # e.g. "CoreShowChannels"; None when it cannot be told
    action_id: str
    messages: list[TraceMessage] = field(default_factory=list)
    at_event: int = 0  # stream events recorded before this answer (where in the recording it was asked)

    def replayed_for(self, action_id: str) -> bytes:
        old = b"ActionID: " + self.action_id.encode() + b"\r\n"
        new = b"ActionID: " + action_id.encode() + b"\r\n"
        return b"".join(m.raw.replace(old, new) for m in self.messages)


@dataclass
class Trace:
    banner: bytes
    stream: list[TraceMessage]  # unsolicited events, in wire order
    groups: list[ResponseGroup]

    def events(self, name: str) -> list[TraceMessage]:
        return [m for m in self.stream if m.event == name]

    @property
    def stream_bytes(self) -> int:
        return sum(len(m.raw) for m in self.stream)


def parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):
                headers.setdefault(line[:-1], "")
            continue
        headers.setdefault(key, value)
    return headers


def _group_action(group: ResponseGroup) -> str | None:
    for m in group.messages:
        name = m.event or ""
        if name.endswith("Complete"):
            return name[: -len("Complete")]
    first = group.messages[0].headers
    if first.get("Message") == "Authentication accepted":
        return "Login"
    if first.get("Response") == "Goodbye":
        return "Logoff"
    return None


def parse_trace(data: bytes) -> Trace:
    banner = DEFAULT_BANNER
    if data.startswith(BANNER_PREFIX):
        end = data.index(b"\r\n") + 2
        banner, data = data[:end], data[end:]
    stream: list[TraceMessage] = []
    groups: dict[str, ResponseGroup] = {}
    open_lists: set[str] = set()  # groups announced as lists and not yet complete
    for block in data.split(SEPARATOR):
        if not block.strip(b"\r\n"):
            continue
        msg = TraceMessage(block + SEPARATOR, parse_headers(block))
        action_id = msg.action_id
        if msg.event is None and "Response" in msg.headers and action_id:
            group = groups.setdefault(action_id, ResponseGroup(None, action_id, at_event=len(stream)))
            group.messages.append(msg)
            if msg.headers.get("EventList") == "start":
                open_lists.add(action_id)
        elif msg.event is not None and action_id in open_lists:
            groups[action_id].messages.append(msg)
            if msg.headers.get("EventList") == "Complete" or msg.event.endswith("Complete"):
                open_lists.discard(action_id)
        elif msg.event is not None:
            stream.append(msg)
    for group in groups.values():
        group.action = _group_action(group)
    return Trace(banner, stream, list(groups.values()))


def load_trace(path: str | Path) -> Trace:
    return parse_trace(Path(path).read_bytes())


_LOST_MARKER = re.compile(rb"^### connection lost:[^\r\n]*\r?\n", re.MULTILINE)
_MARKER_LINE = re.compile(rb"^###[^\r\n]*\r?\n(\r?\n)?", re.MULTILINE)


def parse_client_recording(data: bytes) -> tuple[Trace, list[int]]:
    """A client's recording across connection losses (``### connection lost: …`` and
    ``### reconnected: …`` marker lines between its connections, as ../shared/asterisk's
    outage.client.ami): one trace whose stream is every connection's events in order, whose
    response groups are every connection's, in order (each login gets its own snapshot back),
    and the stream positions where the connection was lost."""
    stream: list[TraceMessage] = []
    groups: list[ResponseGroup] = []
    losses: list[int] = []
    banner = DEFAULT_BANNER
    for n, part in enumerate(_LOST_MARKER.split(data)):
        trace = parse_trace(_MARKER_LINE.sub(b"", part).lstrip(b"\r\n"))
        if n == 0:
            banner = trace.banner
        else:
            losses.append(len(stream))
        stream += trace.stream
        groups += trace.groups
    return Trace(banner, stream, groups), losses


_ID_LINE = re.compile(rb"^([A-Za-z]*(?:id|ID|Id)): (\d+\.\d+)\r$", re.MULTILINE)


def retag(raw: bytes, suffix: str) -> bytes:
    """Give every Uniqueid/Linkedid-like header a suffix: one recorded call becomes a new call
    (used to replay a trace many times with distinct linkedids)."""
    tail = suffix.encode()
    return _ID_LINE.sub(lambda m: m.group(1) + b": " + m.group(2) + tail + b"\r", raw)


def retagged(trace: Trace, rounds: int) -> Trace:
    """The trace's stream repeated ``rounds`` times, round ``r`` ids suffixed ``-r``."""
    stream: list[TraceMessage] = []
    for r in range(rounds):
        for m in trace.stream:
            raw = retag(m.raw, f"-{r}")
            stream.append(TraceMessage(raw, parse_headers(raw[: -len(SEPARATOR)])))
    return Trace(trace.banner, stream, trace.groups)

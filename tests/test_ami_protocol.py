"""The panoramisk guards, byte by byte (no socket): what the TCP tests rely on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from panoramisk.ami_protocol import AMIProtocol

from adapters.ami.protocol import AMIConnectionLost, HotlineAMIProtocol, SafeManager

EVENT = (
    "Asterisk Call Manager/11.0.0\r\n"
    "Event: QueueCallerJoin\r\nLinkedid: 1.0\r\nCallerIDName: 欧阳娜娜\r\n\r\n"
    "Event: QueueCallerJoin\r\nLinkedid: 2.0\r\nCallerIDName: 张三\r\n\r\n"
).encode()


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written.append(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class Collector:
    """Stands in for the manager: collects dispatched events."""

    forgetable_actions = ("ping", "originate")

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.awaiting_actions: list[Any] = []

    def dispatch(self, event: Any) -> None:
        self.events.append(event)

    def connection_lost(self, exc: Exception | None) -> None:
        pass


def feed(protocol: AMIProtocol, chunks: list[bytes]) -> Collector:
    protocol.connection_made(FakeTransport())
    collector = Collector()
    protocol.factory = collector
    protocol.encoding = "utf8"
    for chunk in chunks:
        protocol.data_received(chunk)
    return collector


def split_every(data: bytes, n: int) -> list[bytes]:
    return [data[i : i + n] for i in range(0, len(data), n)]


@pytest.mark.parametrize("size", [1, 2, 4, 5, 7, 64])
def test_names_split_across_reads_survive(size: int) -> None:
    got = feed(HotlineAMIProtocol(), split_every(EVENT, size))
    assert [e["CallerIDName"] for e in got.events] == ["欧阳娜娜", "张三"]


def test_bare_panoramisk_loses_them() -> None:
    """The control: the same chunks through panoramisk's own protocol damage the names (DESIGN §9)."""
    got = feed(AMIProtocol(), split_every(EVENT, 4))
    assert [e["CallerIDName"] for e in got.events] != ["欧阳娜娜", "张三"]


def test_invalid_utf8_is_replaced_not_dropped() -> None:
    data = b"Event: Hangup\r\nLinkedid: 3.0\r\nCallerIDName: \xff\xfeX\r\n\r\n"
    got = feed(HotlineAMIProtocol(), [data])
    assert got.events[0]["CallerIDName"] == "\ufffd\ufffdX"


def test_a_raising_dispatch_does_not_lose_the_rest_of_the_read() -> None:
    protocol = HotlineAMIProtocol()
    collector = feed(protocol, [])

    def dispatch(event: Any) -> None:
        if event["Linkedid"] == "1.0":
            raise RuntimeError("boom")
        collector.events.append(event)

    collector.dispatch = dispatch  # type: ignore[method-assign]
    protocol.data_received(EVENT)
    assert [e["Linkedid"] for e in collector.events] == ["2.0"]


async def test_no_action_is_kept_for_resending_after_a_loss() -> None:
    """Every action unanswered when the connection goes fails at once; none waits to be re-sent
    (a second Originate places a second call, a second Redirect moves a caller again)."""
    manager = SafeManager(username="u", secret="s")
    protocol = HotlineAMIProtocol()
    protocol.connection_made(FakeTransport())
    manager.attach(protocol, lambda exc: None)
    names = ("Ping", "Originate", "Redirect", "Setvar", "BlindTransfer", "Atxfer", "QueuePause", "Hangup")
    sent = [manager.send_action({"Action": name, "Channel": "PJSIP/1001"}) for name in names]
    protocol.connection_lost(None)
    for future in sent:
        with pytest.raises(AMIConnectionLost):
            await future
    assert list(manager.awaiting_actions) == []


def test_a_repeated_header_keeps_its_first_value() -> None:
    data = b"Event: UserEvent\r\nLinkedid: 1.0\r\nLinkedid: 9.9\r\nScore: 4\r\n\r\n"
    got = feed(HotlineAMIProtocol(), [data])
    assert got.events[0]["Linkedid"] == "1.0"


def test_a_runaway_message_is_dropped_and_the_stream_goes_on() -> None:
    garbage = b"X: " + b"y" * (1 << 20) + b"\r\n"
    got = feed(HotlineAMIProtocol(), [garbage, b"\r\n", EVENT[len("Asterisk Call Manager/11.0.0\r\n") :]])
    assert [e["Linkedid"] for e in got.events] == ["1.0", "2.0"]

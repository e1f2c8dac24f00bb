"""One node's queue members, followed from its session (a :class:`adapters.ami.session.Watcher`):
the board's changes go to the shared :class:`adapters.ami.member_store.MemberWriter`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from panoramisk.message import Message

from adapters.ami.members import MemberBoard, MemberChange
from adapters.ami.records import CallRecord


class MemberWatch:
    def __init__(self, board: MemberBoard, submit: Callable[[MemberChange], None]) -> None:
        self.board = board
        self._submit = submit

    def on_snapshot(
        self, queue_status: list[Message], at: datetime, calls: Iterable[CallRecord], channels: list[Message]
    ) -> None:
        self._send(self.board.snapshot(queue_status, at, calls))

    def on_event(self, message: Message, at: datetime) -> None:
        self._send(self.board.feed(message, at))

    def on_lost(self) -> None:
        pass  # the last known states stand until the reconnect's QueueStatus corrects them

    def tick(self, now: datetime) -> None:
        self._send(self.board.tick(now))

    def _send(self, changes: list[MemberChange]) -> None:
        for change in changes:
            self._submit(change)

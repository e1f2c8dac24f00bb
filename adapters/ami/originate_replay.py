"""A TCP AMI server that answers our actions from the click-to-call and states recordings.

An ``Originate`` is matched to the recorded call that dialled the same citizen number
(``Exten``); the server answers ``Originate successfully queued`` (the driver's log has the
same) and then plays that call's events, with our ActionID in its ``OriginateResponse`` and our
order number in its ``VarSet HOTLINE_ORDER``. ``QueueAdd``/``QueueRemove``/``QueuePause`` get
the responses recorded in ``states`` (the driver's log). ``cut_originates``: for the first N
Originates, close the connection instead of answering, and play the call's events to the next
connection once it has logged in — Asterisk places the call whoever is listening.
``cut_queue_actions`` does the same to the first N queue actions; ``cut_before_hangup`` plays
the first N calls up to their first Hangup and then cuts the link (the call ends unheard).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from adapters.ami.replay import ReplayServer, _Client
from adapters.ami.replay_state import _block
from adapters.ami.trace import Trace, TraceMessage

QUEUE_RESPONSES = {
    "queueadd": "Added interface to queue",
    "queueremove": "Removed interface from queue",
}
RECORDED_ORDER_VARIABLE = "HOTLINE_ORDER"


def _calls_by_citizen(recording: Trace) -> dict[str, tuple[str, str, list[TraceMessage]]]:
    """Citizen number → (recorded ActionID, recorded order number, the call's events in wire order)."""
    calls: dict[str, tuple[str, str, list[TraceMessage]]] = {}
    for response in recording.events("OriginateResponse"):
        linkedid = response.get("Uniqueid") or ""
        events = [m for m in recording.stream if m.get("Linkedid") == linkedid or m is response]
        order = next(m.get("Value") or "" for m in events if m.get("Variable") == RECORDED_ORDER_VARIABLE)
        calls[response.get("Exten") or ""] = (response.action_id or "", order, events)
    return calls


class OriginateReplay(ReplayServer):
    def __init__(
        self,
        recording: Trace,
        *,
        cut_originates: int = 0,
        cut_queue_actions: int = 0,
        cut_before_hangup: int = 0,
        refuse: Iterable[str] = (),
        **options: object,
    ) -> None:
        super().__init__(Trace(recording.banner, [], []), gate_actions=(), **options)  # type: ignore[arg-type]
        self.calls = _calls_by_citizen(recording)
        self.originates: list[dict[str, str]] = []
        self.queue_actions: list[dict[str, str]] = []
        self.cut_originates = cut_originates
        self.cut_queue_actions = cut_queue_actions  # the first N queue actions: acted on, then the link is cut
        self.cut_before_hangup = cut_before_hangup  # the first N calls: the link goes before their hangups
        self.refuse = set(refuse)  # citizen numbers whose Originate is answered with an Error
        self._owed: list[bytes] = []
        self._players: set[asyncio.Task[None]] = set()

    async def _on_action(self, client: _Client, h: dict[str, str]) -> None:
        name = h.get("Action", "").lower()
        aid = h.get("ActionID", "")
        if name == "originate" and client.logged_in:
            self.actions.append(h.get("Action", ""))
            await self._originate(client, h, aid)
        elif name in ("queueadd", "queueremove", "queuepause") and client.logged_in:
            self.actions.append(h.get("Action", ""))
            self.queue_actions.append(h)
            if self.cut_queue_actions > 0:
                self.cut_queue_actions -= 1
                self._hang_up(client)
                return
            paused = (h.get("Paused") or "").lower() == "true"
            message = QUEUE_RESPONSES.get(name) or f"Interface {'paused' if paused else 'unpaused'} successfully"
            await self._send(client, _block([("Response", "Success"), ("ActionID", aid), ("Message", message)]))
        else:
            await super()._on_action(client, h)
            if name == "login" and client.logged_in and self._owed:
                owed, self._owed = b"".join(self._owed), []
                self._play(client, owed)

    async def _originate(self, client: _Client, h: dict[str, str], aid: str) -> None:
        self.originates.append(h)
        citizen = h.get("Exten", "")
        if citizen in self.refuse or citizen not in self.calls:
            await self._send(
                client, _block([("Response", "Error"), ("ActionID", aid), ("Message", "Extension does not exist.")])
            )
            return
        events = self._events_for(citizen, aid, h.get("Variable", ""))
        if self.cut_originates > 0:
            self.cut_originates -= 1
            self._owed.append(events)
            self._hang_up(client)  # the call goes on without us
            return
        await self._send(
            client, _block([("Response", "Success"), ("ActionID", aid), ("Message", "Originate successfully queued")])
        )
        if self.cut_before_hangup > 0:
            self.cut_before_hangup -= 1
            before = events[: events.find(b"Event: Hangup\r\n")]
            await self._send(client, before)
            self._hang_up(client)  # the call ends while nobody listens: its hangups are never heard
            return
        self._play(client, events)

    @staticmethod
    def _hang_up(client: _Client) -> None:
        """Close the connection before the response leaves."""
        client.closed = True
        client.writer.close()

    def _events_for(self, citizen: str, aid: str, variable: str) -> bytes:
        recorded_aid, recorded_order, events = self.calls[citizen]
        _, _, ours = variable.partition("=")
        raw = b"".join(m.raw for m in events)
        raw = raw.replace(f"ActionID: {recorded_aid}\r\n".encode(), f"ActionID: {aid}\r\n".encode())
        return raw.replace(f"Value: {recorded_order}\r\n".encode(), f"Value: {ours}\r\n".encode())

    def _play(self, client: _Client, data: bytes) -> None:
        task = asyncio.create_task(self._send(client, data))
        self._players.add(task)
        task.add_done_callback(self._players.discard)

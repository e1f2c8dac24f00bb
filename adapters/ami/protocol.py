"""panoramisk 1.4, with its pitfalls guarded (DESIGN §9).

- ``HotlineAMIProtocol.data_received`` decodes with an incremental UTF-8 decoder:
  a caller name split across two TCP reads arrives whole (panoramisk decodes each
  read alone with ``errors='ignore'`` and drops the split character).
- Every message is handled in its own ``try``: one bad message or one raising
  handler never closes the connection nor loses the rest of that read.
- A header repeated in one message keeps its first value (panoramisk makes a list of them,
  which every reader would then have to expect; UserEvent carries ``Linkedid`` twice).
- No action is ever re-sent after a reconnect: one unanswered when the connection went has
  its future failed with :class:`AMIConnectionLost` instead of hanging forever. panoramisk
  re-sends all but its ``forgetable_actions``; a re-sent Originate, Redirect, Setvar,
  BlindTransfer, Atxfer or QueuePause acts on the calls a second time, possibly minutes later.
- ``SafeManager`` wraps every event callback (sync or async) so it never raises,
  and leaves keep-alive and
  reconnection to :mod:`adapters.ami.session` (panoramisk's pinger never checks the
  reply, and its reconnect loop cannot be stopped or awaited).
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import unquote

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)

EOL = "\r\n"
SEPARATOR = EOL + EOL
BANNER = "Asterisk Call Manager/"
MAX_PENDING = 1 << 20  # characters of one unfinished message; beyond that the stream is garbage


class _EveryAction:
    """panoramisk's ``forgetable_actions``, holding every action name: none is re-sent."""

    def __contains__(self, name: object) -> bool:
        return True


# Never re-sent after a reconnect. Whoever sent an action learns it failed and decides; our own
# reconciliation actions are issued afresh on every login anyway.
FORGETABLE_ACTIONS = _EveryAction()


class AMIConnectionLost(ConnectionError):
    """The connection closed before the action was answered; it will not be re-sent."""


def _event_extra(message: Any) -> dict[str, Any]:
    try:
        return {
            "ami_event": message.get("Event"),
            "linkedid": message.get("Linkedid"),
            "uniqueid": message.get("Uniqueid"),
        }
    except Exception:  # a broken message must not break the log line about it
        return {}


_HAS_BODY = ("Response: Follows", "Response: Fail")
_QUOTED = frozenset(Message.quoted_keys)


def parse_message(block: str) -> Message | None:
    """One message block as panoramisk's ``Message``, except that a repeated header keeps its
    first value. Fills the message's store directly: ``Message.from_line`` builds a dict, then a
    second one key by key, which was a third of the adapter's time per event."""
    lines = block.split(EOL)
    content = ""
    if lines[0].startswith(_HAS_BODY):
        content = lines.pop()
        while not content and lines:
            content = lines.pop()
    store: dict[str, tuple[str, Any]] = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        low = key.lower()
        if low in store:
            continue
        store[low] = (key, unquote(value).strip() if low in _QUOTED else value)
    if "event" not in store and "response" not in store:
        return None
    store["content"] = ("content", content)
    message = Message.__new__(Message)
    message._store = store
    message.manager = None
    return message


class HotlineAMIProtocol(AMIProtocol):
    """AMIProtocol with an incremental decoder and per-message isolation."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.log = log
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._banner_pending = True
        self.bytes_received = 0
        self.messages_received = 0

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        self.bytes_received += len(data)
        text = self._buffer + self._decoder.decode(data)
        if self._banner_pending:
            if BANNER.startswith(text):  # even the banner may come in pieces
                self._buffer = text
                return
            if text.startswith(BANNER):
                end = text.find(EOL)
                if end < 0:
                    self._buffer = text
                    return
                self.version = text[len(BANNER) : end].strip()
                text = text[end + len(EOL) :]
            self._banner_pending = False
        blocks = text.split(SEPARATOR)
        self._buffer = blocks.pop()
        if len(self._buffer) > MAX_PENDING:
            log.error("AMI message too long without an end; dropped", extra={"ami_block": self._buffer[:500]})
            self._buffer = ""
        for block in blocks:
            block = block.strip()
            if block:
                self._handle_block(block)

    def _handle_block(self, block: str) -> None:
        try:
            message = parse_message(block)
        except Exception:
            log.exception("unparsable AMI message skipped", extra={"ami_block": block[:500]})
            return
        if message is None:
            return
        self.messages_received += 1
        self.handle_message(message)

    def handle_message(self, message: Message) -> None:
        try:
            super().handle_message(message)
        except Exception:
            log.exception("AMI message handling failed; connection kept", extra=_event_extra(message))

    def close(self) -> None:
        factory = getattr(self, "factory", None)
        if factory is not None and self.responses:
            forgetable = factory.forgetable_actions
            for action in {id(a): a for a in self.responses.values()}.values():
                future = action.future
                if future.done():
                    continue
                name = str(action.get("action", "")).lower()
                if name in forgetable or action.responses:
                    future.set_exception(AMIConnectionLost(f"connection lost before {name!r} was answered"))
                    future.exception()  # mark retrieved: nobody may be waiting any more
        super().close()


class SafeManager(Manager):
    """panoramisk Manager whose callbacks never raise; connection lifetime is the session's job."""

    defaults: ClassVar[dict[str, Any]] = dict(
        Manager.defaults, forgetable_actions=FORGETABLE_ACTIONS, protocol_factory=HotlineAMIProtocol
    )

    def __init__(self, **config: Any) -> None:
        config.setdefault("log", log)
        super().__init__(**config)
        self._callback_tasks: set[asyncio.Task[Any]] = set()
        self._on_lost: Callable[[Exception | None], None] | None = None
        self.callback_errors = 0

    def attach(self, protocol: HotlineAMIProtocol, on_lost: Callable[[Exception | None], None]) -> None:
        """Adopt a freshly connected protocol (what ``Manager.connection_made`` does, minus its pinger)."""
        if self.protocol is not None and self.protocol is not protocol:
            self.protocol.close()
        self.protocol = protocol
        protocol.factory = self
        protocol.config = self.config
        protocol.encoding = self.encoding = self.config["encoding"]
        self.responses = protocol.responses
        self.authenticated = False
        self._connected = True
        self._on_lost = on_lost

    def send_awaiting_actions(self, *_: Any) -> None:  # panoramisk's re-send on FullyBooted: never
        self.awaiting_actions.clear()

    def ping(self) -> None:  # panoramisk's unchecked keep-alive: replaced by the session's liveness check
        return None

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("SafeManager connections are opened by adapters.ami.session.NodeSession")

    def connection_lost(self, exc: Exception | None) -> None:
        self._connected = False
        self.authenticated = False
        if self._on_lost is not None:
            self._on_lost(exc)

    def dispatch(self, event: Message) -> list[str]:
        matches: list[str] = []
        event.manager = self
        name = event.event
        for pattern, regexp in self.patterns:
            if regexp.match(name) is None:
                continue
            matches.append(pattern)
            for callback in self.callbacks[pattern]:
                self._call_safely(callback, event)
        return matches

    def _call_safely(self, callback: Callable[..., Any], event: Message) -> None:
        try:
            result = callback(self, event)
        except Exception:
            self.callback_errors += 1
            log.exception("AMI event callback raised; event skipped for it", extra=_event_extra(event))
            return
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            task = asyncio.ensure_future(self._guard(result, event))
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_tasks.discard)

    async def _guard(self, awaitable: Any, event: Message) -> None:
        try:
            await awaitable
        except asyncio.CancelledError:
            raise
        except Exception:
            self.callback_errors += 1
            log.exception("async AMI event callback raised", extra=_event_extra(event))

    async def aclose(self) -> None:
        """Close the connection and cancel and await callback tasks still running."""
        if self.protocol is not None:
            self.protocol.close()
        tasks = list(self._callback_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

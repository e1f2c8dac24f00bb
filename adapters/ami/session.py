"""One Asterisk node: connect, log in, reconcile, listen, check liveness, reconnect.

Life of a connection:
1. TCP connect (timeout), ``Login`` (timeout). A refused login is retried like a
   lost connection, with backoff.
2. Reconcile: ``CoreShowChannels`` and ``QueueStatus`` are sent; events arriving
   meanwhile are held back, the snapshot is applied, then the held events are fed
   in wire order — so an event is never applied to a call the snapshot has not
   created yet.
3. Listen: each event goes through the interpreter; its results go to ``emit``.
   A Ping every ``ping_interval`` must be answered within ``ping_timeout``, or the
   connection is aborted (a half-dead TCP connection is otherwise never noticed).
4. Lost: every live call is flagged (``gap``), backoff doubles from
   ``reconnect_min`` to ``reconnect_max`` (at most 1.5 s; reset after a connection
   that lasted), back to 1.

No event can break a session: a Timestamp that is unreadable, NaN, infinite or far from
the node's clock is not believed (the event takes the receive time and its call is
flagged), so the node clock, which reconciliation reads on every login, stays finite.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from panoramisk.message import Message

from adapters.ami.config import AmiNode
from adapters.ami.interpreter import Interpreter
from adapters.ami.protocol import AMIConnectionLost, HotlineAMIProtocol, SafeManager
from adapters.ami.reconcile import Snapshot, reconcile
from adapters.ami.records import CallChange, CallRecord

log = logging.getLogger(__name__)

STABLE_AFTER = 30.0  # seconds a connection must last before the backoff starts again from the minimum


class AMILoginError(Exception):
    """Asterisk refused our credentials."""


MAX_SKEW = 3600.0  # seconds a Timestamp may stray from the node clock as we know it
CLOCK_STEP_VOTES = 3  # consecutive far Timestamps agreeing with each other: the node's clock was stepped
_PLAUSIBLE = (946684800.0, 7258118400.0)  # 2000-01-01 … 2200-01-01: a first Timestamp outside is garbage


class NodeClock:
    """The node's clock, estimated from event ``Timestamp`` headers (wall clock when there are none).
    Used for times we must estimate (receive time of events without Timestamp, reconciliation)."""

    def __init__(self) -> None:
        self.offset: float | None = None  # node clock minus ours, once a Timestamp told us
        self._votes: list[float] = []  # offsets of consecutive far Timestamps

    def observe(self, timestamp: str | None) -> tuple[datetime, bool]:
        """(receive time on the node clock, whether the event's own Timestamp can be believed)."""
        wall = time.time()
        if not timestamp:
            return self._at(wall), True
        try:
            value = float(timestamp)
        except ValueError:
            return self._at(wall), False
        if not math.isfinite(value) or not _PLAUSIBLE[0] <= value <= _PLAUSIBLE[1]:
            return self._at(wall), False
        offset = value - wall
        if self.offset is None or abs(offset - self.offset) <= MAX_SKEW:
            self.offset, self._votes = offset, []
            return self._at(wall), True
        self._votes = [v for v in self._votes if abs(v - offset) <= MAX_SKEW] + [offset]
        if len(self._votes) >= CLOCK_STEP_VOTES:
            log.warning("the node's clock moved; following it", extra={"seconds": round(offset - self.offset, 3)})
            self.offset, self._votes = offset, []
            return self._at(wall), True
        return self._at(wall), False

    def _at(self, wall: float) -> datetime:
        return datetime.fromtimestamp(wall + (self.offset or 0.0), UTC)

    def now(self) -> datetime:
        return self._at(time.time())


@dataclass
class NodeStats:
    connects: int = 0
    logins: int = 0
    disconnects: int = 0
    liveness_failures: int = 0
    reconcile_failures: int = 0
    events: int = 0
    interpreter_errors: int = 0
    timestamps_replaced: int = 0
    connected: bool = False
    last_event_at: float | None = None


class Watcher(Protocol):
    """Something else that follows the node's state from the same stream (queue members,
    click-to-call outcomes): it gets every QueueStatus and CoreShowChannels answer after a
    (re)connect, then the events in wire order, as the calls do."""

    def on_snapshot(
        self, queue_status: list[Message], at: datetime, calls: Iterable[CallRecord], channels: list[Message]
    ) -> None: ...

    def on_event(self, message: Message, at: datetime) -> None: ...

    def on_lost(self) -> None: ...


def event_time(message: Message, received: datetime, trusted: bool) -> datetime:
    """The event's own Timestamp when it can be believed, else its receive time."""
    stamp = message.get("Timestamp")
    if trusted and stamp:
        try:
            return datetime.fromtimestamp(float(stamp), UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return received


class NodeSession:
    def __init__(
        self,
        node: AmiNode,
        interpreter: Interpreter,
        emit: Callable[[CallChange], None],
        *,
        protocol_factory: type[HotlineAMIProtocol] = HotlineAMIProtocol,
    ) -> None:
        self.node = node
        self.interpreter = interpreter
        self.emit = emit
        self.protocol_factory = protocol_factory
        self.manager = SafeManager(
            host=node.host, port=node.port, username=node.username, encoding="utf8", protocol_factory=protocol_factory
        )
        self.manager.register_event("*", self._on_event)
        self.clock = NodeClock()
        self.stats = NodeStats()
        self.logged_in = asyncio.Event()
        self.watchers: list[Watcher] = []
        self._held: list[tuple[Message, datetime, bool]] | None = None
        self._extra = {"node": node.name, "ami_host": node.host, "ami_port": node.port}

    # -- lifetime -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep a connection up until cancelled."""
        delay = self.node.reconnect_min
        try:
            while True:
                started = time.monotonic()
                try:
                    await self._connection()
                except asyncio.CancelledError:
                    raise
                except AMILoginError as exc:
                    log.error("AMI login refused", extra={**self._extra, "error": str(exc)})
                except (OSError, TimeoutError, AMIConnectionLost) as exc:
                    log.warning("AMI connection failed", extra={**self._extra, "error": repr(exc)})
                except Exception:
                    log.exception("AMI session error", extra=self._extra)
                if time.monotonic() - started > STABLE_AFTER:
                    delay = self.node.reconnect_min
                wait = min(delay * random.uniform(0.8, 1.2), self.node.reconnect_max)  # jitter never past the cap
                log.info("AMI reconnecting", extra={**self._extra, "retry_in": round(wait, 3)})
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.node.reconnect_max)
        finally:
            await self.manager.aclose()

    async def _connection(self) -> None:
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[Exception | None] = loop.create_future()

        def on_lost(exc: Exception | None) -> None:
            if not lost.done():
                lost.set_result(exc)

        transport, protocol = await asyncio.wait_for(
            loop.create_connection(self.protocol_factory, self.node.host, self.node.port),
            self.node.connect_timeout,
        )
        self.stats.connects += 1
        self.manager.attach(protocol, on_lost)
        logged_in = False
        try:
            await self._login()
            logged_in = True
            self.stats.logins += 1
            self.stats.connected = True
            self.logged_in.set()
            log.info("AMI logged in", extra={**self._extra, "ami_version": protocol.version})
            await self._reconcile()
            liveness = asyncio.create_task(self._liveness(protocol), name=f"ami-liveness-{self.node.name}")
            try:
                exc = await lost
            finally:
                liveness.cancel()
                await asyncio.gather(liveness, return_exceptions=True)
            log.warning("AMI connection lost", extra={**self._extra, "error": repr(exc) if exc else None})
        finally:
            self.stats.connected = False
            self.logged_in.clear()
            transport.abort()
            protocol.close()
            if logged_in:
                self.stats.disconnects += 1
                self._flush_held()
                self._mark_gap()
                self._tell_watchers("on_lost")

    async def _login(self) -> None:
        future = self.manager.send_action(
            {
                "Action": "Login",
                "Username": self.node.username,
                "Secret": self.node.secret.get_secret_value(),
                "Events": "on",
            }
        )
        response = await asyncio.wait_for(future, self.node.action_timeout)
        if not response.success:
            raise AMILoginError(response.get("Message") or "login failed")
        self.manager.authenticated = True

    async def _liveness(self, protocol: HotlineAMIProtocol) -> None:
        while True:
            await asyncio.sleep(self.node.ping_interval)
            try:
                await asyncio.wait_for(self.manager.send_action({"Action": "Ping"}), self.node.ping_timeout)
            except (TimeoutError, AMIConnectionLost):
                self.stats.liveness_failures += 1
                log.warning(
                    "AMI liveness check failed: no Pong; reconnecting",
                    extra={**self._extra, "ping_timeout": self.node.ping_timeout},
                )
                if protocol.transport is not None:
                    protocol.transport.abort()  # connection_lost follows and ends the connection
                return

    # -- reconciliation -----------------------------------------------------------------------

    async def _reconcile(self) -> None:
        self._held = []
        try:
            channels = self.manager.send_action({"Action": "CoreShowChannels"})
            queues = self.manager.send_action({"Action": "QueueStatus"})
            answers = asyncio.gather(channels, queues)
            # Cancelled mid-wait (the adapter stopping), the gathering may end with an error nobody
            # reads; asyncio would log it as never retrieved.
            answers.add_done_callback(lambda f: f.cancelled() or f.exception())
            try:
                got = await asyncio.wait_for(answers, self.node.action_timeout)
            except (TimeoutError, AMIConnectionLost) as exc:
                self.stats.reconcile_failures += 1
                log.error("AMI reconciliation failed; live calls stay open", extra={**self._extra, "error": repr(exc)})
                return
            try:
                snapshot = Snapshot.from_messages(*(r if isinstance(r, list) else [r] for r in got))
                changes = reconcile(self.interpreter, snapshot, self.clock.now())
            except Exception:  # a snapshot we cannot read must not cost the connection (a reconnect loop)
                self.stats.reconcile_failures += 1
                log.exception("AMI reconciliation snapshot unreadable; live calls stay open", extra=self._extra)
                return
            for change in changes:
                self.emit(change)
            lists = [r if isinstance(r, list) else [r] for r in got]
            self._tell_watchers("on_snapshot", lists[1], self.clock.now(), list(self.interpreter.active.values()),
                                lists[0])  # fmt: skip
            log.info(
                "AMI reconciled",
                extra={
                    **self._extra,
                    "channels": len(snapshot.channels),
                    "queue_entries": len(snapshot.entries),
                    "calls_changed": len(changes),
                    "events_held": len(self._held),
                },
            )
        finally:
            self._flush_held()

    def _flush_held(self) -> None:
        held, self._held = self._held, None
        for message, received, trusted in held or ():
            self._feed(message, received, trusted)

    def _mark_gap(self) -> None:
        count = self.interpreter.mark_gap()
        for rec in self.interpreter.active.values():
            self.emit(CallChange("updated", rec.snapshot(), live=False))
        if count:
            log.warning("live calls flagged incomplete after a disconnection", extra={**self._extra, "calls": count})

    # -- events -------------------------------------------------------------------------------

    def _on_event(self, manager: Any, message: Message) -> None:
        received, trusted = self.clock.observe(message.get("Timestamp"))
        self.stats.events += 1
        self.stats.last_event_at = time.time()
        if not trusted:
            self.stats.timestamps_replaced += 1
        if self._held is not None:
            self._held.append((message, received, trusted))
            return
        self._feed(message, received, trusted)

    def _feed(self, message: Message, received: datetime, trusted: bool = True) -> None:
        try:
            changes = self.interpreter.feed(message, received, trusted_time=trusted)
        except Exception:
            self.stats.interpreter_errors += 1
            log.exception(
                "AMI event could not be interpreted; skipped",
                extra={**self._extra, "ami_event": message.get("Event"), "linkedid": message.get("Linkedid")},
            )
            return
        for change in changes:
            self.emit(change)
        if self.watchers:
            self._tell_watchers("on_event", message, event_time(message, received, trusted))

    def _tell_watchers(self, what: str, *args: Any) -> None:
        for watcher in self.watchers:
            try:
                getattr(watcher, what)(*args)
            except Exception:  # a watcher's bug must not cost the calls (or the connection)
                self.stats.interpreter_errors += 1
                log.exception("AMI watcher failed; skipped", extra={**self._extra, "watcher": type(watcher).__name__})

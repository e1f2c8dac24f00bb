"""Click-to-call outcomes, learnt from the node's events (README-2, "originate").

``OriginateResponse`` Success / Reason 4 only says the *agent's* line answered. The citizen's
result is the second ``DialEnd`` (Channel = the agent line, DestChannel = the citizen):
ANSWER / NOANSWER / BUSY. The call is tied to its order by the ``HOTLINE_ORDER`` channel
variable (a ``VarSet`` on both halves of the agent's Local channel), so the outcome is learnt
even when the Originate's own response was lost with the connection. The citizen leg's hangup
cause is the first non-zero cause among the citizen's channels (a busy citizen's ``;1`` says 0,
its ``;2`` says 17).

Calls are followed per node (:meth:`OutcomeTracker.watch` gives each node's session its
watcher). A call whose end fell while the link was down is closed by the ``CoreShowChannels``
taken on reconnecting: its channels are gone, so it ended; its outcome is the Dial's result if
that was seen, else ``failed``, and its cause is the citizen's hangup if that was heard before the
link went, else it says the hangup was not seen. An outcome the
database cannot take yet is retried, never dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from adapters.ami.batch_writer import TRANSIENT_ERRORS
from adapters.ami.records import CallRecord
from hotline.orders import store
from hotline.outbound import commands

log = logging.getLogger(__name__)

ORDER_VARIABLE = "HOTLINE_ORDER"
DIAL_OUTCOMES = {"ANSWER": "answered", "NOANSWER": "no answer", "BUSY": "busy"}
# OriginateResponse Reason when the agent's own line did not come up (AST_CONTROL_*).
AGENT_LINE_REASONS = {"3": "no answer", "5": "busy"}


@dataclass
class Outcome:
    command_id: int | None
    order_number: str | None
    outcome: str
    cause: int | None = None
    cause_txt: str | None = None
    linkedid: str | None = None


@dataclass
class _Call:
    linkedid: str
    order_number: str | None = None
    command_id: int | None = None
    dialstatus: str | None = None
    citizen: str | None = None  # the dialled channel's name without its ;1/;2
    causes: list[tuple[int, str]] = field(default_factory=list)


def _base(channel: str) -> str:
    return channel.rsplit(";", 1)[0]


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


UNSEEN_END = "hangup not seen: the AMI link was down"


class OutcomeTracker:
    def __init__(self, pool: asyncpg.Pool, *, retry_max: float = 5.0) -> None:
        self._pool = pool
        self._retry_max = retry_max
        self._queue: asyncio.Queue[Outcome] = asyncio.Queue()
        self.recorded = 0
        self.retries = 0
        self.nodes: dict[str, NodeOutcomes] = {}

    def watch(self, node: str) -> NodeOutcomes:
        """The session watcher following ``node``'s click-to-calls."""
        return self.nodes.setdefault(node, NodeOutcomes(self._put))

    @property
    def open_calls(self) -> int:
        return sum(len(n.calls) for n in self.nodes.values())

    def _put(self, outcome: Outcome) -> None:
        self._queue.put_nowait(outcome)

    async def refused(self, command_id: int, message: str | None) -> None:
        """The node refused the Originate itself (an Error response): nothing was dialled."""
        self._put(Outcome(command_id, None, "failed", None, message or "refused"))

    # -- storing --------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            outcome = await self._queue.get()
            try:
                await self._store(outcome)
            finally:
                self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

    async def _store(self, outcome: Outcome) -> None:
        delay = 0.1
        while True:
            try:
                await self._record(outcome)
                return
            except TRANSIENT_ERRORS as exc:
                self.retries += 1
                log.error("click-to-call outcome not stored yet; retrying",
                          extra={"command_id": outcome.command_id, "retry_in": delay, "error": repr(exc)})  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
            except asyncpg.PostgresError:
                log.exception(
                    "click-to-call outcome rejected by the database", extra={"command_id": outcome.command_id}
                )
                return

    async def _record(self, o: Outcome) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await commands.open_originate(conn, o.command_id, o.order_number)
            if row is None or row["outcome"] is not None:
                return  # not ours, or already known (the same call seen again after a reconnect)
            if not await commands.set_outcome(conn, row["id"], o.outcome, o.cause, o.cause_txt, o.linkedid):
                return
            if row["order_id"] is not None:
                payload = {"command_id": row["id"], "outcome": o.outcome, "hangup_cause": o.cause,
                           "hangup_cause_txt": o.cause_txt}  # fmt: skip
                await store.audit(conn, row["order_id"], None, "citizen_call_ended", None, None, None, payload)
        self.recorded += 1
        log.info(
            "click-to-call outcome",
            extra={"command_id": row["id"], "order_id": row["order_id"], "outcome": o.outcome, "linkedid": o.linkedid},
        )


class NodeOutcomes:
    """One node's click-to-calls in progress (a :class:`adapters.ami.session.Watcher`)."""

    def __init__(self, put: Any) -> None:
        self._put = put
        self.calls: dict[str, _Call] = {}

    def on_snapshot(
        self, queue_status: list[Any], at: datetime, calls: Iterable[CallRecord], channels: list[Any]
    ) -> None:
        """Calls whose channels are all gone ended while we were away."""
        live = {m.get("Linkedid") for m in channels if m.get("Event") == "CoreShowChannel"}
        for linkedid in [k for k in self.calls if k not in live]:
            self._finish(self.calls.pop(linkedid), end_seen=False)

    def on_lost(self) -> None:
        pass  # the calls stay followed: the reconnect's snapshot tells which ended

    def on_event(self, message: Any, at: datetime | None = None) -> None:
        name = message.get("Event")
        linkedid = message.get("Linkedid") or message.get("Uniqueid")
        if name == "VarSet" and message.get("Variable") == ORDER_VARIABLE and linkedid:
            self.calls.setdefault(linkedid, _Call(linkedid)).order_number = message.get("Value") or None
        elif name == "OriginateResponse":
            self._originate_response(message)
        elif linkedid in self.calls:
            call = self.calls[linkedid]
            if name == "DialEnd" and message.get("Channel"):
                call.dialstatus = message.get("DialStatus")
                call.citizen = _base(message.get("DestChannel") or "")
            elif name == "Hangup":
                self._hangup(call, message)

    def _originate_response(self, message: Any) -> None:
        command_id = commands.command_of(message.get("ActionID"))
        if command_id is None:
            return
        linkedid = message.get("Uniqueid") or ""
        if message.get("Response") == "Success" and linkedid and linkedid != "<null>":
            self.calls.setdefault(linkedid, _Call(linkedid)).command_id = command_id
            return
        reason = message.get("Reason") or "0"
        self.calls.pop(linkedid, None)
        self._put(
            Outcome(command_id, None, AGENT_LINE_REASONS.get(reason, "failed"), None, f"agent line: reason {reason}")
        )

    def _hangup(self, call: _Call, message: Any) -> None:
        channel = message.get("Channel") or ""
        if call.citizen and _base(channel) == call.citizen:
            call.causes.append((_int(message.get("Cause")), message.get("Cause-txt") or ""))
        if message.get("Uniqueid") != call.linkedid:
            return
        self.calls.pop(call.linkedid, None)  # the originated agent line is gone: the call is over
        self._finish(call, end_seen=True)

    def _finish(self, call: _Call, *, end_seen: bool) -> None:
        """The outcome of a call that is over. Its cause is the citizen's hangup when that was heard,
        even if the agent line's end (the call's end) fell while the link was down."""
        cause, txt = next((c for c in call.causes if c[0]), call.causes[0] if call.causes else (None, None))
        if not call.causes and not end_seen:
            txt = UNSEEN_END
        outcome = DIAL_OUTCOMES.get(call.dialstatus or "", "failed")
        self._put(Outcome(call.command_id, call.order_number, outcome, cause, txt or call.dialstatus, call.linkedid))

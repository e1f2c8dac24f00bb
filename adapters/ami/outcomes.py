"""Click-to-call outcomes, learnt from the node's events (README-2, "originate").

``OriginateResponse`` Success / Reason 4 only says the *agent's* line answered. The citizen's
result is the second ``DialEnd`` (Channel = the agent line, DestChannel = the citizen):
ANSWER / NOANSWER / BUSY. The call is tied to its order by the ``HOTLINE_ORDER`` channel
variable (a ``VarSet`` on both halves of the agent's Local channel), so the outcome is learnt
even when the Originate's own response was lost with the connection. The citizen leg's hangup
cause is the first non-zero cause among the citizen's channels (a busy citizen's ``;1`` says 0,
its ``;2`` says 17).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg

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


class OutcomeTracker:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._calls: dict[str, _Call] = {}
        self._queue: asyncio.Queue[Outcome] = asyncio.Queue()
        self.recorded = 0

    # -- events (synchronous: called for every event of the node) --------------------------------

    def on_event(self, manager: Any, message: Any) -> None:
        name = message.get("Event")
        linkedid = message.get("Linkedid") or message.get("Uniqueid")
        if name == "VarSet" and message.get("Variable") == ORDER_VARIABLE and linkedid:
            self._calls.setdefault(linkedid, _Call(linkedid)).order_number = message.get("Value") or None
        elif name == "OriginateResponse":
            self._originate_response(message)
        elif linkedid in self._calls:
            call = self._calls[linkedid]
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
            self._calls.setdefault(linkedid, _Call(linkedid)).command_id = command_id
            return
        reason = message.get("Reason") or "0"
        self._calls.pop(linkedid, None)
        self._put(
            Outcome(command_id, None, AGENT_LINE_REASONS.get(reason, "failed"), None, f"agent line: reason {reason}")
        )

    def _hangup(self, call: _Call, message: Any) -> None:
        channel = message.get("Channel") or ""
        if call.citizen and _base(channel) == call.citizen:
            call.causes.append((_int(message.get("Cause")), message.get("Cause-txt") or ""))
        if message.get("Uniqueid") != call.linkedid:
            return
        self._calls.pop(call.linkedid, None)  # the originated agent line is gone: the call is over
        cause, txt = next((c for c in call.causes if c[0]), call.causes[0] if call.causes else (None, None))
        outcome = DIAL_OUTCOMES.get(call.dialstatus or "", "failed")
        self._put(Outcome(call.command_id, call.order_number, outcome, cause, txt or call.dialstatus, call.linkedid))

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
                await self._record(outcome)
            except (OSError, asyncpg.PostgresError):
                log.exception("click-to-call outcome not stored", extra={"command_id": outcome.command_id})
            finally:
                self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

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

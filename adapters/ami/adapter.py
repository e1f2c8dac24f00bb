"""The AMI adapter: one session per Asterisk node, one writer, one screen-pop worker.

Wiring (e.g. from the app's cleanup context)::

    adapter = AmiAdapter(parse_nodes(os.environ["HOTLINE_AMI_NODES"]), pool, redis)
    await adapter.start()
    ...
    await adapter.stop()

``start`` adopts the calls a previous process left open, then starts the tasks;
``stop`` cancels the sessions, lets the writer commit what it holds (bounded by
``flush_timeout``), then cancels and awaits every task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from adapters.ami.commands import CommandSender
from adapters.ami.config import AmiNode
from adapters.ami.interpreter import Interpreter
from adapters.ami.member_store import MemberWriter, load_members
from adapters.ami.member_watch import MemberWatch
from adapters.ami.members import MemberBoard
from adapters.ami.outcomes import OutcomeTracker
from adapters.ami.protocol import HotlineAMIProtocol
from adapters.ami.screenpop import ScreenPop
from adapters.ami.session import NodeSession
from adapters.ami.store import load_open_calls
from adapters.ami.writer import CallWriter
from hotline.wallboard.push import WallboardPush

log = logging.getLogger(__name__)


class AmiAdapter:
    def __init__(
        self,
        nodes: Sequence[AmiNode],
        pool: asyncpg.Pool,
        redis: aioredis.Redis | None,
        *,
        flush_timeout: float = 5.0,
        protocol_factory: type[HotlineAMIProtocol] = HotlineAMIProtocol,
        command_ttl: float = 30.0,
        wrapup: Mapping[str, int] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock``: the services' clock (``hotline.orders.change.Services``), for what the
        adapter tells at "now" rather than at an event's time: the wallboard's waits and day."""
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"AMI node names must be unique: {names}")
        self.nodes = list(nodes)
        self._pool = pool
        self._flush_timeout = flush_timeout
        self._protocol_factory = protocol_factory
        self.screenpop = ScreenPop(pool, redis)
        # The wallboard is pushed after a commit that changed what it shows (calls or members).
        self.wallboard = WallboardPush(pool, redis, clock=clock)
        self.writer = CallWriter(pool, on_answered=self.screenpop.submit, on_committed=self.wallboard.nudge)
        self.member_writer = MemberWriter(pool, on_committed=self.wallboard.nudge)
        self.members: dict[str, MemberWatch] = {}
        self._wrapup = dict(wrapup or {})
        self.sessions: dict[str, NodeSession] = {}
        # The durable command channel (click-to-call, presence actions): one sender per node.
        self.outcomes = OutcomeTracker(pool)
        self.senders: dict[str, CommandSender] = {}
        self._command_ttl = command_ttl
        self._session_tasks: list[asyncio.Task[None]] = []
        self._worker_tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if self._session_tasks or self._worker_tasks:
            raise RuntimeError("AmiAdapter already started")
        for node in self.nodes:
            interpreter = Interpreter(node.name)
            async with self._pool.acquire() as conn:
                left_open = await load_open_calls(conn, node.name)
                members = await load_members(conn, node.name)
            interpreter.adopt(left_open)
            if left_open:
                log.warning(
                    "adopted calls left open by an earlier run", extra={"node": node.name, "calls": len(left_open)}
                )
            session = NodeSession(node, interpreter, self.writer.submit, protocol_factory=self._protocol_factory)
            board = MemberBoard(node.name, self._wrapup)
            board.adopt(members)
            self.members[node.name] = MemberWatch(board, self.member_writer.submit)
            session.watchers.append(self.members[node.name])
            self.sessions[node.name] = session
        self._worker_tasks = [
            self._spawn(self.writer.run(), "ami-writer"),
            self._spawn(self.member_writer.run(), "ami-member-writer"),
            self._spawn(self.screenpop.run(), "ami-screenpop"),
            self._spawn(self.wallboard.run(), "ami-wallboard"),
            self._spawn(self._wrapups(), "ami-wrapups"),
        ]
        for name, session in self.sessions.items():
            session.watchers.append(self.outcomes.watch(name))
            self.senders[name] = CommandSender(self._pool, session, self.outcomes, ttl=self._command_ttl)
            self._worker_tasks.append(self._spawn(self.senders[name].run(), f"ami-commands-{name}"))
        self._worker_tasks.append(self._spawn(self.outcomes.run(), "ami-outcomes"))
        self._session_tasks = [self._spawn(s.run(), f"ami-session-{name}") for name, s in self.sessions.items()]
        log.info("AMI adapter started", extra={"nodes": [n.name for n in self.nodes]})

    async def stop(self) -> None:
        await _cancel(self._session_tasks)
        try:
            await asyncio.wait_for(self.flush(), self._flush_timeout)
        except TimeoutError:
            log.error(
                "AMI adapter stopped before every call change was stored",
                extra={"pending_changes": self.writer.pending},
            )
        await _cancel(self._worker_tasks)
        self._session_tasks, self._worker_tasks = [], []
        log.info("AMI adapter stopped", extra={"rows_written": self.writer.rows_written})

    async def flush(self) -> None:
        """Wait until every change received so far is committed and its screen-pop sent."""
        await self.writer.join()
        await self.member_writer.join()
        await self.screenpop.join()
        await self.outcomes.join()

    def status(self) -> dict[str, Any]:
        """Per-node figures for health checks and metrics."""
        return {
            name: {**vars(s.stats), "live_calls": len(s.interpreter.active)} for name, s in self.sessions.items()
        } | {"_writer": {"pending": self.writer.pending, "rows_written": self.writer.rows_written}}

    async def _wrapups(self) -> None:
        """End wrap-ups on time: no event marks the end of a queue's wrap-up time."""
        while True:
            await asyncio.sleep(1.0)
            for name, watch in self.members.items():
                watch.tick(self.sessions[name].clock.now())

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_report_death)
        return task


def _report_death(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("AMI adapter task died", extra={"task": task.get_name()}, exc_info=task.exception())


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

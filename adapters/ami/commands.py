"""The ami role's half of the durable command channel (``hotline.outbound.commands``).

For each node, pending commands are claimed while the session is logged in, marked ``sent``
in a committed write, and only then written to the wire with ActionID ``cmd-<id>``. The
response makes the row ``answered`` or ``failed``; a connection lost (or a response not
coming within the node's ``action_timeout``) makes it ``unknown``. Nothing is ever re-sent:
an Originate sent twice rings the citizen twice. An Originate's outcome is learnt from
events (``adapters.ami.outcomes``) whether or not its response arrived.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from adapters.ami.outcomes import OutcomeTracker
from adapters.ami.protocol import AMIConnectionLost
from adapters.ami.session import NodeSession
from hotline.outbound import commands

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
TTL_SECONDS = 30.0  # a command still pending after this is failed, not sent late


def headers_of(message: Any) -> dict[str, str]:
    """An AMI response's headers as a JSON-able dict."""
    return {str(k): str(v) for k, v in message.items() if str(k).lower() != "content"}


class CommandSender:
    def __init__(
        self,
        pool: asyncpg.Pool,
        session: NodeSession,
        tracker: OutcomeTracker,
        *,
        poll: float = POLL_SECONDS,
        ttl: float = TTL_SECONDS,
    ) -> None:
        self._pool = pool
        self._session = session
        self._tracker = tracker
        self._poll = poll
        self._ttl = ttl
        self._inflight: set[asyncio.Task[None]] = set()
        self.sent = 0

    async def run(self) -> None:
        node = self._session.node.name
        try:
            while True:
                await self._session.logged_in.wait()
                try:
                    await self._expire(node)
                    row = await commands.claim(self._pool, node)
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("AMI commands: claim failed; retrying", extra={"node": node, "error": repr(exc)})
                    row = None
                if row is None:
                    await asyncio.sleep(self._poll)
                    continue
                task = asyncio.create_task(self._send(row), name=f"ami-command-{row['id']}")
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        finally:
            for task in list(self._inflight):
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _expire(self, node: str) -> None:
        for row in await commands.expire(self._pool, node, self._ttl):
            log.warning(
                "AMI command expired before the node was reachable; not sent",
                extra={"node": node, "command_id": row["id"], "kind": row["kind"], "order_id": row["order_id"]},
            )
            if row["kind"] == "originate":
                await self._tracker.refused(row["id"], "expired: the telephony node was unreachable")

    async def _send(self, row: asyncpg.Record) -> None:
        command_id = row["id"]
        extra = {
            "node": self._session.node.name,
            "command_id": command_id,
            "kind": row["kind"],
            "order_id": row["order_id"],
        }
        action = {**row["action"], "ActionID": commands.action_id(command_id)}
        try:
            # as_list=False: an async Originate's future ends with its first response; the
            # OriginateResponse event then reaches the tracker like every other event.
            future = self._session.manager.send_action(action, as_list=False)
            self.sent += 1
            response = await asyncio.wait_for(future, self._session.node.action_timeout)
        except (TimeoutError, AMIConnectionLost, AttributeError, OSError) as exc:
            log.warning(
                "AMI command sent, its response lost: unknown, not re-sent", extra={**extra, "error": repr(exc)}
            )
            await self._store(command_id, "unknown", None, extra)
            return
        headers = headers_of(response)
        state = "answered" if headers.get("Response") == "Success" else "failed"
        log.info("AMI command answered", extra={**extra, "state": state, "ami_message": headers.get("Message")})
        await self._store(command_id, state, headers, extra)
        if state == "failed" and row["kind"] == "originate":
            await self._tracker.refused(command_id, headers.get("Message"))

    async def _store(self, command_id: int, state: str, headers: dict[str, str] | None, extra: dict[str, Any]) -> None:
        try:
            await commands.finish(self._pool, command_id, state, headers)
        except (OSError, asyncpg.PostgresError):
            log.exception("AMI command result not stored", extra=extra)

"""An agent's presence as AMI commands: sign in to / out of the queues (QueueAdd / QueueRemove
with the agent's Interface and MemberName) and busy with a reason / ready (QueuePause without a
Queue: every queue the member is in, as the ``states`` recording shows)."""

from __future__ import annotations

from typing import Any

import asyncpg

from hotline.auth import Principal
from hotline.config import Settings
from hotline.errors import InvalidInput
from hotline.outbound import calls, commands


def pause_reasons(settings: Settings) -> list[str]:
    return [r.strip() for r in settings.pause_reasons.split(",") if r.strip()]


def _actions(settings: Settings, kind: str, interface: str, name: str, reason: str | None) -> list[dict[str, Any]]:
    queues = [q for q in settings.agent_queues.split(",") if q]
    if kind == "queue_add":
        return [{"Action": "QueueAdd", "Queue": q, "Interface": interface, "MemberName": name,
                 "StateInterface": interface, "Penalty": "0"} for q in queues]  # fmt: skip
    if kind == "queue_remove":
        return [{"Action": "QueueRemove", "Queue": q, "Interface": interface} for q in queues]
    if kind == "queue_pause":
        return [{"Action": "QueuePause", "Interface": interface, "Paused": "true", "Reason": reason or ""}]
    return [{"Action": "QueuePause", "Interface": interface, "Paused": "false"}]


async def queue(
    conn: asyncpg.Connection, settings: Settings, p: Principal, kind: str, reason: str | None, key: str | None
) -> list[asyncpg.Record]:
    """The commands for one presence change, in one transaction (one key covers them all)."""
    if kind == "queue_pause" and reason not in pause_reasons(settings):
        raise InvalidInput("unknown pause reason", {"reason": reason, "known": pause_reasons(settings)})
    node = calls.command_node(settings)
    interface, name = await calls.agent_interface(conn, p)
    rows = []
    for n, action in enumerate(_actions(settings, kind, interface, name, reason)):
        part = f"{key}#{n}" if key else None
        rows.append(await commands.add(conn, commands.NewCommand(kind, node, action, p.user_id, None, part)))
    return rows

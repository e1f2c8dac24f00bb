"""The ``ami_commands`` table: AMI actions asked for by the API and sent once by the ami role.

The API inserts a row (``add``) in the same transaction as the order's audit event; the
sender (``adapters.ami.commands``) claims it, commits ``sent`` *before* writing it to the
wire, then records the response. A row that was ``sent`` when the connection went is
``unknown`` and is never sent again: Asterisk may well have acted on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

ACTION_ID_PREFIX = "cmd-"
COLUMNS = (
    "id, kind, node, state, order_id, outcome, hangup_cause, hangup_cause_txt, response, "
    "created_at, sent_at, done_at, outcome_at"
)


def action_id(command_id: int) -> str:
    return f"{ACTION_ID_PREFIX}{command_id}"


def command_of(action_id_value: str | None) -> int | None:
    """The command id an ActionID names, or None when it is not one of ours."""
    if not action_id_value or not action_id_value.startswith(ACTION_ID_PREFIX):
        return None
    digits = action_id_value[len(ACTION_ID_PREFIX) :]
    return int(digits) if digits.isdigit() else None


@dataclass(frozen=True)
class NewCommand:
    kind: str
    node: str
    action: dict[str, Any]
    user_id: int | None = None
    order_id: int | None = None
    idempotency_key: str | None = None


async def add(conn: asyncpg.Connection, command: NewCommand) -> asyncpg.Record:
    """Insert a pending command; with a key already used by this user, the first command instead."""
    row = await conn.fetchrow(
        f"""INSERT INTO ami_commands (user_id, idempotency_key, kind, node, action, order_id)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (user_id, idempotency_key) DO NOTHING
            RETURNING {COLUMNS}""",
        command.user_id, command.idempotency_key, command.kind, command.node, command.action, command.order_id,
    )  # fmt: skip
    if row is None:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM ami_commands WHERE user_id = $1 AND idempotency_key = $2",
            command.user_id, command.idempotency_key,
        )  # fmt: skip
    return row


async def expire(pool: asyncpg.Pool, node: str, ttl_seconds: float) -> list[asyncpg.Record]:
    """Fail the node's pending commands older than ``ttl_seconds``: a call to a citizen placed
    minutes after the agent asked (the node was unreachable meanwhile) is worse than none."""
    return await pool.fetch(
        """UPDATE ami_commands SET state = 'failed', done_at = now(),
                  response = jsonb_build_object('Message', 'expired: the telephony node was unreachable')
           WHERE node = $1 AND state = 'pending' AND created_at < now() - make_interval(secs => $2)
           RETURNING id, kind, order_id""",
        node, ttl_seconds,
    )  # fmt: skip


async def claim(pool: asyncpg.Pool, node: str) -> asyncpg.Record | None:
    """The oldest pending command of ``node``, marked ``sent`` in a committed write."""
    async with pool.acquire() as conn:
        return await conn.fetchrow(
            """UPDATE ami_commands SET state = 'sent', sent_at = now()
               WHERE id = (SELECT id FROM ami_commands WHERE node = $1 AND state = 'pending'
                           ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
               RETURNING id, kind, action, order_id""",
            node,
        )


async def finish(pool: asyncpg.Pool, command_id: int, state: str, response: dict[str, Any] | None) -> None:
    await pool.execute(
        "UPDATE ami_commands SET state = $2, response = $3, done_at = now() WHERE id = $1 AND state = 'sent'",
        command_id, state, response,
    )  # fmt: skip


async def for_order(conn: asyncpg.Connection, order_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {COLUMNS} FROM ami_commands WHERE order_id = $1 AND kind = 'originate' ORDER BY id", order_id
    )


async def open_originate(
    conn: asyncpg.Connection, command_id: int | None, order_number: str | None
) -> asyncpg.Record | None:
    """The click-to-call an outcome belongs to: by its ActionID, else the order's newest attempt
    still without an outcome (the response was lost with the connection)."""
    if command_id is not None:
        row = await conn.fetchrow("SELECT id, order_id, outcome FROM ami_commands WHERE id = $1", command_id)
        if row is not None:
            return row
    if order_number is None:
        return None
    return await conn.fetchrow(
        """SELECT c.id, c.order_id, c.outcome FROM ami_commands c JOIN work_orders o ON o.id = c.order_id
           WHERE o.number = $1 AND c.kind = 'originate' AND c.outcome IS NULL AND c.state <> 'pending'
           ORDER BY c.id DESC LIMIT 1""",
        order_number,
    )


async def set_outcome(
    conn: asyncpg.Connection,
    command_id: int,
    outcome: str,
    cause: int | None,
    cause_txt: str | None,
    linkedid: str | None,
) -> bool:
    """Record a click-to-call's outcome once; False when it already had one (a repeated event)."""
    done = await conn.fetchval(
        """UPDATE ami_commands SET outcome = $2, hangup_cause = $3, hangup_cause_txt = $4, linkedid = $5,
                  outcome_at = now()
           WHERE id = $1 AND outcome IS NULL RETURNING true""",
        command_id, outcome, cause, cause_txt, linkedid,
    )  # fmt: skip
    return bool(done)

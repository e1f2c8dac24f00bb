"""Click-to-call as a state change of the order: the Originate command and the order's audit
event in one transaction. The citizen's number goes into the command's AMI headers only: no
answer, audit event, push or log line carries it (units see the order's history)."""

from __future__ import annotations

from typing import Any

import asyncpg

from adapters.ami.config import parse_nodes
from adapters.ami.outcomes import ORDER_VARIABLE
from hotline.auth import Principal
from hotline.config import Settings
from hotline.errors import InvalidInput, NotFound
from hotline.orders import store
from hotline.outbound import commands


def command_node(settings: Settings) -> str:
    """The node actions go to (the first configured). None configured is a 404: telephony is a door
    this deployment has not opened (as the SMS routes without a gateway), not a dependency that is
    down — and never a silent queue."""
    nodes = parse_nodes(settings.ami_nodes)
    if not nodes:
        raise NotFound("no telephony node is configured (HOTLINE_AMI_NODES)", {"dependency": "ami"})
    return nodes[0].name


def extension_of(interface: str) -> str:
    """``Local/1002@agents/n`` → ``1002``."""
    return interface.split("/", 1)[-1].split("@", 1)[0]


async def agent_interface(conn: asyncpg.Connection, p: Principal) -> tuple[str, str]:
    """The user's queue member Interface and MemberName; a user without a phone cannot call."""
    row = await conn.fetchrow("SELECT agent_interface, agent_name FROM users WHERE id = $1", p.user_id)
    if row is None or not row["agent_interface"]:
        raise InvalidInput("this account has no agent phone", {"username": p.username})
    return row["agent_interface"], row["agent_name"] or p.username


def originate_action(settings: Settings, interface: str, number: str, order_number: str) -> dict[str, Any]:
    return {
        "Action": "Originate",
        "Channel": settings.agent_phone.format(extension=extension_of(interface)),
        "Context": settings.outbound_context,
        "Exten": number,
        "Priority": "1",
        "CallerID": settings.centre_caller_id,
        "Variable": f"{ORDER_VARIABLE}={order_number}",
        "Timeout": str(settings.originate_timeout_ms),
        "Async": "true",
    }


async def place(
    conn: asyncpg.Connection, settings: Settings, p: Principal, order_id: int, key: str | None
) -> asyncpg.Record:
    """Queue the Originate for the order's citizen and write its audit event (same transaction)."""
    order = await conn.fetchrow(
        "SELECT id, number, caller_number, contact_allowed FROM work_orders WHERE id = $1 FOR UPDATE", order_id
    )
    if order is None:
        raise NotFound("no such order", {"order_id": order_id})
    number = order["caller_number"] or ""
    if not (number.isascii() and number.isdigit()):
        raise InvalidInput("the order has no citizen number to call", {"order_id": order_id})
    node = command_node(settings)  # after the 404: a missing order is missing, node or not
    interface, _ = await agent_interface(conn, p)
    action = originate_action(settings, interface, number, order["number"])
    row = await commands.add(conn, commands.NewCommand("originate", node, action, p.user_id, order_id, key))
    # now() is this transaction's start: a command an earlier request made (same key) is older.
    if row["created_at"] == await conn.fetchval("SELECT now()"):
        await store.audit(conn, order_id, None, "citizen_call_placed", p, None, None, {"command_id": row["id"]})
    return row


async def request_by_unit(conn: asyncpg.Connection, p: Principal, order_id: int) -> None:
    """A unit asks the centre to reach the citizen: recorded in the order's history for the centre,
    which places the call itself; the unit never learns the number."""
    await store.audit(conn, order_id, None, "citizen_call_requested", p, None, None, {})

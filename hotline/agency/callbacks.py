"""A unit's callbacks on one assignment (sign, reply, return, ...), each one transaction.

The transaction takes the idempotency key, finds the assignment (an invisible one is 404,
exactly like a missing one), runs the lifecycle action on it
(``actions.act_in_transaction`` with the assignment it targets) and stores the answer
under the key — all in one commit. Live events go out only after it.

Who may do what is decided in the core action, the same for this API and the staff API:
the unit's own actions (sign, reply, return, extension, note, contact) on its open
assignment; the dispatcher's (review, extension decision) by the unit that dispatched it
(a hub over the units under it). A visible assignment the caller may not act on is 403.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from hotline.agency import idempotency
from hotline.agency.assignments import assignment_view, require_unit, visible_assignment
from hotline.auth import Principal
from hotline.orders import actions
from hotline.orders import models as m
from hotline.orders.states import Action

log = logging.getLogger(__name__)


class Side(StrEnum):
    UNIT = "unit"  # the assigned unit acts on its own assignment
    DISPATCHER = "dispatcher"  # the unit that dispatched the assignment decides on it


@dataclass(frozen=True)
class Operation:
    name: str  # the last path segment(s): /api/units/me/assignments/{id}/<name>
    action: Action
    side: Side
    body: type[m.ActionBody]
    summary: str


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("sign", Action.SIGN, Side.UNIT, m.Empty, "Sign for the assignment (签收)"),
        Operation("reply", Action.REPLY, Side.UNIT, m.Reply, "Reply with the result (回复)"),
        Operation("return", Action.RETURN, Side.UNIT, m.Return, "Return a misrouted order with a reason (退单)"),
        Operation("extension", Action.REQUEST_EXTENSION, Side.UNIT, m.ExtensionRequest, "Ask for more time (延期)"),
        Operation("notes", Action.NOTE, Side.UNIT, m.NoteBody, "Add a progress note (进展)"),
        Operation("contact", Action.CONTACT, Side.UNIT, m.Contact, "Record contact with the citizen (联系诉求人)"),
        Operation("review", Action.REVIEW, Side.DISPATCHER, m.Review, "Hub: accept or send back a reply (审核)"),
        Operation(
            "extension-decision",
            Action.DECIDE_EXTENSION,
            Side.DISPATCHER,
            m.ExtensionDecision,
            "Hub: approve or deny an extension request",
        ),
    )
}


@dataclass(frozen=True)
class Outcome:
    status: int
    body: Any
    replayed: bool = False


async def perform(
    pool: asyncpg.Pool,
    services: actions.Services,
    principal: Principal,
    assignment_id: int,
    op: Operation,
    body: dict[str, Any],
    *,
    path: str,
    idempotency_key: str | None,
) -> Outcome:
    unit_id = require_unit(principal)
    payload = actions.parse_payload(op.action, body)  # a 422 before any transaction
    digest = idempotency.request_hash("POST", path, body)
    stored = None
    async with pool.acquire() as conn, conn.transaction():
        if idempotency_key is not None:
            stored = await idempotency.claim(conn, unit_id, idempotency_key, digest)
        if stored is None:
            a = await visible_assignment(conn, principal, assignment_id)
            updated, change = await actions.act_in_transaction(
                conn, services, principal, a["order_id"], op.action, payload, assignment_id=assignment_id
            )
            result = assignment_view(await visible_assignment(conn, principal, assignment_id), updated, principal)
            if idempotency_key is not None:
                await idempotency.record(conn, unit_id, idempotency_key, 200, result)
    # Logged and announced after the commit: nothing here holds the order's lock.
    if stored is not None:
        log.info(
            "callback replayed",
            extra={"unit_id": unit_id, "assignment_id": assignment_id, "idempotency_key": idempotency_key},
        )
        return Outcome(stored.status, stored.body, replayed=True)
    await actions.publish_change(services, updated, change)
    log.info(
        "callback applied",
        extra={
            "unit_id": unit_id, "assignment_id": assignment_id, "order_id": a["order_id"], "action": op.action.value,
            "order_status": updated["status"], "via": "hmac" if principal.user_id is None else "bearer",
        },
    )  # fmt: skip
    return Outcome(200, result)

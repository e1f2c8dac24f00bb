"""A unit's callbacks on one assignment (sign, reply, return, ...), each one transaction.

The transaction takes the idempotency key, locks the order, checks the assignment is
the caller's to act on and still open, runs the lifecycle action
(``actions.act_in_transaction``) and stores the answer under the key — all in one
commit. Live events go out only after it.

Who may call what on an assignment ``a``:
- the unit's own actions (sign, reply, return, extension, note, contact): ``a`` is the
  caller's unit's and open;
- the dispatcher's (review, extension decision): the caller's unit dispatched ``a``
  (a hub over the units under it).
A visible assignment the caller may not act on is 403; an invisible one is 404.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from adapters.webhook import idempotency
from adapters.webhook.assignments import OPEN, assignment_view, require_unit, visible_assignment
from adapters.webhook.errors import AssignmentClosed, NotYourAssignment
from hotline.auth import Principal
from hotline.errors import Conflict, InvalidInput, NotFound
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
    if op.action is Action.DECIDE_EXTENSION:
        if body.get("assignment_id", assignment_id) != assignment_id:
            raise InvalidInput("assignment_id in the body differs from the one in the path", {"path": assignment_id})
        body = {**body, "assignment_id": assignment_id}
    payload = actions.parse_payload(op.action, body)  # a 422 before any transaction
    digest = idempotency.request_hash("POST", path, body)
    async with pool.acquire() as conn, conn.transaction():
        if idempotency_key is not None:
            stored = await idempotency.claim(conn, unit_id, idempotency_key, digest)
            if stored is not None:
                log.info(
                    "callback replayed",
                    extra={"unit_id": unit_id, "assignment_id": assignment_id, "idempotency_key": idempotency_key},
                )
                return Outcome(stored.status, stored.body, replayed=True)
        a = await _actionable(conn, principal, assignment_id, op)
        updated, change = await actions.act_in_transaction(conn, services, principal, a["order_id"], op.action, payload)
        result = assignment_view(await visible_assignment(conn, principal, assignment_id), updated, principal)
        if idempotency_key is not None:
            await idempotency.record(conn, unit_id, idempotency_key, 200, result)
    await actions.publish_change(services, updated, change)
    log.info(
        "callback applied",
        extra={
            "unit_id": unit_id, "assignment_id": assignment_id, "order_id": a["order_id"], "action": op.action.value,
            "order_status": updated["status"], "via": "hmac" if principal.user_id is None else "bearer",
        },
    )  # fmt: skip
    return Outcome(200, result)


# The assignment, if visible to the caller's unit ($2), with the ids the lifecycle would act on:
# the unit's current open assignment on the order (lead first) and the order's.
_ACTIONABLE = """
    SELECT a.*, u.code AS unit_code,
           (SELECT c.id FROM assignments c WHERE c.order_id = a.order_id AND c.unit_id = $2
               AND c.status = ANY($3::text[]) ORDER BY (c.role = 'lead') DESC, c.id DESC LIMIT 1) AS unit_current,
           (SELECT c.id FROM assignments c WHERE c.order_id = a.order_id
               AND c.status = ANY($3::text[]) ORDER BY (c.role = 'lead') DESC, c.id DESC LIMIT 1) AS order_current
    FROM assignments a JOIN units u ON u.id = a.unit_id
    WHERE a.id = $1 AND a.unit_id IN (SELECT id FROM units WHERE id = $2 OR parent_id = $2)"""


async def _actionable(
    conn: asyncpg.Connection, principal: Principal, assignment_id: int, op: Operation
) -> asyncpg.Record:
    """The assignment, with its order locked, if the caller may take ``op`` on it now."""
    # Lock the order first (as the action will), then read: the checks below hold until commit.
    await conn.execute(
        "SELECT 1 FROM work_orders WHERE id = (SELECT order_id FROM assignments WHERE id = $1) FOR UPDATE",
        assignment_id,
    )
    a = await conn.fetchrow(_ACTIONABLE, assignment_id, principal.unit_id, list(OPEN))
    if a is None:
        raise NotFound("no such assignment", {"assignment_id": assignment_id})
    if op.side is Side.UNIT:
        if a["unit_id"] != principal.unit_id:
            raise NotYourAssignment(
                f"this assignment is {a['unit_code']}'s; a hub reads the assignments of its units but cannot "
                f"{op.name} for them",
                {"assignment_id": assignment_id, "unit_id": a["unit_id"]},
            )
        if a["status"] not in OPEN:
            raise AssignmentClosed(
                f"this assignment is {a['status']}; it takes no more actions",
                {"assignment_id": assignment_id, "status": a["status"]},
            )
        # The lifecycle acts on the unit's open assignment on the order, the lead first: that must be this one.
        current = a["unit_current"]
    else:
        if a["dispatcher_unit_id"] != principal.unit_id:
            raise NotYourAssignment(
                f"only the unit that dispatched this assignment may {op.name} it", {"assignment_id": assignment_id}
            )
        if a["status"] not in OPEN:
            raise AssignmentClosed(
                f"this assignment is {a['status']}; there is nothing to decide",
                {"assignment_id": assignment_id, "status": a["status"]},
            )
        # The decision names its assignment; a review works on the order's open lead.
        current = a["id"] if op.action is Action.DECIDE_EXTENSION else a["order_current"]
    if current != a["id"]:
        raise Conflict(
            "another assignment on this order is the current one; act on that one",
            {"assignment_id": assignment_id, "current_assignment_id": current},
        )
    return a

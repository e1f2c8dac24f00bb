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
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import asyncpg

from adapters.webhook import signing
from hotline import access_log
from hotline.agency import idempotency, nonces
from hotline.agency.assignments import VISIBLE_UNITS, assignment_view, require_unit, visible_assignment
from hotline.auth import Principal
from hotline.errors import NotFound
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
    # The looks at unmasked personal data in ``body`` logged in the action's own commit.
    looks: list[access_log.Seen] = field(default_factory=list)


# The nonce's claim ($5 NULL: none to claim here), the idempotency key's ($2 NULL: none sent),
# the assignment's visibility to the unit ($1) and the order's lock, in one round trip; no row
# when the nonce or the key was seen before, or the assignment is not the unit's to see. A
# concurrent twin waits on the key's row until this commits (and then finds the answer) or
# rolls back (and then runs itself).
_NONCE_NEW = "($5::text IS NULL OR EXISTS (SELECT 1 FROM nonce))"
_CLAIM_AND_LOCK = f"""
    WITH {nonces.claim_cte("$5", "$6", "$7")}, claimed AS (
        INSERT INTO callback_idempotency (unit_id, key, request_hash, status)
        SELECT $1, $2, $3, 0 WHERE $2::text IS NOT NULL AND {_NONCE_NEW}
        ON CONFLICT (unit_id, key) DO NOTHING RETURNING true
    )
    SELECT o.* FROM work_orders o
    WHERE o.id = (SELECT a.order_id FROM assignments a WHERE a.id = $4 AND a.unit_id IN ({VISIBLE_UNITS}))
      AND {_NONCE_NEW} AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM claimed))
    FOR UPDATE OF o"""


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
    route: str,
    nonce: signing.SignedParts | None = None,
) -> Outcome:
    """``route``: the route's template, under which looks at personal data are logged;
    ``nonce``: a signed request's, claimed first in the transaction (SignatureRefused: seen)."""
    unit_id = require_unit(principal)
    payload = actions.parse_payload(op.action, body)  # a 422 before any transaction
    digest = idempotency.request_hash("POST", path, body)
    key_id, nonce_value = (nonce.key_id, nonce.nonce) if nonce is not None else (None, None)
    async with pool.acquire() as conn, conn.transaction():
        order = await conn.fetchrow(
            _CLAIM_AND_LOCK, unit_id, idempotency_key, digest, assignment_id, key_id, nonce_value, nonces.TTL
        )
        if order is None:
            return await _replay_or_missing(conn, unit_id, assignment_id, idempotency_key, digest, nonce)
        updated, change = await actions.act_in_transaction(
            conn, services, principal, order["id"], op.action, payload, assignment_id=assignment_id, locked=order
        )
        result = assignment_view(await visible_assignment(conn, principal, assignment_id), updated, principal)
        looks = await _remember(conn, principal, idempotency_key, result, route)
    # Logged and announced after the commit: nothing here holds the order's lock.
    await actions.publish_change(services, updated, change)
    log.info(
        "callback applied",
        extra={
            "unit_id": unit_id, "assignment_id": assignment_id, "order_id": order["id"], "action": op.action.value,
            "order_status": updated["status"], "via": "hmac" if principal.user_id is None else "bearer",
        },
    )  # fmt: skip
    return Outcome(200, result, looks=looks)


async def _replay_or_missing(
    conn: asyncpg.Connection, unit_id: int, assignment_id: int, key: str | None, digest: bytes,
    nonce: signing.SignedParts | None,
) -> Outcome:  # fmt: skip
    """Why the claim found nothing to act on, in the order the checks are documented."""
    if nonce is not None and not await nonces.claimed_here(conn, nonce):
        raise nonces.replayed(nonce)
    stored = await idempotency.earlier(conn, unit_id, key, digest) if key is not None else None
    if stored is None:  # the key is this call's own: the assignment is not the unit's to see
        raise NotFound("no such assignment", {"assignment_id": assignment_id})
    log.info("callback replayed", extra={"unit_id": unit_id, "assignment_id": assignment_id, "idempotency_key": key})
    return Outcome(stored.status, stored.body, replayed=True)


async def _remember(
    conn: asyncpg.Connection, principal: Principal, key: str | None, result: dict[str, Any], route: str
) -> list[access_log.Seen]:
    """The answer under the idempotency key and the log of the looks at personal data it gives
    (returned), in the action's commit (one statement for both): a look that cannot be logged is
    not served."""
    unit_id = require_unit(principal)
    seen = access_log.merged(access_log.shown(result))
    if key is None:
        await access_log.record(conn, principal, "POST", route, seen)
    elif not seen:
        await idempotency.record(conn, unit_id, key, 200, result)
    else:
        await conn.execute(
            f"WITH recorded AS ({idempotency.RECORD}) {access_log.insert(5)}",
            unit_id, key, 200, result, *access_log.insert_args(principal, "POST", route, seen),
        )  # fmt: skip
    return seen

"""Every change to a work order, one transaction each: the engine.

``create_order`` and ``act`` lock the order row, decide who may act and on which
assignment (``authorize``, the only place that decides it: the staff API and the unit
callback API both come through here), check the state allows the action, run its
handler (``hotline.orders.handlers``), then write the new state, an audit event and,
where someone outside must hear, outbox rows — all or nothing (``finish``). Live events
are published to the bus only after the transaction has committed (``notify``).
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from hotline import bus, chinese, writes
from hotline.auth import Principal
from hotline.errors import (
    AssignmentClosed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    NotYourAssignment,
    StaleVersion,
)
from hotline.orders import models as m
from hotline.orders import numbers, place, store
from hotline.orders.assignment_states import OPEN, param
from hotline.orders.change import Change, Services, fresh
from hotline.orders.dispatching import suggest
from hotline.orders.handlers import HANDLERS, assist_action
from hotline.orders.notify import live, publish_change
from hotline.orders.queries import order_audience
from hotline.orders.states import RULES, Action, Actor, Status, check, target
from hotline.orders.views import order_view
from hotline.similar import minhash
from hotline.sms import notices as sms_notices
from hotline.writes import Write

__all__ = [
    "Services", "act", "act_in_transaction", "create_order", "insert_order", "order_created", "parse_payload",
    "publish_change", "suggest", "take_in",
]  # fmt: skip

log = logging.getLogger(__name__)

PAYLOADS: dict[Action, type[m.ActionBody]] = {
    Action.RESOLVE_DIRECTLY: m.ResolveDirectly,
    Action.DISPATCH: m.Dispatch,
    Action.REDISPATCH: m.Redispatch,
    Action.SIGN: m.Empty,
    Action.RETURN: m.Return,
    Action.CONTACT: m.Contact,
    Action.NOTE: m.NoteBody,
    Action.REQUEST_EXTENSION: m.ExtensionRequest,
    Action.DECIDE_EXTENSION: m.ExtensionDecision,
    Action.REPLY: m.Reply,
    Action.REVIEW: m.Review,
    Action.REMIND: m.OptionalNote,
    Action.SUPERVISE: m.OptionalNote,
    Action.VISIT: m.Visit,
    Action.CLOSE: m.OptionalNote,
    Action.MERGE: m.Merge,
    Action.SUSPEND: m.Suspend,
    Action.RESUME: m.OptionalNote,
    Action.SET_DIVISION: m.SetDivision,
}


# ---------------------------------------------------------------- create


async def create_order(
    pool: asyncpg.Pool, services: Services, principal: Principal, data: m.NewOrder, call_id: int | None = None
) -> dict:
    """Take in an order (受理); ``call_id`` links the call record it was taken on."""
    await numbers.prepare(pool, services.clock())
    async with pool.acquire() as conn, conn.transaction():
        order = await insert_order(conn, services, principal, data, call_id)
    await order_created(services, order, principal)
    return order_view(order, principal)


async def insert_order(
    conn: asyncpg.Connection, services: Services, principal: Principal, data: m.NewOrder, call_id: int | None = None
) -> asyncpg.Record:
    """The order's writes and the citizen's intake SMS, inside the caller's transaction (so a
    caller can add its own rows, e.g. an idempotency or channel intake record, to the same
    commit). Call ``numbers.prepare`` before the transaction and ``order_created`` after the
    commit. A ``channel`` principal is a channel's intake (``hotline.intake.service``), which
    verified its own credentials."""
    order, sms = await take_in(conn, services, principal, data, call_id)
    await writes.together(conn, [sms])
    return order


async def take_in(
    conn: asyncpg.Connection, services: Services, principal: Principal, data: m.NewOrder, call_id: int | None = None
) -> tuple[asyncpg.Record, Write | None]:
    """``insert_order`` with the citizen's SMS not sent yet: the caller sends it together with
    writes of its own that depend on the order (the look its answer gives), in one round trip."""
    if not principal.is_centre and principal.role != "channel":
        raise Forbidden("only call-centre staff take in orders", {"role": principal.role})
    # The time of intake comes from the services' clock, as every action's does (not the server's now()).
    now = services.clock()
    known = await fresh(conn)
    located = await place.at_intake(conn, services.router, data, known.routing)  # from the text: no row yet
    # The caller's identity lives on the order row alone, where every view masks it; the history keeps the rest.
    body = data.model_dump(exclude={"caller_number", "caller_name"}) | {"place": located.as_dict() if located else None}
    row = {
        "kind": data.kind, "category_code": data.category_code, "title": data.title,
        "content": data.content, "address": data.address, "division_code": data.division_code,
        "urgency": data.urgency, "caller_number": data.caller_number, "caller_name": data.caller_name,
        "anonymous": data.anonymous, "contact_allowed": data.contact_allowed, "channel": data.channel,
        "call_linkedid": data.call_linkedid, "status": Status.RECEIVED.value, "created_by": principal.user_id,
        "call_id": call_id, "created_at": now, "updated_at": now,
    }  # fmt: skip
    # The place goes into the insert unless it replaces a division the agent typed: that one is
    # inserted first, so an unknown code is still refused, and the place written after it.
    later = located if located is not None and data.division_code not in (None, located.code) else None
    if located is not None and later is None:
        row |= located.columns()
    bands = minhash.bands(chinese.token_set(data.content))
    try:
        order = await store.take_in(
            conn, row, taken_at=now, principal=principal, audit_payload=body, signature_bands=bands
        )
    except asyncpg.ForeignKeyViolationError as exc:
        raise InvalidInput(_fk_message(exc), {"constraint": exc.constraint_name}) from None
    if later is not None:
        order = await place.record(conn, order["id"], later)
    return order, await sms_notices.intake_notice(conn, services, order, services.clock(), known.deadlines)


async def order_created(services: Services, order: asyncpg.Record, principal: Principal) -> None:
    """What follows a committed new order: the log line and the live event."""
    extra = {"order_id": order["id"], "order_number": order["number"], "user_id": principal.user_id}
    log.info("order created", extra=extra)
    bus.publish_soon(services.redis, [("orders", live(order, "create"))])


def _fk_message(exc: asyncpg.ForeignKeyViolationError) -> str:
    known = {
        "work_orders_category_code_fkey": "unknown category_code",
        "work_orders_division_code_fkey": "unknown division_code",
    }
    return known.get(exc.constraint_name or "", "a referenced record does not exist")


# ---------------------------------------------------------------- act


def parse_payload(action: Action, body: dict[str, Any]) -> m.ActionBody:
    return PAYLOADS[action].model_validate(body)


async def act(
    pool: asyncpg.Pool,
    services: Services,
    principal: Principal,
    order_id: int,
    action: Action,
    payload: m.ActionBody,
) -> dict:
    """Apply one action to one order, in one transaction; return the order as the actor sees it."""
    async with pool.acquire() as conn, conn.transaction():
        updated, change = await act_in_transaction(conn, services, principal, order_id, action, payload)
    await publish_change(services, updated, change)
    return order_view(updated, principal)


async def act_in_transaction(
    conn: asyncpg.Connection,
    services: Services,
    principal: Principal,
    order_id: int,
    action: Action,
    payload: m.ActionBody,
    *,
    assignment_id: int | None = None,
    locked: asyncpg.Record | None = None,
) -> tuple[asyncpg.Record, Change]:
    """The action's writes on ``conn``, inside the caller's transaction (so a caller can add
    its own rows, e.g. an idempotency record, to the same commit). ``assignment_id`` names the
    assignment the caller targets (the callback API always does; an extension decision may
    name it in its body); the action is refused unless it is the one the caller may act on.
    ``locked`` is the order's row when the caller already read it FOR UPDATE in this
    transaction, having found the principal's part in it (the callback API does, in the
    statement that claims its idempotency key through one of the unit's assignments).
    Call ``publish_change`` after the commit."""
    if locked is not None and locked["id"] == order_id:
        order = locked
    else:
        order = await conn.fetchrow("SELECT * FROM work_orders WHERE id = $1 FOR UPDATE", order_id)
        if order is None or await order_audience(conn, principal, order_id) is None:
            # An order a unit has no part in answers as a missing one, whatever the action or state.
            raise NotFound("no such order", {"order_id": order_id})
    if payload.version is not None and payload.version != order["version"]:
        raise StaleVersion(
            "the order changed since you read it; reload and try again",
            {"expected_version": payload.version, "current_version": order["version"]},
        )
    current = Status(order["status"])
    assignment = await authorize(conn, principal, order, action, _named(payload, assignment_id))
    if assignment is not None and assignment["role"] == "assist":
        change = await assist_action(conn, services, principal, order, assignment, action, payload)
    else:
        change = Change(order, principal, action, target(action, current), services)
        change.assignment_id = assignment["id"] if assignment else None
        await HANDLERS[action](conn, change, assignment, payload)
    updated = await finish(conn, change)  # its log line is written after the commit (publish_change)
    if change.follow_up is not None:
        next_action, next_payload = change.follow_up
        updated, follow = await act_in_transaction(conn, services, principal, order_id, next_action, next_payload)
        follow.live_units |= change.live_units
        return updated, follow
    return updated, change


def _named(payload: m.ActionBody, assignment_id: int | None) -> int | None:
    """The assignment the caller targets: the one it names, in the path or in an extension decision."""
    in_body = payload.assignment_id if isinstance(payload, m.ExtensionDecision) else None
    if in_body is not None and assignment_id is not None and in_body != assignment_id:
        raise InvalidInput("assignment_id in the body differs from the one in the path", {"path": assignment_id})
    return assignment_id if assignment_id is not None else in_body


# ---------------------------------------------------------------- authorize

# The open assignment an action works on: the unit's ($3), or with $3 NULL the order's; the lead first.
_CURRENT = """
    SELECT * FROM assignments WHERE order_id = $1 AND status = ANY($2::text[]) AND ($3::bigint IS NULL OR unit_id = $3)
    ORDER BY (role = 'lead') DESC, id DESC LIMIT 1"""
# The unit's ($3) open assignments on the order and the one the caller names ($4), in one read.
_OPEN_AND_NAMED = """
    SELECT a.*, u.code AS unit_code FROM assignments a JOIN units u ON u.id = a.unit_id
    WHERE a.order_id = $1 AND (a.id = $4 OR (a.status = ANY($2::text[]) AND a.unit_id = $3))"""


async def authorize(
    conn: asyncpg.Connection, principal: Principal, order: asyncpg.Record, action: Action, named: int | None = None
) -> asyncpg.Record | None:
    """Decide whether ``principal`` may take ``action`` on ``order`` (and on the assignment
    ``named``, if one is); return the assignment the action works on (None for centre-only
    actions). The order is locked, so the answer holds until the commit."""
    actor = RULES[action].actor
    if actor is Actor.CENTRE:
        if not principal.is_centre:
            raise Forbidden(f"{action.value} is for call-centre staff", {"role": principal.role})
        return None
    if actor is Actor.SUPERVISOR:
        if principal.role not in ("supervisor", "admin"):
            raise Forbidden(f"{action.value} is for supervisors", {"role": principal.role})
        return None
    if actor is Actor.UNIT:
        return await _unit_assignment(conn, principal, order, action, named)
    return await _dispatchers_assignment(conn, principal, order, action, named)


async def _unit_assignment(
    conn: asyncpg.Connection, principal: Principal, order: asyncpg.Record, action: Action, named: int | None
) -> asyncpg.Record:
    """A unit acts on its own open assignment on the order (the lead first)."""
    if principal.role != "handler" or principal.unit_id is None:
        raise Forbidden(f"{action.value} is for the unit the order is assigned to", {"role": principal.role})
    if named is None:
        current = await conn.fetchrow(_CURRENT, order["id"], param(OPEN), principal.unit_id)
    else:
        rows = await conn.fetch(_OPEN_AND_NAMED, order["id"], param(OPEN), principal.unit_id, named)
        current = _lead_first([r for r in rows if r["status"] in OPEN and r["unit_id"] == principal.unit_id])
        a = next((r for r in rows if r["id"] == named), None)
        if a is None:
            raise NotFound("no such assignment on this order", {"assignment_id": named})
        if a["unit_id"] != principal.unit_id:
            raise NotYourAssignment(
                f"this assignment is {a['unit_code']}'s; a hub reads the assignments of its units but cannot "
                f"{action.value} for them",
                {"assignment_id": named, "unit_id": a["unit_id"]},
            )
        _still_open(a, "it takes no more actions")
        _is_current(a, current)
    if current is None:
        raise Forbidden("this order is not assigned to your unit", {"order_id": order["id"]})
    return current


async def _dispatchers_assignment(
    conn: asyncpg.Connection, principal: Principal, order: asyncpg.Record, action: Action, named: int | None
) -> asyncpg.Record:
    """Whoever dispatched an assignment decides on it (reviews its reply, decides its extension):
    the centre, or the hub that handed it down — never the unit that holds it, so a hub that asked
    for more time and then handed the order down cannot grant its own request."""
    lead = await conn.fetchrow(_CURRENT, order["id"], param(OPEN), None)
    if named is None:
        if lead is None:
            check(action, Status(order["status"]))  # no open assignment: the state is the reason
            raise Conflict("the order has no open assignment", {"order_id": order["id"]})
        if not _dispatched_by(principal, lead):
            if lead["dispatcher_unit_id"] is None:
                raise Forbidden("the centre dispatched this assignment; only it decides", {"role": principal.role})
            raise Forbidden("only the unit that dispatched this assignment decides", {"role": principal.role})
        return lead
    a = await _assignment_on(conn, order, named)
    if not _dispatched_by(principal, a):
        raise NotYourAssignment(
            f"only the unit that dispatched this assignment may {action.value} it",
            {"assignment_id": named, "dispatcher_unit_id": a["dispatcher_unit_id"]},
        )
    _still_open(a, "there is nothing to decide")
    if action is not Action.DECIDE_EXTENSION:  # a decision names its assignment; a review works on the open lead
        _is_current(a, lead)
    return a


def _lead_first(open_assignments: list[asyncpg.Record]) -> asyncpg.Record | None:
    """The one ``_CURRENT`` picks: the lead first, then the newest."""
    return max(open_assignments, key=lambda a: (a["role"] == "lead", a["id"]), default=None)


def _dispatched_by(principal: Principal, a: asyncpg.Record) -> bool:
    if a["dispatcher_unit_id"] is None:
        return principal.is_centre
    return principal.role == "handler" and principal.unit_id == a["dispatcher_unit_id"]


async def _assignment_on(conn: asyncpg.Connection, order: asyncpg.Record, assignment_id: int) -> asyncpg.Record:
    a = await conn.fetchrow(
        """SELECT a.*, u.code AS unit_code FROM assignments a JOIN units u ON u.id = a.unit_id
           WHERE a.id = $1 AND a.order_id = $2""",
        assignment_id,
        order["id"],
    )
    if a is None:
        raise NotFound("no such assignment on this order", {"assignment_id": assignment_id})
    return a


def _still_open(a: asyncpg.Record, why: str) -> None:
    if a["status"] not in OPEN:
        raise AssignmentClosed(
            f"this assignment is {a['status']}; {why}", {"assignment_id": a["id"], "status": a["status"]}
        )


def _is_current(a: asyncpg.Record, current: asyncpg.Record | None) -> None:
    if current is None or current["id"] != a["id"]:
        raise Conflict(
            "another assignment on this order is the current one; act on that one",
            {"assignment_id": a["id"], "current_assignment_id": current["id"] if current else None},
        )


# ---------------------------------------------------------------- finish


async def finish(conn: asyncpg.Connection, change: Change) -> asyncpg.Record:
    """Write what the action gathered: the order's new state, its audit event, its outbox rows
    (one statement), and the citizen's SMS if the change calls for one."""
    order = change.order
    updated = await store.write_change(
        conn, order["id"], {"status": change.to_status.value, **change.order_updates},
        assignment_id=change.assignment_id, action=change.action.value, principal=change.principal,
        from_status=order["status"], audit_payload=change.audit, outbox=change.outbox,
    )  # fmt: skip
    await sms_notices.after_change(conn, change, updated)
    return updated

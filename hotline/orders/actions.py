"""Every change to a work order, one transaction each.

``create_order`` and ``act`` lock the order row, check who may act and whether
the state allows it, then write the new state, an audit event and, where
someone outside must hear, an outbox row — all or nothing. Live events are
published to the bus only after the transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from pydantic import BaseModel

from dispatch.engine import Decision, Router
from hotline import bus
from hotline.auth import Principal
from hotline.deadlines.service import Deadlines
from hotline.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound, StaleVersion
from hotline.orders import models as m
from hotline.orders import place
from hotline.orders.states import IN_PROGRESS, RULES, Action, Actor, Status, check, target
from hotline.orders.views import order_view

log = logging.getLogger(__name__)

PAYLOADS: dict[Action, type[m.ActionBody]] = {
    Action.RESOLVE_DIRECTLY: m.NoteBody,
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

# Actions an assisting unit (协办) may take on its own assignment; they never move the order.
ASSIST_ACTIONS = frozenset({Action.SIGN, Action.CONTACT, Action.NOTE, Action.REPLY})
OPEN_ASSIGNMENT = ("dispatched", "signed", "replied")


MAX_VISIT_ATTEMPTS = 3


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What actions need besides the database; the app builds one."""

    redis: aioredis.Redis | None = None
    # Sign-by, reply-by and visit-by from the active deadline policy, on the working calendar.
    deadlines: Deadlines = field(default_factory=Deadlines)
    # What time it is; tests pin it to walk an order across holidays.
    clock: Callable[[], datetime] = _utc_now
    # The routing engine; when set, a dispatch that departs from its suggestion needs a reason.
    router: Router | None = None


@dataclass
class Change:
    """What one action did, gathered while it runs and written at its end."""

    order: asyncpg.Record
    principal: Principal
    action: Action
    to_status: Status
    services: Services
    assignment_id: int | None = None
    audit: dict[str, Any] = field(default_factory=dict)
    outbox: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # topic, unit_id, payload
    live_units: set[int] = field(default_factory=set)
    order_updates: dict[str, Any] = field(default_factory=dict)
    # An action the system takes next in the same transaction (a reopened order goes back to its unit).
    follow_up: tuple[Action, m.ActionBody] | None = None
    # One moment for everything the action stamps.
    now: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.now = self.services.clock()


# ---------------------------------------------------------------- create


async def create_order(
    pool: asyncpg.Pool, services: Services, principal: Principal, data: m.NewOrder, call_id: int | None = None
) -> dict:
    """Take in an order (受理); ``call_id`` links the call record it was taken on."""
    if not principal.is_centre:
        raise Forbidden("only call-centre staff take in orders", {"role": principal.role})
    # The time of intake comes from the services' clock, as every action's does (not the server's now()).
    now = services.clock()
    async with pool.acquire() as conn, conn.transaction():
        day, seq = await conn.fetchrow(
            """INSERT INTO order_number_counters (day, last)
               VALUES (($1::timestamptz AT TIME ZONE 'Asia/Shanghai')::date, 1)
               ON CONFLICT (day) DO UPDATE SET last = order_number_counters.last + 1
               RETURNING day, last""",
            now,
        )
        number = f"{day:%Y%m%d}-{seq:06d}"
        try:
            order = await conn.fetchrow(
                """INSERT INTO work_orders (number, kind, category_code, title, content, address, division_code,
                       urgency, caller_number, caller_name, anonymous, contact_allowed, channel, call_linkedid,
                       status, created_by, call_id, created_at, updated_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,'received',$15,$16,$17,$17)
                   RETURNING *""",
                number, data.kind, data.category_code, data.title, data.content, data.address,
                data.division_code, data.urgency, data.caller_number, data.caller_name, data.anonymous,
                data.contact_allowed, data.channel, data.call_linkedid, principal.user_id, call_id, now,
            )  # fmt: skip
        except asyncpg.ForeignKeyViolationError as exc:
            raise InvalidInput(_fk_message(exc), {"constraint": exc.constraint_name}) from None
        located = await place.at_intake(conn, services.router, data)
        if located is not None:
            order = await place.record(conn, order["id"], located)
        audit = data.model_dump() | {"place": located.as_dict() if located else None}
        await _audit(conn, order["id"], None, "create", principal, None, Status.RECEIVED, audit)
    log.info("order created", extra={"order_id": order["id"], "order_number": number, "user_id": principal.user_id})
    await bus.publish(services.redis, "orders", _live(order, "create"))
    return order_view(order, principal)


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
) -> tuple[asyncpg.Record, Change]:
    """The action's writes on ``conn``, inside the caller's transaction (so a caller can add
    its own rows, e.g. an idempotency record, to the same commit). Call ``publish_change``
    after the commit."""
    order = await conn.fetchrow("SELECT * FROM work_orders WHERE id = $1 FOR UPDATE", order_id)
    if order is None:
        raise NotFound("no such order", {"order_id": order_id})
    if payload.version is not None and payload.version != order["version"]:
        raise StaleVersion(
            "the order changed since you read it; reload and try again",
            {"expected_version": payload.version, "current_version": order["version"]},
        )
    current = Status(order["status"])
    assignment = await _authorize(conn, principal, order, action)
    if assignment is not None and assignment["role"] == "assist":
        change = await _assist_action(conn, services, principal, order, assignment, action, payload)
    else:
        change = Change(order, principal, action, target(action, current), services)
        change.assignment_id = assignment["id"] if assignment else None
        await HANDLERS[action](conn, change, assignment, payload)
    updated = await _finish(conn, change, services)
    log.info(
        "order action",
        extra={"order_id": order_id, "action": action.value, "from": current.value, "to": updated["status"]},
    )
    if change.follow_up is not None:
        next_action, next_payload = change.follow_up
        updated, follow = await act_in_transaction(conn, services, principal, order_id, next_action, next_payload)
        follow.live_units |= change.live_units
        return updated, follow
    return updated, change


async def publish_change(services: Services, updated: asyncpg.Record, change: Change) -> None:
    """Live events for a committed change (never before the commit)."""
    await bus.publish(services.redis, "orders", _live(updated, change.action.value))
    for unit_id in change.live_units:
        await bus.publish(services.redis, f"unit:{unit_id}", _live(updated, change.action.value))


async def _authorize(
    conn: asyncpg.Connection, principal: Principal, order: asyncpg.Record, action: Action
) -> asyncpg.Record | None:
    """Check the actor; return the assignment the action works on (None for centre-only actions)."""
    rule_actor = _actor_of(action)
    if rule_actor is Actor.CENTRE:
        if not principal.is_centre:
            raise Forbidden(f"{action.value} is for call-centre staff", {"role": principal.role})
        return None
    if rule_actor is Actor.SUPERVISOR:
        if principal.role not in ("supervisor", "admin"):
            raise Forbidden(f"{action.value} is for supervisors", {"role": principal.role})
        return None
    if rule_actor is Actor.UNIT:
        if principal.role != "handler" or principal.unit_id is None:
            raise Forbidden(f"{action.value} is for the unit the order is assigned to", {"role": principal.role})
        assignment = await conn.fetchrow(
            """SELECT * FROM assignments WHERE order_id = $1 AND unit_id = $2 AND status = ANY($3::text[])
               ORDER BY (role = 'lead') DESC, id DESC LIMIT 1""",
            order["id"], principal.unit_id, list(OPEN_ASSIGNMENT),
        )  # fmt: skip
        if assignment is None:
            raise Forbidden("this order is not assigned to your unit", {"order_id": order["id"]})
        return assignment
    # DISPATCHER: whoever dispatched the lead assignment under review or decision.
    assignment = await conn.fetchrow(
        """SELECT * FROM assignments WHERE order_id = $1 AND status = ANY($2::text[])
           ORDER BY (role = 'lead') DESC, id DESC LIMIT 1""",
        order["id"], list(OPEN_ASSIGNMENT),
    )  # fmt: skip
    if assignment is None:
        check(action, Status(order["status"]))  # no open assignment: the state is the reason
        raise Conflict("the order has no open assignment", {"order_id": order["id"]})
    if assignment["dispatcher_unit_id"] is None:
        if not principal.is_centre:
            raise Forbidden("the centre dispatched this assignment; only it decides", {"role": principal.role})
    elif principal.unit_id != assignment["dispatcher_unit_id"] or principal.role != "handler":
        raise Forbidden("only the unit that dispatched this assignment decides", {"role": principal.role})
    return assignment


def _actor_of(action: Action) -> Actor:
    return RULES[action].actor


async def _finish(conn: asyncpg.Connection, change: Change, services: Services) -> asyncpg.Record:
    order = change.order
    updates = {"status": change.to_status.value, **change.order_updates}
    sets = ", ".join(f"{col} = ${i + 2}" for i, col in enumerate(updates))
    updated = await conn.fetchrow(
        f"UPDATE work_orders SET {sets}, version = version + 1, updated_at = now() WHERE id = $1 RETURNING *",
        order["id"],
        *updates.values(),
    )
    await _audit(
        conn, order["id"], change.assignment_id, change.action.value, change.principal,
        Status(order["status"]), change.to_status, change.audit,
    )  # fmt: skip
    for topic, unit_id, payload in change.outbox:
        await enqueue(conn, topic, order["id"], unit_id, payload)
    return updated


async def _audit(
    conn: asyncpg.Connection,
    order_id: int,
    assignment_id: int | None,
    action: str,
    principal: Principal | None,
    from_status: Status | None,
    to_status: Status | None,
    payload: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO audit_events (order_id, assignment_id, action, actor_user_id, actor_unit_id,
                                     from_status, to_status, payload)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        order_id, assignment_id, action,
        principal.user_id if principal else None, principal.unit_id if principal else None,
        from_status.value if from_status else None, to_status.value if to_status else None,
        _plain(payload),
    )  # fmt: skip


async def enqueue(conn: asyncpg.Connection, topic: str, order_id: int, unit_id: int, payload: dict) -> None:
    """Queue a message for a unit's system, if it has one; call inside the change's transaction."""
    has_hook = await conn.fetchval("SELECT webhook_url IS NOT NULL FROM units WHERE id = $1", unit_id)
    if has_hook:
        await conn.execute(
            "INSERT INTO outbox (topic, order_id, unit_id, payload) VALUES ($1, $2, $3, $4)",
            topic, order_id, unit_id, _plain(payload),
        )  # fmt: skip


def _plain(value: Any) -> Any:
    """JSON-safe copy of a payload (datetimes and URLs as strings)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "version"}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _live(order: asyncpg.Record, action: str) -> dict[str, Any]:
    return {
        "type": "order.updated",
        "action": action,
        "order_id": order["id"],
        "number": order["number"],
        "status": order["status"],
        "version": order["version"],
    }


# ---------------------------------------------------------------- per-action handlers


async def _resolve_directly(conn, change: Change, _a, p: m.NoteBody) -> None:
    change.audit = {"note": p.note}


async def suggest(
    conn: asyncpg.Connection, services: Services, order: asyncpg.Record
) -> tuple[Decision | None, int | None]:
    """The routing engine's decision for ``order`` and the unit the centre would dispatch to
    (a street office is reached through its district hub); (None, None) without a router."""
    if services.router is None:
        return None, None
    await services.router.refresh(conn)
    decision = services.router.route(place.route_request(order))
    if not decision.routed:
        return decision, None
    return decision, decision.via_unit_id if decision.level == "street" else decision.unit_id


async def _dispatch(conn, change: Change, _a, p: m.Dispatch) -> None:
    unit = await _active_unit(conn, p.unit_id)
    if unit["kind"] == "centre":
        raise InvalidInput("cannot dispatch to the centre itself", {"unit_id": p.unit_id})
    if unit["level"] == "street":
        raise InvalidInput(
            "the centre dispatches to city agencies or district units; streets are reached through their district",
            {"unit_id": p.unit_id, "level": unit["level"]},
        )
    if p.unit_id in p.assist_unit_ids:
        raise InvalidInput("the lead unit cannot also assist", {"unit_id": p.unit_id})
    decision, suggested = await suggest(conn, change.services, change.order)
    overridden = suggested is not None and suggested != p.unit_id
    if overridden and not p.override_reason:
        raise InvalidInput(
            "the routing engine suggests another unit; dispatching elsewhere needs override_reason",
            {"suggested_unit_id": suggested, "reasons": decision.reasons if decision else []},
        )
    if change.order["status"] == Status.REOPENED:
        topic = "order.reopened"
    else:
        topic = "order.dispatched"
    route_note = {
        "decision": decision.as_dict() if decision else None,
        "suggested_unit_id": suggested,
        "overridden": overridden,
        "override_reason": p.override_reason if overridden else None,
        "note": p.note,
    }
    change.order_updates.update(place.after_routing(change.order, decision))
    lead = await _new_assignment(conn, change, unit, "lead", None, None, route_note)
    change.assignment_id = lead["id"]
    assists = []
    for assist_id in dict.fromkeys(p.assist_unit_ids):
        assist_unit = await _active_unit(conn, assist_id)
        a = await _new_assignment(conn, change, assist_unit, "assist", None, None, route_note)
        assists.append(a["id"])
    change.audit = {
        **_plain(p),
        "assignment_id": lead["id"],
        "assist_assignment_ids": assists,
        "suggested_unit_id": suggested,
        "overridden": overridden,
    }
    for unit_id, assignment_id in [(unit["id"], lead["id"]), *zip(p.assist_unit_ids, assists, strict=False)]:
        change.outbox.append((topic, unit_id, push_payload(change.order, assignment_id, topic)))
        change.live_units.add(unit_id)


async def _redispatch(conn, change: Change, hub_assignment, p: m.Redispatch) -> None:
    hub = await conn.fetchrow("SELECT * FROM units WHERE id = $1", hub_assignment["unit_id"])
    if hub["kind"] != "hub":
        raise Forbidden("only a district hub re-dispatches down", {"unit_id": hub["id"]})
    if hub_assignment["role"] != "lead":
        raise Forbidden("only the lead assignment can be re-dispatched", {"assignment_id": hub_assignment["id"]})
    unit = await _active_unit(conn, p.unit_id)
    if unit["parent_id"] != hub["id"]:
        raise InvalidInput(
            "a hub re-dispatches only to units under it", {"unit_id": p.unit_id, "hub_unit_id": hub["id"]}
        )
    await conn.execute(
        "UPDATE assignments SET status = 'redispatched', version = version + 1, updated_at = now() WHERE id = $1",
        hub_assignment["id"],
    )
    change.order_updates.update(place.handed_down(change.order, unit))
    child = await _new_assignment(conn, change, unit, "lead", hub_assignment["id"], hub["id"], {"note": p.note})
    change.assignment_id = child["id"]
    change.audit = {**_plain(p), "parent_assignment_id": hub_assignment["id"], "assignment_id": child["id"]}
    change.outbox.append(("order.dispatched", unit["id"], push_payload(change.order, child["id"], "order.dispatched")))
    change.live_units.add(unit["id"])


async def _sign(conn, change: Change, a, _p) -> None:
    await _set_assignment(conn, a["id"], status="signed", signed_at=change.now)


async def _return(conn, change: Change, a, p: m.Return) -> None:
    await _set_assignment(conn, a["id"], status="returned", returned_at=change.now, return_reason=p.reason)
    change.audit = {"reason": p.reason}
    if a["parent_id"] is not None:
        # Back to the hub that handed it down: the hub holds the order again, signed.
        await _set_assignment(conn, a["parent_id"], status="signed")
        change.to_status = target(Action.RETURN, Status(change.order["status"]), Status.SIGNED)
        change.live_units.add(a["dispatcher_unit_id"])
    else:
        # Back to the centre, which re-dispatches with a fresh set of units.
        await conn.execute(
            """UPDATE assignments SET status = 'cancelled', version = version + 1, updated_at = now()
               WHERE order_id = $1 AND role = 'assist' AND status = ANY($2::text[])""",
            change.order["id"], list(OPEN_ASSIGNMENT),
        )  # fmt: skip
        change.to_status = target(Action.RETURN, Status(change.order["status"]), Status.RETURNED)


async def _contact(conn, change: Change, a, p: m.Contact) -> None:
    at = p.contacted_at or change.now
    await conn.execute(
        "UPDATE assignments SET first_contact_at = COALESCE(first_contact_at, $2), updated_at = now() WHERE id = $1",
        a["id"],
        at,
    )
    change.audit = {"note": p.note, "contacted_at": at.isoformat()}


async def _note(conn, change: Change, _a, p: m.NoteBody) -> None:
    change.audit = {"note": p.note}


async def _request_extension(conn, change: Change, a, p: m.ExtensionRequest) -> None:
    if a["extension_status"] is not None:
        raise Conflict(
            "an assignment may ask for one extension only",
            {"assignment_id": a["id"], "extension_status": a["extension_status"]},
        )
    limit = await change.services.deadlines.extension_rule(conn, change.order)
    if p.days > limit.amount:
        raise InvalidInput(
            f"an extension may add at most {limit.amount} {limit.unit.value.replace('_', ' ')}",
            {"days": p.days, "max_days": limit.amount, "unit": limit.unit.value},
        )
    await _set_assignment(conn, a["id"], extension_status="requested", extension_days=p.days, extension_reason=p.reason)
    change.audit = {"days": p.days, "reason": p.reason}


async def _decide_extension(conn, change: Change, a, p: m.ExtensionDecision) -> None:
    if p.assignment_id is not None and p.assignment_id != a["id"]:
        a = await conn.fetchrow(
            "SELECT * FROM assignments WHERE id = $1 AND order_id = $2", p.assignment_id, change.order["id"]
        )
        if a is None:
            raise NotFound("no such assignment on this order", {"assignment_id": p.assignment_id})
    if a["extension_status"] != "requested":
        raise Conflict("no extension request is waiting", {"assignment_id": a["id"]})
    change.assignment_id = a["id"]
    if not p.approve:
        await _set_assignment(conn, a["id"], extension_status="denied")
        change.audit = {"approve": False, "note": p.note}
        return
    new_due = await change.services.deadlines.extend(conn, change.order, a, a["extension_days"])
    await _set_assignment(conn, a["id"], extension_status="approved")
    change.audit = {
        "approve": True,
        "days": a["extension_days"],
        "note": p.note,
        "previous_reply_due_at": a["reply_due_at"].isoformat(),
        "reply_due_at": new_due.isoformat(),
    }
    # The citizen is told the new date through the unit's system and the live views.
    change.outbox.append(
        (
            "order.extended",
            a["unit_id"],
            push_payload(change.order, a["id"], "order.extended") | {"reply_due_at": new_due.isoformat()},
        )
    )
    change.live_units.add(a["unit_id"])


async def _reply(conn, change: Change, a, p: m.Reply) -> None:
    await _set_assignment(
        conn, a["id"], status="replied", replied_at=change.now, reply_text=p.text, reply_result=p.result,
        reply_attachments=[str(u) for u in p.attachments],
    )  # fmt: skip
    change.audit = _plain(p)


async def _review(conn, change: Change, a, p: m.Review) -> None:
    current = Status(change.order["status"])
    change.audit = {"accept": p.accept, "reason": p.reason}
    if not p.accept:
        await _set_assignment(conn, a["id"], status="signed")
        change.to_status = target(Action.REVIEW, current, Status.SIGNED)
        change.live_units.add(a["unit_id"])
        return
    await _set_assignment(conn, a["id"], status="done")
    if a["parent_id"] is not None:
        # A hub accepted its street's reply: the hub's own assignment now carries it to the centre.
        await _set_assignment(
            conn, a["parent_id"], status="replied", replied_at=change.now, reply_text=a["reply_text"],
            reply_result=a["reply_result"], reply_attachments=a["reply_attachments"],
        )  # fmt: skip
        change.to_status = target(Action.REVIEW, current, Status.REPLIED)
    else:
        change.to_status = target(Action.REVIEW, current, Status.AWAITING_VISIT)
        visit_due = await change.services.deadlines.visit_due(conn, change.order, change.now)
        change.order_updates.update(visit_due_at=visit_due, visit_attempts=0)


async def _remind(conn, change: Change, _a, p: m.OptionalNote) -> None:
    await _push_to_open_units(conn, change, "order.reminded", p.note)


async def _supervise(conn, change: Change, _a, p: m.OptionalNote) -> None:
    await _push_to_open_units(conn, change, "order.supervised", p.note)


async def _push_to_open_units(conn, change: Change, topic: str, note: str) -> None:
    rows = await conn.fetch(
        "SELECT id, unit_id FROM assignments WHERE order_id = $1 AND status = ANY($2::text[])",
        change.order["id"],
        list(OPEN_ASSIGNMENT),
    )
    change.audit = {"note": note, "unit_ids": [r["unit_id"] for r in rows]}
    for r in rows:
        payload = push_payload(change.order, r["id"], topic) | {"note": note}
        change.outbox.append((topic, r["unit_id"], payload))
        change.live_units.add(r["unit_id"])


async def _visit(conn, change: Change, _a, p: m.Visit) -> None:
    order, current = change.order, Status(change.order["status"])
    lead = await conn.fetchrow(
        """SELECT a.id, a.unit_id, u.active AS unit_active FROM assignments a JOIN units u ON u.id = a.unit_id
           WHERE a.order_id = $1 AND a.role = 'lead' AND a.dispatcher_unit_id IS NULL AND a.status = 'done'
           ORDER BY a.id DESC LIMIT 1""",
        order["id"],
    )
    attempt = order["visit_attempts"] + 1
    await conn.execute(
        """INSERT INTO visits (order_id, assignment_id, unit_id, attempt, reached, satisfaction, resolved, note,
                               visited_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        order["id"], lead["id"] if lead else None, lead["unit_id"] if lead else None, attempt,
        p.reached, p.satisfaction, p.resolved, p.note, change.principal.user_id,
    )  # fmt: skip
    change.order_updates["visit_attempts"] = attempt
    change.audit = {**_plain(p), "attempt": attempt}
    if not p.reached:
        if attempt >= MAX_VISIT_ATTEMPTS:
            change.to_status = target(Action.VISIT, current, Status.CLOSED)
            change.order_updates.update(closed_at=change.now, close_reason="unreachable")
        else:
            change.to_status = target(Action.VISIT, current, Status.AWAITING_VISIT)
        return
    satisfied = p.satisfaction in ("satisfied", "basically_satisfied") and p.resolved
    if satisfied:
        change.to_status = target(Action.VISIT, current, Status.VISITED)
        return
    # 重办: back to the same unit, with new clocks on a new assignment.
    change.to_status = target(Action.VISIT, current, Status.REOPENED)
    change.order_updates.update(reopen_count=order["reopen_count"] + 1, visit_due_at=None)
    # A unit since closed down cannot take it back: the order waits, reopened, for the centre to dispatch.
    if lead is not None and lead["unit_active"]:
        change.follow_up = (Action.DISPATCH, m.Dispatch(unit_id=lead["unit_id"], note="重办：回访不满意或未解决"))


async def _close(conn, change: Change, _a, p: m.OptionalNote) -> None:
    reason = "resolved_directly" if change.order["status"] == Status.RESOLVED_DIRECTLY else "visited"
    change.order_updates.update(closed_at=change.now, close_reason=reason)
    change.audit = {"note": p.note}


async def _merge(conn, change: Change, _a, p: m.Merge) -> None:
    if p.into_order_id == change.order["id"]:
        raise InvalidInput("an order cannot be merged into itself", {"into_order_id": p.into_order_id})
    into = await conn.fetchrow("SELECT id, status FROM work_orders WHERE id = $1", p.into_order_id)
    if into is None:
        raise InvalidInput("the order to merge into does not exist", {"into_order_id": p.into_order_id})
    if into["status"] in (Status.MERGED, Status.CLOSED):
        raise Conflict("cannot merge into an order that is merged or closed", {"into_status": into["status"]})
    await conn.execute(
        """UPDATE assignments SET status = 'cancelled', version = version + 1, updated_at = now()
           WHERE order_id = $1 AND status = ANY($2::text[])""",
        change.order["id"], list(OPEN_ASSIGNMENT),
    )  # fmt: skip
    change.order_updates.update(merged_into=p.into_order_id, closed_at=change.now, close_reason="merged")
    change.audit = _plain(p)


async def _suspend(conn, change: Change, _a, p: m.Suspend) -> None:
    change.order_updates.update(suspended_from=change.order["status"], suspended_at=change.now)
    change.audit = {"reason": p.reason}


async def _resume(conn, change: Change, _a, p: m.OptionalNote) -> None:
    change.to_status = Status(change.order["suspended_from"])
    now = change.now
    suspended_for = now - change.order["suspended_at"]
    moved = await change.services.deadlines.resume(conn, change.order, change.order["suspended_at"], now)
    change.order_updates.update(suspended_from=None, suspended_at=None)
    if "visit_due_at" in moved:
        change.order_updates["visit_due_at"] = moved["visit_due_at"]
    change.audit = {"note": p.note, "suspended_seconds": int(suspended_for.total_seconds()), "deadlines": moved}


HANDLERS: dict[Action, Callable[..., Awaitable[None]]] = {
    Action.RESOLVE_DIRECTLY: _resolve_directly,
    Action.DISPATCH: _dispatch,
    Action.REDISPATCH: _redispatch,
    Action.SIGN: _sign,
    Action.RETURN: _return,
    Action.CONTACT: _contact,
    Action.NOTE: _note,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.DECIDE_EXTENSION: _decide_extension,
    Action.REPLY: _reply,
    Action.REVIEW: _review,
    Action.REMIND: _remind,
    Action.SUPERVISE: _supervise,
    Action.VISIT: _visit,
    Action.CLOSE: _close,
    Action.MERGE: _merge,
    Action.SUSPEND: _suspend,
    Action.RESUME: _resume,
    Action.SET_DIVISION: place.set_division,
}


async def _assist_action(
    conn, services: Services, principal: Principal, order, a, action: Action, p: m.ActionBody
) -> Change:
    """An assisting unit works on its own assignment; the order's state is the lead's business."""
    if action not in ASSIST_ACTIONS:
        raise Forbidden(f"an assisting unit cannot {action.value}", {"assignment_id": a["id"]})
    status = Status(order["status"])
    if status not in IN_PROGRESS:
        raise InvalidTransition(
            f"order is {status.value}; assisting units act only while it is in progress",
            {"action": action.value, "status": status.value},
        )
    change = Change(order, principal, action, status, services, assignment_id=a["id"])
    if action is Action.SIGN:
        if a["status"] != "dispatched":
            raise Conflict("this assignment is already signed", {"assignment_id": a["id"]})
        await _sign(conn, change, a, p)
    elif action is Action.REPLY:
        if a["status"] != "signed":
            raise Conflict("sign the assignment before replying", {"assignment_id": a["id"]})
        await _reply(conn, change, a, p)
    else:
        await HANDLERS[action](conn, change, a, p)
    change.audit["role"] = "assist"
    return change


# ---------------------------------------------------------------- helpers


async def _active_unit(conn: asyncpg.Connection, unit_id: int) -> asyncpg.Record:
    unit = await conn.fetchrow("SELECT * FROM units WHERE id = $1", unit_id)
    if unit is None or not unit["active"]:
        raise InvalidInput("no such active unit", {"unit_id": unit_id})
    return unit


async def _new_assignment(
    conn: asyncpg.Connection,
    change: Change,
    unit: asyncpg.Record,
    role: str,
    parent_id: int | None,
    dispatcher_unit_id: int | None,
    route_note: dict[str, Any],
) -> asyncpg.Record:
    a = await conn.fetchrow(
        """INSERT INTO assignments (order_id, unit_id, parent_id, dispatcher_unit_id, dispatched_by, level, role,
                                    route_note, dispatched_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *""",
        change.order["id"], unit["id"], parent_id, dispatcher_unit_id, change.principal.user_id,
        unit["level"], role, _plain(route_note), change.now,
    )  # fmt: skip
    return await change.services.deadlines.on_assignment(conn, change.order, a)


async def _set_assignment(conn: asyncpg.Connection, assignment_id: int, **cols: Any) -> None:
    sets = ", ".join(f"{col} = ${i + 2}" for i, col in enumerate(cols))
    await conn.execute(
        f"UPDATE assignments SET {sets}, version = version + 1, updated_at = now() WHERE id = $1",
        assignment_id,
        *cols.values(),
    )


def push_payload(order: asyncpg.Record, assignment_id: int, topic: str) -> dict[str, Any]:
    """What an agency system receives: the order as a unit sees it."""
    view = order_view(order, Principal(0, "system", "handler", None))
    keep = ("id", "number", "kind", "category_code", "title", "content", "address", "division_code", "urgency",
            "caller_number", "caller_name", "anonymous", "created_at")  # fmt: skip
    return {"topic": topic, "assignment_id": assignment_id, "order": {k: view.get(k) for k in keep}}

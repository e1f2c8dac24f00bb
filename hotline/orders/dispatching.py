"""Dispatching: where the routing engine would send an order, and handing an order to a
unit (the centre's dispatch, a hub's re-dispatch down), each hand-over a new assignment
written with its deadlines and pushed to the unit's system with them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from dispatch.engine import Decision
from hotline.errors import Forbidden, InvalidInput
from hotline.orders import models as m
from hotline.orders import place, store
from hotline.orders.assignment_states import AssignmentStatus
from hotline.orders.change import Change, Services, fresh
from hotline.orders.notify import push_payload
from hotline.orders.states import Status


async def suggest(
    conn: asyncpg.Connection, services: Services, order: asyncpg.Record, generation: int | None = None
) -> tuple[Decision | None, int | None]:
    """The routing engine's decision for ``order`` and the unit the centre would dispatch to
    (a street office is reached through its district hub); (None, None) without a router.
    ``generation``: the routing data's, when the caller read it already (``fresh``)."""
    if services.router is None:
        return None, None
    await services.router.refresh(conn, generation)
    decision = services.router.route(place.route_request(order))
    if not decision.routed:
        return decision, None
    return decision, decision.via_unit_id if decision.level == "street" else decision.unit_id


async def dispatch(conn, change: Change, _a, p: m.Dispatch) -> None:
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
    known = await fresh(conn)
    decision, suggested = await suggest(conn, change.services, change.order, known.routing)
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
    lead = await _new_assignment(conn, change, unit, "lead", None, None, route_note, known.deadlines)
    change.assignment_id = lead["id"]
    assists = []
    for assist_id in dict.fromkeys(p.assist_unit_ids):
        assist_unit = await _active_unit(conn, assist_id)
        a = await _new_assignment(conn, change, assist_unit, "assist", None, None, route_note, known.deadlines)
        assists.append(a)
    change.audit = {
        **store.plain(p),
        "assignment_id": lead["id"],
        "assist_assignment_ids": [a["id"] for a in assists],
        "suggested_unit_id": suggested,
        "overridden": overridden,
    }
    for unit_id, assignment in [(unit["id"], lead), *zip(dict.fromkeys(p.assist_unit_ids), assists, strict=True)]:
        change.outbox.append((topic, unit_id, _dispatched_payload(change, assignment, topic)))
        change.live_units.add(unit_id)


async def redispatch(conn, change: Change, hub_assignment, p: m.Redispatch) -> None:
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
    await store.move(conn, hub_assignment, AssignmentStatus.REDISPATCHED)
    change.order_updates.update(place.handed_down(change.order, unit))
    child = await _new_assignment(conn, change, unit, "lead", hub_assignment["id"], hub["id"], {"note": p.note})
    change.assignment_id = child["id"]
    change.audit = {**store.plain(p), "parent_assignment_id": hub_assignment["id"], "assignment_id": child["id"]}
    change.outbox.append(("order.dispatched", unit["id"], _dispatched_payload(change, child, "order.dispatched")))
    change.live_units.add(unit["id"])


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
    token: UUID | None = None,
) -> asyncpg.Record:
    """A new assignment for ``unit``, written with its deadlines, its timers armed (one statement).
    ``token``: the deadline policy's, when the action read it already (``fresh``)."""
    deadlines = change.services.deadlines
    planned = await deadlines.for_dispatch(conn, change.order, change.now, token)
    return await store.new_assignment(
        conn, change.order["id"], unit, role=role, parent_id=parent_id, dispatcher_unit_id=dispatcher_unit_id,
        dispatched_by=change.principal.user_id, route_note=route_note, dispatched_at=change.now,
        sign_due_at=planned.sign_due_at, reply_due_at=planned.reply_due_at, deadline_basis=planned.basis,
        timers=deadlines.timers(planned),
    )  # fmt: skip


def _dispatched_payload(change: Change, a: asyncpg.Record, topic: str) -> dict[str, Any]:
    """A (re-)dispatch push: the order, and the new assignment's sign-by and reply-by."""
    return push_payload(change.order, a["id"], topic, a["role"]) | store.deadline_fields(a)

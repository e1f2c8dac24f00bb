"""What each order action does, once the engine (``hotline.orders.actions``) has locked the
order, checked the actor and found the assignment it works on.

A handler gets the connection, the ``Change`` it fills in (audit detail, outbox messages,
units to tell live, order columns to set, the target state where the action chooses one)
and the assignment; it writes assignments only through ``hotline.orders.store``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from hotline.auth import Principal
from hotline.errors import Conflict, Forbidden, InvalidInput, InvalidTransition
from hotline.kb import usage as kb_usage
from hotline.orders import dispatching, place, store
from hotline.orders import models as m
from hotline.orders.assignment_states import OPEN, AssignmentStatus, param
from hotline.orders.change import Change, Services
from hotline.orders.notify import push_payload
from hotline.orders.states import IN_PROGRESS, Action, Status, target

AS = AssignmentStatus
# Actions an assisting unit (协办) may take on its own assignment; they never move the order.
ASSIST_ACTIONS = frozenset({Action.SIGN, Action.CONTACT, Action.NOTE, Action.REPLY})
MAX_VISIT_ATTEMPTS = 3


async def _resolve_directly(conn, change: Change, _a, p: m.ResolveDirectly) -> None:
    cited = await kb_usage.cite(conn, change.order["id"], list(dict.fromkeys(p.article_ids)), change.now)
    change.audit = {"note": p.note, "articles": cited} if cited else {"note": p.note}


async def _sign(conn, change: Change, a, _p) -> None:
    await store.move(conn, a, AS.SIGNED, signed_at=change.now)


async def _return(conn, change: Change, a, p: m.Return) -> None:
    await store.move(conn, a, AS.RETURNED, returned_at=change.now, return_reason=p.reason)
    change.audit = {"reason": p.reason}
    if a["parent_id"] is not None:
        # Back to the hub that handed it down: the hub holds the order again, signed.
        await store.move(conn, await _parent(conn, a), AS.SIGNED)
        change.to_status = target(Action.RETURN, Status(change.order["status"]), Status.SIGNED)
        change.live_units.add(a["dispatcher_unit_id"])
    else:
        # Back to the centre, which re-dispatches with a fresh set of units.
        await store.cancel_open(conn, change.order["id"], role="assist")
        change.to_status = target(Action.RETURN, Status(change.order["status"]), Status.RETURNED)


async def _contact(conn, change: Change, a, p: m.Contact) -> None:
    at = p.contacted_at or change.now
    await store.update(conn, a["id"], first_contact_at=a["first_contact_at"] or at)
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
    await store.update(conn, a["id"], extension_status="requested", extension_days=p.days, extension_reason=p.reason)
    change.audit = {"days": p.days, "reason": p.reason}


async def _decide_extension(conn, change: Change, a, p: m.ExtensionDecision) -> None:
    # The engine found the assignment the decision names (or the order's open lead) and checked
    # that the caller dispatched it: the requester never decides its own request.
    if a["extension_status"] != "requested":
        raise Conflict("no extension request is waiting", {"assignment_id": a["id"]})
    change.assignment_id = a["id"]
    if not p.approve:
        await store.update(conn, a["id"], extension_status="denied")
        change.audit = {"approve": False, "note": p.note}
        return
    new_due = await change.services.deadlines.extend(conn, change.order, a, a["extension_days"])
    await store.update(conn, a["id"], extension_status="approved")
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
            push_payload(change.order, a["id"], "order.extended", a["role"]) | {"reply_due_at": new_due.isoformat()},
        )
    )
    change.live_units.add(a["unit_id"])


async def _reply(conn, change: Change, a, p: m.Reply) -> None:
    await store.move(
        conn, a, AS.REPLIED, replied_at=change.now, reply_text=p.text, reply_result=p.result,
        reply_attachments=[str(u) for u in p.attachments],
    )  # fmt: skip
    change.audit = store.plain(p)


async def _review(conn, change: Change, a, p: m.Review) -> None:
    current = Status(change.order["status"])
    change.audit = {"accept": p.accept, "reason": p.reason}
    if not p.accept:
        await store.move(conn, a, AS.SIGNED)
        change.to_status = target(Action.REVIEW, current, Status.SIGNED)
        change.live_units.add(a["unit_id"])
        return
    await store.move(conn, a, AS.DONE)
    if a["parent_id"] is not None:
        # A hub accepted its street's reply: the hub's own assignment now carries it to the centre.
        await store.move(
            conn, await _parent(conn, a), AS.REPLIED, replied_at=change.now, reply_text=a["reply_text"],
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
        "SELECT id, unit_id, role FROM assignments WHERE order_id = $1 AND status = ANY($2::text[])",
        change.order["id"],
        param(OPEN),
    )
    change.audit = {"note": note, "unit_ids": [r["unit_id"] for r in rows]}
    for r in rows:
        payload = push_payload(change.order, r["id"], topic, r["role"]) | {"note": note}
        change.outbox.append((topic, r["unit_id"], payload))
        change.live_units.add(r["unit_id"])


async def _visit(conn, change: Change, _a, p: m.Visit) -> None:
    order, current = change.order, Status(change.order["status"])
    lead = await conn.fetchrow(
        """SELECT a.id, a.unit_id, u.active AS unit_active FROM assignments a JOIN units u ON u.id = a.unit_id
           WHERE a.order_id = $1 AND a.role = 'lead' AND a.dispatcher_unit_id IS NULL AND a.status = $2
           ORDER BY a.id DESC LIMIT 1""",
        order["id"], AS.DONE.value,
    )  # fmt: skip
    attempt = order["visit_attempts"] + 1
    await conn.execute(
        """INSERT INTO visits (order_id, assignment_id, unit_id, attempt, reached, satisfaction, resolved, note,
                               visited_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        order["id"], lead["id"] if lead else None, lead["unit_id"] if lead else None, attempt,
        p.reached, p.satisfaction, p.resolved, p.note, change.principal.user_id,
    )  # fmt: skip
    change.order_updates["visit_attempts"] = attempt
    change.audit = {**store.plain(p), "attempt": attempt}
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
    await store.cancel_open(conn, change.order["id"])
    change.order_updates.update(merged_into=p.into_order_id, closed_at=change.now, close_reason="merged")
    change.audit = store.plain(p)


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
    Action.DISPATCH: dispatching.dispatch,
    Action.REDISPATCH: dispatching.redispatch,
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


async def assist_action(
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


async def _parent(conn: asyncpg.Connection, a: asyncpg.Record) -> asyncpg.Record:
    """The hub's assignment ``a`` was handed down from."""
    return await conn.fetchrow("SELECT * FROM assignments WHERE id = $1", a["parent_id"])

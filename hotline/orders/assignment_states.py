"""The assignment lifecycle as data: one unit's part of an order, from dispatch to done.

An order moves through ``hotline.orders.states``; each unit it is handed to holds an
assignment that moves through the table below. Pure: no I/O. ``hotline.orders.store``
checks every status change against it, and SQL that selects assignments by status
receives the named sets as parameters (``status = ANY($n::text[])``, pass ``param(SET)``)
so no grouping is written out twice.
"""

from __future__ import annotations

from enum import StrEnum

from hotline.errors import InvalidTransition


class AssignmentStatus(StrEnum):
    DISPATCHED = "dispatched"  # handed to the unit, not yet signed for
    SIGNED = "signed"  # the unit signed (签收) and works on it
    REPLIED = "replied"  # the unit replied; its dispatcher reviews
    REDISPATCHED = "redispatched"  # a hub handed it down to a unit under it
    RETURNED = "returned"  # the unit sent it back (退单)
    DONE = "done"  # the dispatcher accepted the reply
    CANCELLED = "cancelled"  # the order was merged, or returned while this unit assisted


A = AssignmentStatus

# Where each status may go, and why (the action or event that moves it).
TRANSITIONS: dict[AssignmentStatus, dict[AssignmentStatus, str]] = {
    A.DISPATCHED: {
        A.SIGNED: "sign",
        A.REDISPATCHED: "redispatch",
        A.RETURNED: "return",
        A.CANCELLED: "merge, or the lead returned the order",
    },
    A.SIGNED: {
        A.REPLIED: "reply",
        A.REDISPATCHED: "redispatch",
        A.RETURNED: "return",
        A.CANCELLED: "merge, or the lead returned the order",
    },
    A.REPLIED: {
        A.DONE: "review accepted",
        A.SIGNED: "review sent back",
        A.CANCELLED: "merge, or the lead returned the order",
    },
    # The hub holds the order again when its unit returns it, and carries its unit's accepted reply up.
    A.REDISPATCHED: {A.SIGNED: "the unit below returned it", A.REPLIED: "the hub accepted its unit's reply"},
    A.RETURNED: {},
    A.DONE: {},
    A.CANCELLED: {},
}

# The unit still works on it: actions, reminders and suspensions reach these.
OPEN = frozenset({A.DISPATCHED, A.SIGNED, A.REPLIED})
# Held by the unit (a hub asks where to send it down only while it holds the order).
HELD = frozenset({A.DISPATCHED, A.SIGNED})
# A sign clock runs while the unit has not signed; a reply clock until it replies.
SIGN_CLOCK_RUNNING = frozenset({A.DISPATCHED})
REPLY_CLOCK_RUNNING = frozenset({A.DISPATCHED, A.SIGNED})
CLOCK_RUNNING: dict[str, frozenset[AssignmentStatus]] = {"sign": SIGN_CLOCK_RUNNING, "reply": REPLY_CLOCK_RUNNING}
TERMINAL = frozenset(s for s, to in TRANSITIONS.items() if not to)


def param(statuses: frozenset[AssignmentStatus]) -> list[str]:
    """A named set as a SQL ``text[]`` parameter (sorted, so a statement's arguments are stable)."""
    return sorted(s.value for s in statuses)


def check_move(current: str, to: AssignmentStatus, assignment_id: int | None = None) -> AssignmentStatus:
    """``to`` if the table lets an assignment in ``current`` go there; InvalidTransition (409) otherwise."""
    status = AssignmentStatus(current)
    allowed = TRANSITIONS[status]
    if to not in allowed:
        raise InvalidTransition(
            f"assignment is {status.value}; it cannot become {to.value}"
            + (f" (from {status.value} it goes to " + " or ".join(sorted(allowed)) + ")" if allowed else ""),
            {"assignment_id": assignment_id, "status": status.value, "to": to.value, "allowed_to": sorted(allowed)},
        )
    return to

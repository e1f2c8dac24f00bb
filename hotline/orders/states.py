"""The work-order lifecycle (DESIGN.md §4) as data.

Each action names who may take it and from which states, and where the order
goes. Pure: no I/O. ``hotline.orders.actions`` applies it inside a
transaction; tests walk the whole table, allowed and refused. Each unit's part of an
order, its assignment, has a lifecycle of its own: ``hotline.orders.assignment_states``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hotline.errors import InvalidTransition


class Status(StrEnum):
    RECEIVED = "received"
    RESOLVED_DIRECTLY = "resolved_directly"
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    REPLIED = "replied"
    AWAITING_VISIT = "awaiting_visit"
    VISITED = "visited"
    CLOSED = "closed"
    RETURNED = "returned"
    REOPENED = "reopened"
    MERGED = "merged"
    SUSPENDED = "suspended"


class Action(StrEnum):
    RESOLVE_DIRECTLY = "resolve_directly"
    DISPATCH = "dispatch"
    REDISPATCH = "redispatch"
    SIGN = "sign"
    RETURN = "return"
    CONTACT = "contact"
    NOTE = "note"
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    REPLY = "reply"
    REVIEW = "review"
    REMIND = "remind"
    SUPERVISE = "supervise"
    VISIT = "visit"
    CLOSE = "close"
    MERGE = "merge"
    SUSPEND = "suspend"
    RESUME = "resume"
    SET_DIVISION = "set_division"


class Actor(StrEnum):
    """Who an action belongs to. ``UNIT`` is a handler of the assigned unit;
    ``DISPATCHER`` is whoever dispatched the assignment (the centre or a hub)."""

    CENTRE = "centre"  # agents, supervisors, admins
    SUPERVISOR = "supervisor"  # supervisors and admins only
    UNIT = "unit"
    DISPATCHER = "dispatcher"


S = Status
OPEN_WITH_UNIT = frozenset({S.DISPATCHED, S.SIGNED})
IN_PROGRESS = frozenset({S.DISPATCHED, S.SIGNED, S.REPLIED})
SUSPENDABLE = frozenset({S.RECEIVED, S.DISPATCHED, S.SIGNED, S.REPLIED, S.AWAITING_VISIT, S.RETURNED, S.REOPENED})
TERMINAL = frozenset({S.CLOSED, S.MERGED})


@dataclass(frozen=True)
class Rule:
    actor: Actor
    from_states: frozenset[Status]
    # Where a plain run of the action leads; None keeps the state. Actions whose
    # outcome depends on their input (review, visit, return) choose among
    # ``outcomes`` in handlers.py, and only those.
    to: Status | None
    outcomes: frozenset[Status] = frozenset()


RULES: dict[Action, Rule] = {
    Action.RESOLVE_DIRECTLY: Rule(Actor.CENTRE, frozenset({S.RECEIVED}), S.RESOLVED_DIRECTLY),
    Action.DISPATCH: Rule(Actor.CENTRE, frozenset({S.RECEIVED, S.RETURNED, S.REOPENED}), S.DISPATCHED),
    # A hub hands its assignment down to a street office or district agency.
    Action.REDISPATCH: Rule(Actor.UNIT, OPEN_WITH_UNIT, S.DISPATCHED),
    Action.SIGN: Rule(Actor.UNIT, frozenset({S.DISPATCHED}), S.SIGNED),
    # Back to whoever dispatched: the centre (returned) or a hub (it holds the order again, signed).
    Action.RETURN: Rule(Actor.UNIT, OPEN_WITH_UNIT, S.RETURNED, frozenset({S.RETURNED, S.SIGNED})),
    Action.CONTACT: Rule(Actor.UNIT, OPEN_WITH_UNIT, None),
    Action.NOTE: Rule(Actor.UNIT, IN_PROGRESS, None),
    Action.REQUEST_EXTENSION: Rule(Actor.UNIT, OPEN_WITH_UNIT, None),
    Action.DECIDE_EXTENSION: Rule(Actor.DISPATCHER, OPEN_WITH_UNIT, None),
    Action.REPLY: Rule(Actor.UNIT, frozenset({S.SIGNED}), S.REPLIED),
    # Accept → awaiting visit (or, for a hub accepting a street's reply, still replied
    # for the centre to review); send back → signed.
    Action.REVIEW: Rule(
        Actor.DISPATCHER, frozenset({S.REPLIED}), S.AWAITING_VISIT, frozenset({S.AWAITING_VISIT, S.REPLIED, S.SIGNED})
    ),
    Action.REMIND: Rule(Actor.CENTRE, IN_PROGRESS, None),
    Action.SUPERVISE: Rule(Actor.SUPERVISOR, IN_PROGRESS, None),
    # Not reached: the order waits for the next attempt, and closes as unreachable after the last.
    Action.VISIT: Rule(
        Actor.CENTRE,
        frozenset({S.AWAITING_VISIT}),
        S.VISITED,
        frozenset({S.VISITED, S.REOPENED, S.AWAITING_VISIT, S.CLOSED}),
    ),
    Action.CLOSE: Rule(Actor.CENTRE, frozenset({S.VISITED, S.RESOLVED_DIRECTLY}), S.CLOSED),
    Action.MERGE: Rule(Actor.CENTRE, frozenset({S.RECEIVED, S.DISPATCHED}), S.MERGED),
    Action.SUSPEND: Rule(Actor.SUPERVISOR, SUSPENDABLE, S.SUSPENDED),
    # Resume goes back to the state recorded at suspension.
    Action.RESUME: Rule(Actor.SUPERVISOR, frozenset({S.SUSPENDED}), None),
    # Where the order is (the figures count it there) may be corrected until it is closed or merged.
    Action.SET_DIVISION: Rule(Actor.CENTRE, frozenset(Status) - TERMINAL, None),
}


def check(action: Action, current: Status) -> Rule:
    """The rule for ``action`` if ``current`` allows it; InvalidTransition otherwise."""
    rule = RULES[action]
    if current not in rule.from_states:
        raise InvalidTransition(
            f"order is {current.value}; {action.value} is allowed only when it is "
            + " or ".join(sorted(s.value for s in rule.from_states)),
            {"action": action.value, "status": current.value, "allowed_from": sorted(rule.from_states)},
        )
    return rule


def target(action: Action, current: Status, outcome: Status | None = None) -> Status:
    """The state after ``action``: the rule's fixed target, ``outcome`` where the action
    chooses one, or the current state for actions that change none."""
    rule = check(action, current)
    if outcome is not None:
        if outcome not in rule.outcomes:
            raise ValueError(f"{action.value} cannot lead to {outcome.value}")
        return outcome
    return rule.to if rule.to is not None else current

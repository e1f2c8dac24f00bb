"""Where an order is: the division it counts under, and the evidence for it.

``work_orders.division_code`` is the place the figures group by district and street. It is
recorded when the order is taken in (the agent's choice, or what the routing engine resolves
from the address, failing that the content), refreshed whenever the order is routed again
(each dispatch; a hub handing it down to a street office puts it in that street), and an
agent may correct it with a reason (``set_division``, audited). Beside the code the order
keeps who set it (``division_source``), how sure routing was (``division_confidence``), the
words of the address that named it (``division_matched``) and the engine's reasons.

Routing reads a place back only when a person set it: one the engine resolved is resolved
again from the text, so a place is never more certain the second time than the first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import asyncpg

from dispatch.engine import Decision, Router, RouteRequest
from hotline.errors import InvalidInput
from hotline.orders import models as m

if TYPE_CHECKING:
    from hotline.orders.change import Change

Source = Literal["agent", "router", "redispatch", "correction"]
# Places a person chose: routing takes them as the agent's choice.
BY_A_PERSON: frozenset[str] = frozenset({"agent", "correction"})


@dataclass(frozen=True)
class Place:
    code: str
    source: Source
    confidence: float
    matched: str | None
    reasons: list[str]

    def columns(self) -> dict[str, Any]:
        """The ``work_orders`` columns this place sets."""
        return {
            "division_code": self.code,
            "division_source": self.source,
            "division_confidence": self.confidence,
            "division_matched": self.matched,
            "division_reasons": self.reasons,
        }

    def as_dict(self) -> dict[str, Any]:
        """For audit payloads."""
        return {"division_code": self.code, "source": self.source, "confidence": self.confidence,
                "matched": self.matched, "reasons": self.reasons}  # fmt: skip


def route_request(order: Any) -> RouteRequest:
    """What the router reads from an order row (or a new order's body)."""
    req = RouteRequest.of(order)
    source = order.get("division_source") if isinstance(order, asyncpg.Record | dict) else "agent"
    if source not in BY_A_PERSON:
        return replace(req, division_code=None)
    return req


def from_decision(decision: Decision | None, previous_source: str | None) -> Place | None:
    """The place a routing decision found; None when it found none (the order keeps what it had)."""
    if decision is None or decision.division_code is None:
        return None
    spans = decision.resolution.spans if decision.resolution else ()
    matched = "、".join(dict.fromkeys(s.text for s in spans if s.code == decision.division_code)) or None
    source: Source = "router"
    if previous_source == "agent" or previous_source == "correction":
        source = previous_source  # a person's choice stays theirs, however routing refined it
    return Place(decision.division_code, source, float(decision.confidence), matched, list(decision.reasons))


async def at_intake(
    conn: asyncpg.Connection, router: Router | None, data: m.NewOrder, generation: int | None = None
) -> Place | None:
    """The place of an order being taken in; None without a router or when nothing names one.
    ``generation``: the routing data's, when the intake read it already (``Router.refresh``)."""
    if router is None:
        return None
    await router.refresh(conn, generation)
    return from_decision(router.route(route_request(data)), "agent" if data.division_code else None)


async def record(conn: asyncpg.Connection, order_id: int, located: Place) -> asyncpg.Record:
    """Write the place of a newly taken-in order (same transaction as the intake)."""
    cols = located.columns()
    sets = ", ".join(f"{col} = ${i + 2}" for i, col in enumerate(cols))
    return await conn.fetchrow(f"UPDATE work_orders SET {sets} WHERE id = $1 RETURNING *", order_id, *cols.values())


def after_routing(order: asyncpg.Record, decision: Decision | None) -> dict[str, Any]:
    """Column updates for an order just routed again (empty when the decision found no place)."""
    place = from_decision(decision, order["division_source"])
    return place.columns() if place else {}


def handed_down(order: asyncpg.Record, unit: asyncpg.Record) -> dict[str, Any]:
    """A hub handed the order to ``unit``: the order is in the unit's division when that lies
    inside the recorded one (a district's order goes to one of its streets)."""
    inside = unit["division_code"]
    current = order["division_code"]
    if not inside or order["division_source"] == "correction" or inside == current:
        return {}
    if current and not (inside.startswith(current) and len(inside) > len(current)):
        return {}
    return Place(inside, "redispatch", 1.0, None, [f"re-dispatched to {unit['name']}"]).columns()


async def set_division(conn: asyncpg.Connection, change: Change, _assignment: Any, p: m.SetDivision) -> None:
    """An agent corrects where the order is (from then on routing takes it as the agent's choice)."""
    name = await conn.fetchval("SELECT name FROM divisions WHERE code = $1", p.division_code)
    if name is None:
        raise InvalidInput("unknown division_code", {"division_code": p.division_code})
    place = Place(p.division_code, "correction", 1.0, None, [f"corrected to {name}: {p.reason}"])
    change.order_updates.update(place.columns())
    change.audit = {
        "division_code": p.division_code,
        "previous_division_code": change.order["division_code"],
        "previous_source": change.order["division_source"],
        "reason": p.reason,
    }

"""One view per audience, decided here: which of a citizen's identity each reader sees.

Audiences of an order:

| audience | who | caller number | caller name | assignments | history |
| --- | --- | --- | --- | --- | --- |
| centre | agents, admins | as given | as given | all | all |
| supervisor | supervisors | as given | as given | all | all |
| lead | the unit holding the open lead, and its system | as given if the citizen allowed contact, else masked | same | all | all |
| assist | a unit assisting (协办), and its system | masked | masked | its own | its own |
| former | a unit that returned the order, a hub that re-dispatched it down (it oversees, it does not call) | none | none | its own and its units' | same |

An anonymous order shows no identity to any unit. Masking applies to every field that
carries identity, wherever it sits: the order, an audit event's payload (old events copied
the whole create body), a push, a listing. A unit with no assignment on an order does not
see it at all, and is answered exactly as for a missing one (404).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from hotline.auth import Principal
from hotline.orders.views import mask_phone, row_dict

IDENTITY_FIELDS = ("caller_number", "caller_name")
# Assignment states that mean the unit has let the order go.
AWAY = frozenset({"returned", "redispatched", "cancelled"})


class Audience(StrEnum):
    CENTRE = "centre"
    SUPERVISOR = "supervisor"
    LEAD = "lead"
    ASSIST = "assist"
    FORMER = "former"

    @property
    def is_staff(self) -> bool:
        return self in (Audience.CENTRE, Audience.SUPERVISOR)


def of_staff(principal: Principal) -> Audience | None:
    if principal.role == "supervisor":
        return Audience.SUPERVISOR
    return Audience.CENTRE if principal.is_centre else None


def of_assignment(a: Mapping[str, Any], viewer_unit_id: int | None = None) -> Audience:
    """The audience a unit is through one assignment (what its system is pushed as). A hub
    reading an assignment of a unit under it oversees: it sees no identity."""
    if a["status"] in AWAY or (viewer_unit_id is not None and a["unit_id"] != viewer_unit_id):
        return Audience.FORMER
    return Audience.LEAD if a["role"] == "lead" else Audience.ASSIST


def of_unit(assignments: Iterable[Mapping[str, Any]], unit_id: int | None, units: set[int]) -> Audience | None:
    """The most a unit is on an order through its own assignments; a hub that sees the order only
    through a unit under it (``units``) oversees (former); None: it has no part in it."""
    assignments = list(assignments)
    mine = [of_assignment(a) for a in assignments if a["unit_id"] == unit_id]
    for audience in (Audience.LEAD, Audience.ASSIST, Audience.FORMER):
        if audience in mine:
            return audience
    return Audience.FORMER if any(a["unit_id"] in units for a in assignments) else None


def of(principal: Principal, assignments: Iterable[Mapping[str, Any]], units: set[int]) -> Audience | None:
    return of_staff(principal) or of_unit(assignments, principal.unit_id, units)


def mask_name(name: str | None) -> str | None:
    """张三 → 张*: the surname is how a handler greets the citizen; the rest is theirs."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def identity(order: Mapping[str, Any], audience: Audience) -> dict[str, Any]:
    number, name = order.get("caller_number"), order.get("caller_name")
    if audience.is_staff:
        return {"caller_number": number, "caller_name": name}
    if order.get("anonymous") or audience is Audience.FORMER:
        return {"caller_number": None, "caller_name": None}
    if audience is Audience.LEAD and order.get("contact_allowed"):
        return {"caller_number": number, "caller_name": name}
    return {"caller_number": mask_phone(number), "caller_name": mask_name(name)}


def order_view(order: Mapping[str, Any], audience: Audience) -> dict[str, Any]:
    return {**row_dict(order), **identity(order, audience)}


def shows_identity(order: Mapping[str, Any], audience: Audience) -> list[str]:
    """The identity fields this audience sees unmasked (what the access log records)."""
    shown = identity(order, audience)
    return [f for f in IDENTITY_FIELDS if shown[f] and shown[f] == order.get(f)]


def scrub(value: Any, shown: Mapping[str, Any]) -> Any:
    """``value`` with every identity field replaced by what the audience may see of it."""
    if isinstance(value, dict):
        return {k: (shown[k] if k in shown and v is not None else scrub(v, shown)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, shown) for v in value]
    return value


def event_view(event: Mapping[str, Any], order: Mapping[str, Any], audience: Audience) -> dict[str, Any]:
    out = row_dict(event)
    if not audience.is_staff:
        out["payload"] = scrub(out.get("payload"), identity(order, audience))
    return out


def sees_everything(audience: Audience) -> bool:
    """Does the audience read every assignment and event of the order, or only its own?"""
    return audience.is_staff or audience is Audience.LEAD


def keep(rows: Iterable[Mapping[str, Any]], key: str, own: set[int], audience: Audience) -> list[Mapping[str, Any]]:
    """Rows (assignments by ``id``, events by ``assignment_id``) the audience reads: all of them,
    or those of its own assignments."""
    return [r for r in rows if sees_everything(audience) or r[key] in own]

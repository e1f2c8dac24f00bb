"""The routing engine: a work order -> the unit it goes to, with the reasons why.

:class:`Router` holds an immutable :class:`Snapshot` (resolver, compiled rule index,
units, category names) loaded from PostgreSQL; :meth:`Router.route` is pure and
synchronous over it, so one Router serves every request of a process. Admin changes to
divisions, aliases, rules, units or categories bump ``dispatch_generation`` (triggers in
``sql/002_dispatch.sql``, with a ``NOTIFY dispatch_changed``); :meth:`Router.refresh`
compares that one number and reloads only when it moved.

Which place: the division the agent chose wins (an address that names a street inside it
narrows it down); otherwise the address is resolved, then the content. Which unit: the
most specific rule (:mod:`dispatch.ruleindex`); rules whose unit is inactive are passed
over. No rule: back to the centre (the unit of kind ``centre``) for manual dispatch, or
outcome ``none`` when there is no centre. ``confidence`` is how sure we are of the place
(1.0 for the agent's choice, the resolver's figure otherwise, 0.0 when unknown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg

from dispatch.aliases import list_aliases
from dispatch.divisions import Division, load_divisions, significant_prefix
from dispatch.forms import Alias, Veto
from dispatch.places import Place, load_places
from dispatch.resolver import Resolution, Resolver
from dispatch.ruleindex import RuleIndex
from dispatch.rules import Rule, list_rules
from dispatch.units import Unit, list_units
from dispatch.vetoes import list_vetoes

Outcome = Literal["rule", "centre", "none"]
REVIEW_BELOW = 0.8  # a decision less sure than this of the place should be checked by the agent
CONTENT_FACTOR = 0.8  # a place found only in the free-text content counts for less
GENERATION_SQL = "SELECT generation FROM dispatch_generation"  # bumped by every edit of the routing data


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What routing reads from a work order (a ``work_orders`` row has all these columns)."""

    category_code: str | None = None
    kind: str | None = None
    address: str = ""
    division_code: str | None = None
    content: str = ""

    @classmethod
    def of(cls, order: RouteRequest | Mapping[str, Any] | Any) -> RouteRequest:
        if isinstance(order, RouteRequest):
            return order
        # asyncpg.Record has .get but is not a collections.abc.Mapping; a dict or a record is
        # told apart before the slower ABC check.
        mapped = isinstance(order, dict | asyncpg.Record) or isinstance(order, Mapping)
        get = order.get if mapped else lambda k, d=None: getattr(order, k, d)
        return cls(
            category_code=get("category_code") or None,
            kind=get("kind") or None,
            address=get("address") or "",
            division_code=get("division_code") or None,
            content=get("content") or "",
        )


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    unit_id: int | None
    unit_code: str | None
    unit_name: str | None
    level: str | None  # the unit's level: city / district / street
    rule_id: int | None
    division_code: str | None
    confidence: float
    reasons: list[str] = field(default_factory=list)
    assist_unit_ids: tuple[int, ...] = ()
    assist_rule_ids: tuple[int, ...] = ()
    via_unit_id: int | None = None  # for a street office: the district hub it is reached through
    resolution: Resolution | None = None

    @property
    def routed(self) -> bool:
        return self.outcome == "rule"

    @property
    def needs_review(self) -> bool:
        return self.outcome != "rule" or self.confidence < REVIEW_BELOW

    @property
    def review_reason(self) -> str | None:
        """Why an agent should check this decision, in a sentence; None when it need not."""
        if not self.needs_review:
            return None
        res = self.resolution
        if self.division_code is None:
            if res is not None and res.candidates:
                return "the address names several possible places; choose the division"
            return "no known place in the address or content; choose the division"
        if res is not None and res.doubt:
            return res.doubt
        if self.confidence < REVIEW_BELOW:
            return f"the place is uncertain (confidence {self.confidence:.2f}); check the division"
        if self.outcome == "centre":
            return "no dispatch rule covers this category and place; the centre dispatches it by hand"
        return "no dispatch rule and no centre unit: nobody to send it to"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, e.g. for ``assignments.route_note``."""
        res = self.resolution
        return {
            "outcome": self.outcome,
            "unit_id": self.unit_id,
            "unit_code": self.unit_code,
            "unit_name": self.unit_name,
            "level": self.level,
            "rule_id": self.rule_id,
            "division_code": self.division_code,
            "confidence": self.confidence,
            "needs_review": self.needs_review,
            "review_reason": self.review_reason,
            "reasons": list(self.reasons),
            "assist_unit_ids": list(self.assist_unit_ids),
            "assist_rule_ids": list(self.assist_rule_ids),
            "via_unit_id": self.via_unit_id,
            "spans": [{"text": s.text, "start": s.start, "end": s.end, "code": s.code} for s in res.spans]
            if res
            else [],
            "candidates": list(res.candidates) if res else [],
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    generation: int
    resolver: Resolver
    rules: RuleIndex
    units: Mapping[int, Unit]
    categories: Mapping[str, str]
    centre: Unit | None
    prefix_names: Mapping[str, str]  # significant prefix -> division name (3203 -> 徐州市)

    def usable(self, unit_id: int) -> bool:
        unit = self.units.get(unit_id)
        return unit is not None and unit.active


def build_snapshot(
    divisions: Iterable[Division],
    aliases: Iterable[Alias],
    rules: Iterable[Rule],
    units: Iterable[Unit],
    categories: Mapping[str, str],
    generation: int = 0,
    places: Iterable[Place] = (),
    vetoes: Iterable[Veto] = (),
) -> Snapshot:
    """Pure: everything routing needs, compiled once."""
    divs = list(divisions)
    unit_map = {u.id: u for u in units}
    centres = sorted((u for u in unit_map.values() if u.kind == "centre" and u.active), key=lambda u: u.id)
    prefix_names = {significant_prefix(d.code): d.name for d in divs}
    return Snapshot(
        generation=generation,
        resolver=Resolver(divs, aliases, places=places, vetoes=vetoes),
        rules=RuleIndex(rules),
        units=unit_map,
        categories=dict(categories),
        centre=centres[0] if centres else None,
        prefix_names=prefix_names,
    )


async def load_snapshot(conn: asyncpg.Connection) -> Snapshot:
    """Read everything in one consistent snapshot of the database, then compile it."""

    async def read() -> tuple[Any, ...]:
        generation = await conn.fetchval(GENERATION_SQL)
        categories = {r["code"]: r["name"] for r in await conn.fetch("SELECT code, name FROM categories")}
        return (
            generation,
            await load_divisions(conn),
            await list_aliases(conn),
            await list_rules(conn),
            await list_units(conn),
            categories,
            await load_places(conn),
            await list_vetoes(conn),
        )

    if conn.is_in_transaction():
        generation, divisions, aliases, rules, units, categories, places, vetoes = await read()
    else:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            generation, divisions, aliases, rules, units, categories, places, vetoes = await read()
    return build_snapshot(divisions, aliases, rules, units, categories, generation, places, vetoes)


def decide(snap: Snapshot, order: RouteRequest | Mapping[str, Any] | Any) -> Decision:
    """Pure routing over a snapshot."""
    req = RouteRequest.of(order)
    resolver = snap.resolver
    reasons: list[str] = []
    division, confidence, resolution = _place(snap, req, reasons)

    category = req.category_code
    if category and category not in snap.categories:
        reasons.append(f"category {category} is unknown; only rules for any category apply")
        category = None
    match = snap.rules.lookup(category, division, req.kind, snap.usable)
    for r in match.skipped:
        unit = snap.units.get(r.unit_id)
        reasons.append(f"rule #{r.id} passed over: unit {unit.name if unit else r.unit_id} is inactive")

    if match.lead is None:
        where = f"in {resolver.label(division)} ({division})" if division else "with no known place"
        what = _category_text(snap, category)
        centre = snap.centre
        if centre is None:
            reasons.append(f"no rule for {what} {where}, and no centre unit to fall back to: no route")
            return Decision("none", None, None, None, None, None, division, confidence, reasons, resolution=resolution)
        reasons.append(f"no rule for {what} {where} — back to {centre.name} for manual dispatch")
        return Decision(
            "centre", centre.id, centre.code, centre.name, centre.level, None, division, confidence, reasons,
            resolution=resolution,
        )  # fmt: skip

    lead = match.lead
    unit = snap.units[lead.unit_id]
    reasons.append(f"rule #{lead.id}: {_rule_text(snap, lead)} → {unit.name}")
    via = None
    if unit.level == "street":
        hub = _hub_above(snap, unit)
        if hub is not None:
            via = hub.id
            reasons.append(f"{unit.name} is a street unit, reached through {hub.name}")
    assist_ids = tuple(a.unit_id for a in match.assists)
    for a in match.assists:
        reasons.append(f"rule #{a.id}: {snap.units[a.unit_id].name} assists")
    if confidence < REVIEW_BELOW and lead.division_prefix:
        reasons.append(f"the place is uncertain (confidence {confidence:.2f}): check before dispatching")
    return Decision(
        "rule", unit.id, unit.code, unit.name, unit.level, lead.id, division, confidence, reasons,
        assist_ids, tuple(a.id for a in match.assists), via, resolution,
    )  # fmt: skip


def _place(snap: Snapshot, req: RouteRequest, reasons: list[str]) -> tuple[str | None, float, Resolution | None]:
    resolver = snap.resolver
    agent = req.division_code
    if agent and agent not in resolver.divisions:
        reasons.append(f"division {agent} chosen by the agent is unknown; ignored")
        agent = None
    if agent:
        reasons.append(f"division {resolver.label(agent)} ({agent}) chosen by the agent")
        res = resolver.resolve(req.address, context=agent) if req.address else None
        if res and res.resolved and res.code != agent:
            if agent in resolver.ancestors(res.code):
                main = res.spans[0] if res.spans else None
                shown = f" in '{main.text}'" if main else ""
                reasons.append(f"address narrows it to {resolver.label(res.code)}{shown}")
                return res.code, max(res.confidence, 0.9), res
            if res.code not in resolver.ancestors(agent):
                reasons.append(
                    f"note: the address points to {resolver.label(res.code)} ({res.code}); the agent's choice is kept"
                )
        return agent, 1.0, res
    ambiguous: Resolution | None = None  # kept for its candidates when nothing resolves
    for source, text, factor in (("address", req.address, 1.0), ("content", req.content, CONTENT_FACTOR)):
        if not text:
            continue
        res = resolver.resolve(text)
        if res.resolved:
            assert res.code is not None
            confidence = round(res.confidence * factor, 2)
            main = next((s for s in res.spans if s.code == res.code), None)
            if main is not None:
                reasons.append(f"{source} matched {resolver.label(res.code)} in '{main.text}' ({main.label})")
                reasons.extend(f"{source}: {n}" for n in res.notes[1:])
            else:
                reasons.extend(f"{source}: {n}" for n in res.notes)
            return res.code, confidence, res
        if res.candidates:
            names = "、".join(resolver.label(c) for c in res.candidates)
            reasons.append(f"{source} names {names} but does not say which")
            ambiguous = ambiguous or res
    if req.address or req.content:
        reasons.append("no known place found in the address or content")
    else:
        reasons.append("no address given")
    return None, 0.0, ambiguous


def _category_text(snap: Snapshot, category: str | None) -> str:
    if not category:
        return "any category"
    return f"category {category} {snap.categories.get(category, '')}".rstrip()


def _rule_text(snap: Snapshot, rule: Rule) -> str:
    parts = [_category_text(snap, rule.category_code)]
    if rule.division_prefix:
        name = snap.prefix_names.get(rule.division_prefix)
        parts.append(f"within {rule.division_prefix}" + (f" {name}" if name else ""))
    else:
        parts.append("anywhere")
    if rule.kind:
        parts.append(f"kind {rule.kind}")
    return " ".join(parts)


def _hub_above(snap: Snapshot, unit: Unit) -> Unit | None:
    seen: set[int] = set()
    parent_id = unit.parent_id
    while parent_id is not None and parent_id not in seen:
        seen.add(parent_id)
        parent = snap.units.get(parent_id)
        if parent is None:
            return None
        if parent.kind == "hub":
            return parent
        parent_id = parent.parent_id
    return None


# Decisions a Router keeps for the snapshot it holds (the oldest goes first).
DECISIONS_KEPT = 1024


class Router:
    """Long-lived, shared by every request of a process; create with ``await Router.load(conn)``.

    ``decide`` is pure over a snapshot, so the decisions taken on the current snapshot are kept:
    an order is routed at intake, again when the agent asks where it goes and again at its
    dispatch, and each time it is the same question."""

    def __init__(self, snapshot: Snapshot):
        self._snapshot = snapshot
        self._lock = asyncio.Lock()
        self._decided: dict[RouteRequest, Decision] = {}
        self._decided_on = snapshot

    @classmethod
    async def load(cls, conn: asyncpg.Connection) -> Router:
        return cls(await load_snapshot(conn))

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def generation(self) -> int:
        return self._snapshot.generation

    @property
    def resolver(self) -> Resolver:
        return self._snapshot.resolver

    async def reload(self, conn: asyncpg.Connection) -> None:
        """Load a fresh snapshot and swap it in (requests in flight keep the old one)."""
        async with self._lock:
            self._snapshot = await load_snapshot(conn)

    async def refresh(self, conn: asyncpg.Connection, current: int | None = None) -> bool:
        """Reload when the data changed since the snapshot was taken; one tiny query otherwise,
        none when the caller read ``current`` (the generation) with something else of its own."""
        if current is None:
            current = await conn.fetchval(GENERATION_SQL)
        if current == self._snapshot.generation:
            return False
        async with self._lock:
            if self._snapshot.generation != current:
                self._snapshot = await load_snapshot(conn)
                return True
        return False

    def route(self, order: RouteRequest | Mapping[str, Any] | Any) -> Decision:
        req, snap = RouteRequest.of(order), self._snapshot
        if self._decided_on is not snap:  # reloaded: what was decided on the old data no longer holds
            self._decided, self._decided_on = {}, snap
        decision = self._decided.get(req)
        if decision is None:
            decision = decide(snap, req)
            if len(self._decided) >= DECISIONS_KEPT:
                del self._decided[next(iter(self._decided))]
            self._decided[req] = decision
        return decision

    def resolve(self, address: str, context: str | None = None) -> Resolution:
        return self._snapshot.resolver.resolve(address, context)

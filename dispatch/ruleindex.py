"""The dispatch list compiled for lookup: dictionaries keyed by (category, prefix, kind).

Precedence — the most specific rule wins, compared in this order:

1. **category depth**: a rule for 010101 beats one for 0101, which beats one for 01,
   which beats a rule for any category (NULL);
2. **division prefix length**: within the same category, ``320302001`` (a street) beats
   ``320302`` (a district) beats ``3203`` (the city) beats ``''`` (anywhere);
3. **kind**: with the same category and prefix, a rule naming the order's kind
   (complaint ...) beats one for any kind.

So a category-specific city-wide rule beats a district-wide rule for any category: the
category decides *who* is responsible, the place only *which branch*.

Lookup walks the candidate keys in exactly that order — ancestors of the category
(code prefixes), prefixes of the division code of the lengths some rule uses, the kind
then any kind — and stops at the first lead whose unit can take orders: at most
(depth + 1) x (prefix lengths) x 2 dictionary probes, independent of the number of rules.
Two matching rules of equal specificity necessarily have the same key, so one lead per
key (enforced by :func:`dispatch.rules.add_rule` and a unique index) rules out ties.

Assist rules (role ``assist``) add helper units: those at the winning key or at any more
specific key that matched are attached to the decision; less specific ones are not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dispatch.errors import RuleConflict
from dispatch.rules import Rule, RuleKey, conflict_details

_EMPTY: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleMatch:
    lead: Rule | None
    assists: tuple[Rule, ...] = ()
    skipped: tuple[Rule, ...] = ()  # more specific rules passed over: their unit cannot take orders
    probes: int = 0


def category_chain(category_code: str | None) -> list[str | None]:
    """010305 -> [010305, 0103, 01, None]."""
    chain: list[str | None] = []
    if category_code:
        code = category_code
        while code:
            chain.append(code)
            code = code[:-2]
    chain.append(None)
    return chain


class RuleIndex:
    """Immutable after construction; pure over the rules given."""

    def __init__(self, rules: Iterable[Rule]):
        self.leads: dict[RuleKey, Rule] = {}
        assists: dict[RuleKey, list[Rule]] = {}
        lengths: set[int] = set()
        count = 0
        for r in rules:
            count += 1
            lengths.add(len(r.division_prefix))
            if r.role == "lead":
                other = self.leads.get(r.key)
                if other is not None:
                    raise RuleConflict(*conflict_details(r, other))
                self.leads[r.key] = r
            else:
                assists.setdefault(r.key, []).append(r)
        self.assists: dict[RuleKey, tuple[Rule, ...]] = {k: tuple(v) for k, v in assists.items()}
        self.prefix_lengths: tuple[int, ...] = tuple(sorted(lengths, reverse=True))
        self.size = count

    def keys_for(self, category_code: str | None, division_code: str | None, kind: str | None) -> list[RuleKey]:
        """Every key that could match, most specific first."""
        division = division_code or ""
        prefixes = [division[:n] for n in self.prefix_lengths if n <= len(division)]
        kinds: tuple[str | None, ...] = (kind, None) if kind else (None,)
        return [(c, p, k) for c in category_chain(category_code) for p in prefixes for k in kinds]

    def lookup(
        self,
        category_code: str | None,
        division_code: str | None,
        kind: str | None,
        usable: Callable[[int], bool] | None = None,
    ) -> RuleMatch:
        """The winning lead rule (or None), its assists, and the rules skipped because
        ``usable(unit_id)`` said no (an inactive unit)."""
        leads, assists = self.leads, self.assists
        found_assists: list[Rule] = []
        skipped: list[Rule] = []
        probes = 0
        for key in self.keys_for(category_code, division_code, kind):
            probes += 1
            for a in assists.get(key, _EMPTY):
                if usable is None or usable(a.unit_id):
                    found_assists.append(a)
                else:
                    skipped.append(a)
            lead = leads.get(key)
            if lead is None:
                continue
            if usable is not None and not usable(lead.unit_id):
                skipped.append(lead)
                continue
            seen = {lead.unit_id}
            unique = []
            for a in found_assists:
                if a.unit_id not in seen:
                    seen.add(a.unit_id)
                    unique.append(a)
            return RuleMatch(lead, tuple(unique), tuple(skipped), probes)
        return RuleMatch(None, (), tuple(skipped), probes)

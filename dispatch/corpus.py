"""Scoring the resolver on a city's hand-written texts: how often it is right, and never
sure when wrong.

A city's folder holds ``divisions.csv``, ``texts.csv`` and optionally ``places.csv`` (by
hand) and ``communities.csv`` (from :mod:`dispatch.jionlp_places`). A corpus is a CSV ``text,expected``: what a caller said, and the division code that text
names as fixed by a person from the division file and local knowledge (a street when the
text names one, else the district; empty when it names no place). Used by the dispatch
tests (every city) and by ``benchmarks/route.py``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.divisions import read_divisions
from dispatch.places import Place, read_places
from dispatch.resolver import SURE, Resolution, Resolver

PLACE_FILES = ("places.csv", "communities.csv")


@dataclass(frozen=True, slots=True)
class Case:
    line: int
    text: str
    expected: str | None


@dataclass(slots=True)
class Score:
    texts: int = 0
    naming_place: int = 0
    naming_street: int = 0
    naming_none: int = 0
    right_district: int = 0
    exact_street: int = 0
    unresolved: int = 0
    none_unresolved: int = 0
    wrong_sure: list[tuple[Case, Resolution]] = field(default_factory=list)
    misses: list[tuple[Case, Resolution]] = field(default_factory=list)

    def rates(self) -> dict[str, float | int]:
        def pct(n: int, d: int) -> float:
            return round(100 * n / d, 1) if d else 100.0

        return {
            "texts": self.texts,
            "exact_street_pct": pct(self.exact_street, self.naming_street),
            "right_district_pct": pct(self.right_district, self.naming_place),
            "no_place_unresolved_pct": pct(self.none_unresolved, self.naming_none),
            "unresolved": self.unresolved,
            "wrong_at_or_above_review": len(self.wrong_sure),
        }


def city_resolver(folder: Path, with_places: bool = True) -> Resolver:
    """The resolver for a city folder: its divisions, and its place files unless told not to."""
    divisions = read_divisions(folder / "divisions.csv")
    known = {d.code: d.level for d in divisions}
    places: list[Place] = []
    for name in PLACE_FILES if with_places else ():
        if (folder / name).exists():
            places += read_places(folder / name, known)
    return Resolver(divisions, places=places)


def read_corpus(path: Path | str) -> list[Case]:
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return [Case(i, r[0], (r[1].strip() or None) if len(r) > 1 else None) for i, r in enumerate(rows[1:], start=2)]


def score(resolver: Resolver, cases: list[Case]) -> Score:
    s = Score()
    for case in cases:
        res = resolver.resolve(case.text)
        s.texts += 1
        s.unresolved += not res.resolved
        expected = case.expected
        if expected is None:
            s.naming_none += 1
            s.none_unresolved += not res.resolved
            if res.resolved and res.confidence >= SURE:
                s.wrong_sure.append((case, res))
            elif res.resolved:
                s.misses.append((case, res))
            continue
        s.naming_place += 1
        want_district = resolver.district_of(expected)
        is_street = resolver.divisions[expected].level == "street"
        s.naming_street += is_street
        district_ok = res.resolved and res.district_code == want_district
        s.right_district += district_ok
        s.exact_street += is_street and res.code == expected
        consistent = district_ok and (res.code in (expected, want_district) or not is_street)
        if res.resolved and not consistent and res.confidence >= SURE:
            s.wrong_sure.append((case, res))
        elif res.code != expected:
            s.misses.append((case, res))
    return s

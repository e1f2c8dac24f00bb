"""Address resolution: free text -> the street (or district) it names, with confidence and spans.

One Aho-Corasick automaton (pyahocorasick) holds every surface form of every division
(full names, generated short forms and suffix variants, admin aliases; see
:mod:`dispatch.forms`), so a text is scanned once whatever the size of the gazetteer.
Then, purely:

1. hits are collected; a *short* form directly followed by a road or place word
   (``彭城路``, ``东湖公园``) is not a division and is dropped;
2. overlapping hits are reduced to the longest (``金山桥街道`` over ``金山``);
3. a text that names a district or city (``铜山``, ``鼓楼区``) is district context,
   even when a street shares it (``铜山`` is also 铜山街道's short form);
4. each street candidate is scored: its form's weight, +0.1 for each named ancestor
   (and for the caller's ``context`` division), -0.3 when the text or context names a
   different district; the best wins;
5. a tie inside one text (``利国``: 利国街道 and 利国镇 of 铜山区) falls back to the
   district they share, or stays unresolved with the candidates listed.

A :class:`Resolver` is immutable and built once per data generation; build a new one
when divisions or aliases change (:class:`dispatch.engine.Router` does that).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick

from dispatch.divisions import Division
from dispatch.forms import GENERIC_WORDS, Alias, Form, FormKind, build_forms, normalize

# A short form followed by one of these is part of a road or place name, not a division.
PLACE_WORDS = (
    "路", "街", "巷", "弄", "桥", "大道", "广场", "小区", "花园", "公园", "新村", "医院", "学校",
    "中学", "小学", "大学", "市场", "大厦", "宾馆", "酒店", "商场", "公司", "车站", "站", "号",
)  # fmt: skip
ANCESTOR_BONUS = 0.1
MAX_BONUS = 0.2
CONFLICT_PENALTY = 0.3
AMBIGUOUS_CONFIDENCE = 0.6
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Span:
    """One piece of the input that names a division."""

    text: str  # as written in the input
    start: int  # offsets into the input, end exclusive
    end: int
    code: str
    name: str
    level: str
    form: FormKind
    label: str  # "full name", "short form", "suffix variant", "alias (landmark)" ...


@dataclass(frozen=True, slots=True)
class Resolution:
    code: str | None
    name: str | None
    level: str | None
    district_code: str | None
    confidence: float
    spans: tuple[Span, ...] = ()
    candidates: tuple[str, ...] = ()  # the alternatives when the text was ambiguous
    notes: tuple[str, ...] = ()

    @property
    def resolved(self) -> bool:
        return self.code is not None


UNRESOLVED = Resolution(None, None, None, None, 0.0)


@dataclass(slots=True)
class _Hit:
    start: int  # in the normalized text
    end: int
    forms: tuple[Form, ...]


@dataclass(slots=True)
class _Option:
    score: float
    order: int  # index of the hit it came from
    hit: _Hit
    form: Form
    notes: list[str] = field(default_factory=list)


class Resolver:
    """Immutable; safe to share between tasks."""

    def __init__(
        self, divisions: Iterable[Division], aliases: Iterable[Alias] = (), generic: frozenset[str] = GENERIC_WORDS
    ):
        self.divisions: dict[str, Division] = {d.code: d for d in divisions}
        self._ancestors: dict[str, tuple[str, ...]] = {c: self._chain(c) for c in self.divisions}
        self._district: dict[str, str | None] = {c: self._find_district(c) for c in self.divisions}
        forms = build_forms(self.divisions.values(), aliases, generic)
        forms = {t: fs for t, fs in forms.items() if all(f.code in self.divisions for f in fs)}
        self.form_count = sum(len(fs) for fs in forms.values())
        self._automaton: ahocorasick.Automaton | None = None
        if forms:
            automaton = ahocorasick.Automaton()
            for text, fs in forms.items():
                automaton.add_word(text, (text, fs))
            automaton.make_automaton()
            self._automaton = automaton

    # ------------------------------------------------------------------ gazetteer helpers

    def _chain(self, code: str) -> tuple[str, ...]:
        out: list[str] = []
        seen = {code}
        parent = self.divisions[code].parent_code
        while parent and parent in self.divisions and parent not in seen:
            out.append(parent)
            seen.add(parent)
            parent = self.divisions[parent].parent_code
        return tuple(out)

    def ancestors(self, code: str) -> tuple[str, ...]:
        """Parent, grandparent ... of a known code (empty for an unknown one)."""
        return self._ancestors.get(code, ())

    def district_of(self, code: str) -> str | None:
        """The district a code lies in (itself for a district); None above or unknown."""
        return self._district.get(code)

    def _find_district(self, code: str) -> str | None:
        for c in (code, *self.ancestors(code)):
            d = self.divisions.get(c)
            if d and d.level == "district":
                return c
        return None

    def label(self, code: str) -> str:
        d = self.divisions.get(code)
        if d is None:
            return code
        district = self.district_of(code)
        if d.level == "street" and district:
            return f"{d.name} ({self.divisions[district].name})"
        return d.name

    # ------------------------------------------------------------------ resolution

    def resolve(self, text: str, context: str | None = None) -> Resolution:
        """Resolve ``text``; ``context`` is a division already known (e.g. chosen by the agent)
        that breaks ties and penalises candidates outside it."""
        norm, where = normalize(text)
        if self._automaton is None or not norm:
            return UNRESOLVED
        hits = self._longest(self._hits(norm))
        if not hits:
            return UNRESOLVED
        if context is not None and context not in self.divisions:
            context = None

        def span(hit: _Hit, form: Form) -> Span:
            start, end = (hit.start, hit.end) if where is None else (where[hit.start], where[hit.end - 1] + 1)
            d = self.divisions[form.code]
            return Span(text[start:end], start, end, d.code, d.name, d.level, form.kind, form.label)

        area_hits: list[tuple[_Hit, tuple[Form, ...]]] = []
        street_hits: list[tuple[int, _Hit]] = []
        for i, hit in enumerate(hits):
            areas = tuple(f for f in hit.forms if self.divisions[f.code].level != "street")
            if areas:
                area_hits.append((hit, areas))
            else:
                street_hits.append((i, hit))
        named = {f.code for _, fs in area_hits for f in fs}
        named_districts = {c for c in named if self.divisions[c].level == "district"}
        context_district = self.district_of(context) if context else None

        def score(order: int, hit: _Hit, form: Form) -> _Option:
            opt = _Option(form.weight, order, hit, form)
            chain = self.ancestors(form.code)
            bonus = sum(ANCESTOR_BONUS for a in chain if a in named)
            if context and (context in chain or context == form.code):
                bonus += ANCESTOR_BONUS
            opt.score += min(bonus, MAX_BONUS)
            level = self.divisions[form.code].level
            district = self.district_of(form.code)
            if level == "street" and named_districts and district not in named_districts:
                opt.score -= CONFLICT_PENALTY
                others = "、".join(sorted(self.divisions[c].name for c in named_districts))
                opt.notes.append(f"the text also names {others}, but {self.label(form.code)} is not there")
            if context_district and district and district != context_district:
                opt.score -= CONFLICT_PENALTY
                opt.notes.append(f"outside the chosen {self.divisions[context_district].name}")
            return opt

        streets = [score(i, hit, f) for i, hit in street_hits for f in hit.forms]
        if streets:
            result = self._pick(streets, area_hits, span)
            if result is not None:
                return result
        areas = [score(i, hit, f) for i, (hit, fs) in enumerate(area_hits) for f in fs]
        districts = [o for o in areas if self.divisions[o.form.code].level == "district"]
        for group in (districts, areas):
            if group:
                result = self._pick(group, area_hits, span)
                if result is not None:
                    return result
        return Resolution(
            None, None, None, None, 0.0,
            spans=tuple(span(o.hit, o.form) for o in streets + areas),
            candidates=tuple(sorted({o.form.code for o in streets + areas})),
            notes=("the places named are ambiguous",),
        )  # fmt: skip

    def _hits(self, norm: str) -> list[_Hit]:
        assert self._automaton is not None
        out: list[_Hit] = []
        for last, (surface, forms) in self._automaton.iter(norm):
            start, end = last - len(surface) + 1, last + 1
            if forms[0].kind == "short" and norm.startswith(PLACE_WORDS, end):
                continue
            out.append(_Hit(start, end, forms))
        return out

    @staticmethod
    def _longest(hits: list[_Hit]) -> list[_Hit]:
        taken: list[_Hit] = []
        for h in sorted(hits, key=lambda h: (h.start - h.end, h.start)):
            if all(h.end <= t.start or h.start >= t.end for t in taken):
                taken.append(h)
        return sorted(taken, key=lambda h: h.start)

    def _pick(self, options: list[_Option], area_hits, span) -> Resolution | None:  # type: ignore[no-untyped-def]
        best = max(o.score for o in options)
        top = [o for o in options if o.score >= best - _EPS]
        codes = sorted({o.form.code for o in top})
        if len(codes) > 1:
            first = min(o.order for o in top)
            earliest = [o for o in top if o.order == first]
            if len({o.form.code for o in earliest}) == 1 and len({o.order for o in top}) > 1:
                # Two different places named: the first is the one the address is built on.
                chosen = earliest[0]
                later = "、".join(sorted({self.label(o.form.code) for o in top if o.order != first}))
                chosen.notes.append(f"also named: {later}; the first one named is used")
                return self._result(chosen, area_hits, span, min(best, 0.9))
            districts = {self.district_of(c) for c in codes}
            names = "、".join(self.divisions[c].name for c in codes)
            shared = districts.pop() if len(districts) == 1 else None
            ambiguous_text = span(top[0].hit, top[0].form).text
            if shared and shared not in codes:
                d = self.divisions[shared]
                return Resolution(
                    shared, d.name, d.level, shared, min(best, AMBIGUOUS_CONFIDENCE),
                    spans=tuple(span(o.hit, o.form) for o in top),
                    candidates=tuple(codes),
                    notes=(f"'{ambiguous_text}' could be {names} (all in {d.name}); resolved to the district only",),
                )  # fmt: skip
            return None
        chosen = max(top, key=lambda o: (-o.order, o.score))
        return self._result(chosen, area_hits, span, min(best, 1.0))

    def _result(self, chosen: _Option, area_hits, span, confidence: float) -> Resolution:  # type: ignore[no-untyped-def]
        code = chosen.form.code
        d = self.divisions[code]
        main = span(chosen.hit, chosen.form)
        notes = [f"'{main.text}' is the {main.label} of {self.label(code)}"]
        spans = [main]
        chain = self.ancestors(code)
        for hit, forms in area_hits:
            for f in forms:
                if f.code in chain:
                    s = span(hit, f)
                    spans.append(s)
                    notes.append(f"'{s.text}' names {d.name}'s {self.divisions[f.code].level} {s.name}")
        notes.extend(chosen.notes)
        return Resolution(
            code, d.name, d.level, self.district_of(code), round(max(confidence, 0.05), 2),
            spans=tuple(sorted(spans, key=lambda s: s.start)),
            notes=tuple(notes),
        )  # fmt: skip

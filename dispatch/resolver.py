"""Address resolution: free text -> the street (or district) it names, with confidence and spans.

One Aho-Corasick automaton (pyahocorasick) holds every surface form of every division
(full names, generated short forms and suffix variants, admin aliases, gazetteer places;
see :mod:`dispatch.forms` and :mod:`dispatch.places`), so a text is scanned once whatever
the size of the gazetteer. The text is first folded (NFKC, traditional -> simplified). Then,
purely, precision before recall:

1. hits are collected; a *short* form directly followed by a road or place word
   (``彭城路``, ``江东中路``, ``东湖公园``, ``秦淮河``) is part of another name and dropped, and so
   is a ``…街道`` directly followed by ``路`` (``X大街道路施工`` is X大街 + 道路);
2. overlapping hits are reduced to the longest (``金山桥街道`` over ``金山``; a known road
   ``玄武大道`` over the short form ``玄武`` it contains);
3. a text that names a district or city (``铜山``, ``鼓楼区``) is district context, even when a
   street shares it; a place in several districts (a main road) narrows the district set;
4. each street candidate is scored: its form's weight, +0.1 for each named ancestor (and for
   the caller's ``context`` division or a place confirming its district). A short form that is
   also an everyday word (幸福, 合作: :mod:`dispatch.words`) counts only when its district or
   city is named too; a short form or place outside the district the caller named is dropped
   (the named district wins); a full name there is kept, -0.3 and flagged;
5. a tie inside one text (``利国``: 利国街道 and 利国镇 of 铜山区) falls back to the district
   they share, or stays unresolved with the candidates listed.

Confidence is calibrated so that an answer at or above the engine's review threshold (0.8)
is one we would stake the dispatch on: a full name, or a short form its district confirms.
Anything less carries ``doubt``, one sentence for the agent saying what to check.

A :class:`Resolver` is immutable and built once per data generation; build a new one
when divisions, aliases, places or vetoes change (:class:`dispatch.engine.Router` does that).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick

from dispatch.divisions import Division
from dispatch.fold import fold_table
from dispatch.forms import GENERIC_WORDS, Alias, Form, FormKind, Veto, build_forms, normalize
from dispatch.places import Place, place_forms
from dispatch.words import everyday_words, known_words

# A short form followed by one of these is part of a road or place name, not a division.
_ROAD_ENDS = ("路", "街", "大街", "大道", "巷", "道")
PLACE_WORDS = (
    *(d + r for d in "东西南北中" for r in _ROAD_ENDS),
    "路", "街", "巷", "弄", "桥", "大道", "广场", "小区", "花园", "公园", "新村", "医院", "学校",
    "中学", "小学", "大学", "市场", "大厦", "宾馆", "酒店", "商场", "公司", "车站", "站", "号",
    "立交", "高架", "隧道", "大桥", "环路", "快速路", "支路", "河", "江",
    "一路", "二路", "三路", "四路", "五路", "六路", "七路", "八路", "九路",
)  # fmt: skip
# Words that start with 路 (路灯, 路口 ...): after a 街道 they do not make it 街 + 道路.
_ROAD_WORD_ENDS = frozenset("灯口面边段上旁牌")
ANCESTOR_BONUS = 0.1
MAX_BONUS = 0.2
CONFLICT_PENALTY = 0.3
AMBIGUOUS_CONFIDENCE = 0.6
KNOWN_WORD_WEIGHT = 0.75  # a district short form that is also a common word, alone
SURE = 0.8  # the engine's review threshold: below it a result carries its doubt
# Forms a caller's named district overrides: they are guesses, a full name is a statement.
_WEAK_KINDS: frozenset[str] = frozenset({"short", "place"})
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
    label: str  # "full name", "short form", "suffix variant", "alias (landmark)", "road" ...


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
    doubt: str | None = None  # why the confidence is low, for the agent

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
    doubt: str | None = None


class Resolver:
    """Immutable; safe to share between tasks."""

    def __init__(
        self,
        divisions: Iterable[Division],
        aliases: Iterable[Alias] = (),
        generic: frozenset[str] = GENERIC_WORDS,
        places: Iterable[Place] = (),
        vetoes: Iterable[Veto] = (),
    ):
        self.divisions: dict[str, Division] = {d.code: d for d in divisions}
        self._ancestors: dict[str, tuple[str, ...]] = {c: self._chain(c) for c in self.divisions}
        self._district: dict[str, str | None] = {c: self._find_district(c) for c in self.divisions}
        known = [p for p in places if all(c in self.divisions for c in p.division_codes)]
        forms = build_forms(self.divisions.values(), aliases, generic, place_forms(known), vetoes)
        forms = {t: fs for t, fs in forms.items() if all(f.code in self.divisions for f in fs)}
        self.form_count = sum(len(fs) for fs in forms.values())
        self._fold = fold_table(forms)
        shorts = [(t, fs) for t, fs in forms.items() if fs[0].kind == "short"]
        area_shorts = [t for t, fs in shorts if all(self.divisions[f.code].level != "street" for f in fs)]
        self._everyday = everyday_words(
            (t for t, fs in shorts if any(self.divisions[f.code].level == "street" for f in fs)), area_shorts
        )
        self._known = known_words(area_shorts)
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

    def is_everyday(self, text: str) -> bool:
        """Whether a generated short form is also an everyday word (and so needs support)."""
        return text in self._everyday

    # ------------------------------------------------------------------ resolution

    def resolve(self, text: str, context: str | None = None) -> Resolution:
        """Resolve ``text``; ``context`` is a division already known (e.g. chosen by the agent)
        that breaks ties and penalises candidates outside it."""
        norm, where = normalize(text, self._fold)
        if self._automaton is None or not norm:
            return UNRESOLVED
        hits = self._longest(self._hits(norm, where))
        if not hits:
            return UNRESOLVED
        if context is not None and context not in self.divisions:
            context = None

        def span(hit: _Hit, form: Form) -> Span:
            start, end = (hit.start, hit.end) if where is None else (where[hit.start], where[hit.end - 1] + 1)
            d = self.divisions[form.code]
            return Span(text[start:end], start, end, d.code, d.name, d.level, form.kind, form.label)

        area_hits, street_hits, regions = self._classify(hits)
        # Every named area supports what lies in it; only those that are not everyday words
        # (鼓楼 is also a drum tower) rule out streets elsewhere.
        named = {f.code for _, fs in area_hits for f in fs}
        sure = {f.code for _, fs in area_hits for f in fs if not (f.kind == "short" and self.is_everyday(f.text))}
        named_districts = {c for c in sure if self.divisions[c].level == "district"}
        below = {a for _, hit in street_hits for f in hit.forms for a in self.ancestors(f.code)}
        # A main road or shared place narrows the districts; the caller's district wins over it.
        region = set.intersection(*(set(r) for _, r in regions)) if regions else set()
        context_district = self.district_of(context) if context else None

        def score(order: int, hit: _Hit, form: Form) -> _Option | None:
            opt = _Option(form.weight, order, hit, form)
            chain = self.ancestors(form.code)
            level = self.divisions[form.code].level
            district = self.district_of(form.code)
            supported = sum(ANCESTOR_BONUS for a in chain if a in named)
            if level != "street" and form.code in below:
                supported += ANCESTOR_BONUS
            if context and (context in chain or context == form.code):
                supported += ANCESTOR_BONUS
            if regions and district in region:
                supported += ANCESTOR_BONUS
            if form.kind == "short" and self.is_everyday(form.text) and not supported:
                return None  # 幸福, 合作 ... alone are words, not places
            opt.score += min(supported, MAX_BONUS)
            if form.kind == "short" and not supported and form.text in self._known:
                opt.score = min(opt.score, KNOWN_WORD_WEIGHT)
                opt.doubt = f"'{form.text}' may mean {self.label(form.code)}, but it is also an ordinary word or name"
            if level == "street" and named_districts and district not in named_districts:
                others = "、".join(sorted(self.divisions[c].name for c in named_districts))
                if form.kind in _WEAK_KINDS:
                    return None  # the district the caller named outweighs a short form elsewhere
                opt.score -= CONFLICT_PENALTY
                opt.doubt = f"the text names {others}, but {self.label(form.code)} is not there"
                opt.notes.append(opt.doubt)
            elif level == "street" and regions and not named_districts and district not in region:
                if form.kind in _WEAK_KINDS:
                    return None
                opt.score -= CONFLICT_PENALTY
                opt.doubt = f"{self.label(form.code)} is not on {'、'.join(t for t, _ in regions)}"
                opt.notes.append(opt.doubt)
            if context_district and district and district != context_district:
                opt.score -= CONFLICT_PENALTY
                opt.notes.append(f"outside the chosen {self.divisions[context_district].name}")
            if opt.doubt is None and opt.score < SURE - _EPS:
                what = "only the short form" if form.kind == "short" else f"only the {form.label}"
                opt.doubt = f"{what} '{form.text}' points to {self.label(form.code)}; no district confirms it"
            return opt

        def scored(pairs: Iterable[tuple[int, _Hit, Form]]) -> list[_Option]:
            return [o for o in (score(i, h, f) for i, h, f in pairs) if o is not None]

        streets = scored((i, hit, f) for i, hit in street_hits for f in hit.forms)
        if streets:
            result = self._pick(streets, area_hits, span)
            if result is not None:
                return result
        areas = scored((i, hit, f) for i, (hit, fs) in enumerate(area_hits) for f in fs)
        districts = [o for o in areas if self.divisions[o.form.code].level == "district"]
        if regions and not named_districts:
            result = self._region(regions, region, span)
            if result is not None:
                return result
        for group in (districts, areas):
            if group:
                result = self._pick(group, area_hits, span)
                if result is not None:
                    return result
        shown = streets + areas
        return Resolution(
            None, None, None, None, 0.0,
            spans=tuple(span(o.hit, o.form) for o in shown),
            candidates=tuple(sorted({o.form.code for o in shown} | region)),
            notes=("the places named are ambiguous",) if shown or regions else (),
        )  # fmt: skip

    def _hits(self, norm: str, where: list[int] | None) -> list[_Hit]:
        """Hits in ``norm``; ``where`` maps it back to the input, whose spaces are word boundaries."""
        assert self._automaton is not None
        out: list[_Hit] = []
        for last, (surface, forms) in self._automaton.iter(norm):
            start, end = last - len(surface) + 1, last + 1
            glued = where is None or end >= len(where) or where[end] == where[end - 1] + 1
            if where is not None and forms[0].kind == "place" and where[end - 1] - where[start] != end - 1 - start:
                continue  # "团结 村里" is not the village 团结村 (but "铜 山" is still 铜山)
            if glued and forms[0].kind == "short" and norm.startswith(PLACE_WORDS, end):
                continue
            if (
                glued
                and surface.endswith("街道")
                and norm.startswith("路", end)
                and norm[end + 1 : end + 2] not in _ROAD_WORD_ENDS
            ):
                continue  # …大街道路施工: the road 大街 and 道路, not a 街道 (but 街道路灯 is 街道 + 路灯)
            out.append(_Hit(start, end, forms))
        return out

    @staticmethod
    def _longest(hits: list[_Hit]) -> list[_Hit]:
        taken: list[_Hit] = []
        for h in sorted(hits, key=lambda h: (h.start - h.end, h.start)):
            if all(h.end <= t.start or h.start >= t.end for t in taken):
                taken.append(h)
        return sorted(taken, key=lambda h: h.start)

    def _classify(self, hits: list[_Hit]):  # type: ignore[no-untyped-def]
        """Split hits into area context, street candidates and district-narrowing regions."""
        area_hits: list[tuple[_Hit, tuple[Form, ...]]] = []
        street_hits: list[tuple[int, _Hit]] = []
        regions: list[tuple[str, frozenset[str]]] = []
        for i, hit in enumerate(hits):
            if len(hit.forms) > 1 and all(f.kind == "place" for f in hit.forms):
                districts = frozenset(self.district_of(f.code) or f.code for f in hit.forms)
                if len(districts) > 1:
                    regions.append((hit.forms[0].text, districts))
                    continue
                if len({f.code for f in hit.forms}) > 1:
                    # One district, several streets (a village name two towns share): the district.
                    (code,) = districts
                    f = hit.forms[0]
                    hit = _Hit(hit.start, hit.end, (Form(f.text, code, "place", f.weight, f.label),))
            areas = tuple(f for f in hit.forms if self.divisions[f.code].level != "street")
            if areas:
                area_hits.append((hit, areas))
            else:
                street_hits.append((i, hit))
        return area_hits, street_hits, regions

    def _region(self, regions, region: set[str], span) -> Resolution | None:  # type: ignore[no-untyped-def]
        names = "、".join(t for t, _ in regions)
        if len(region) == 1:
            (code,) = region
            d = self.divisions[code]
            return Resolution(
                code, d.name, d.level, code, 0.8,
                notes=(f"{names} lies in {d.name} only where they meet",),
            )  # fmt: skip
        return None

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
                if best < SURE + 0.1:
                    chosen.doubt = f"the text names several places ({later} too); check which one is meant"
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
                    doubt=f"'{ambiguous_text}' could be {names}; only the district is sure",
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
        confidence = round(max(confidence, 0.05), 2)
        return Resolution(
            code, d.name, d.level, self.district_of(code), confidence,
            spans=tuple(sorted(spans, key=lambda s: s.start)),
            notes=tuple(notes),
            doubt=chosen.doubt if confidence < SURE else None,
        )  # fmt: skip

"""Surface forms: every way a division is written in an address, generated from its name.

Pure functions over :class:`~dispatch.divisions.Division` and :class:`Alias` rows; the
resolver puts the result into one Aho-Corasick automaton.

=========  ===========================================  =======
form       example (黄楼街道, 利国镇, 铜山区)              weight
=========  ===========================================  =======
full       黄楼街道, 利国镇, 铜山区                          1.00
alias      admin-added: 铜山县 (former), 户部山 (landmark)  0.80-0.90
variant    黄楼街办, 黄楼办事处, 利国镇政府, 利国乡           0.90
short      黄楼, 利国 (streets), 铜山, 睢宁 (districts)     0.75 / 0.85
=========  ===========================================  =======

Short forms shorter than two characters (丰县 -> 丰) and generic words (新区, 城西 ...)
are never generated: they would match everywhere.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from dispatch.divisions import Division

FormKind = Literal["full", "alias", "place", "variant", "short"]
AliasKind = Literal["short", "former", "community", "landmark"]
ALIAS_KINDS: tuple[AliasKind, ...] = ("short", "former", "community", "landmark")

FULL_WEIGHT = 1.0
VARIANT_WEIGHT = 0.9
SHORT_STREET_WEIGHT = 0.75
SHORT_AREA_WEIGHT = 0.85  # district / city short forms (鼓楼, 睢宁, 徐州) are distinctive
ALIAS_WEIGHT: dict[str, float] = {"short": 0.85, "former": 0.9, "community": 0.9, "landmark": 0.8}
# When two divisions share a text, only the best-ranked forms keep it (利国街道 is the full
# name of one division, so it is not also a suffix variant of 利国镇).
FORM_RANK: dict[str, int] = {"full": 3, "alias": 2, "place": 2, "variant": 1, "short": 0}
GENERATED: frozenset[str] = frozenset({"variant", "short"})  # what a city's veto list can take away

STREET_SUFFIXES = ("街道", "镇", "乡")
# Misspellings and colloquial suffixes for streets and towns: 黄楼街办, 黄楼办事处, 利国乡 ...
STREET_VARIANT_SUFFIXES = (
    "街道", "镇", "乡", "街办", "街道办", "办事处", "镇政府", "乡政府", "街到", "街倒", "接道", "街导",
)  # fmt: skip
AREA_SUFFIXES = ("自治县", "自治州", "地区", "区", "县", "市", "省")
ABBREVIATIONS = (("经济技术开发区", "经开区"), ("高新技术产业开发区", "高新区"))
GENERIC_WORDS = frozenset(
    {
        "新区", "城区", "市区", "郊区", "开发", "中心", "东区", "西区", "南区", "北区",
        "城关", "城东", "城西", "城南", "城北", "城中", "新城", "老城", "工业", "园区",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Alias:
    id: int
    alias: str
    division_code: str
    kind: AliasKind
    note: str = ""


@dataclass(frozen=True, slots=True)
class Form:
    text: str
    code: str
    kind: FormKind
    weight: float
    label: str  # what produced it, for reasons: "full name", "short form", "alias (landmark)" ...


@dataclass(frozen=True, slots=True)
class Veto:
    """A generated form a city does not want (胜利 is its word for victory, not 胜利街道).
    ``division_code`` None vetoes the text for every division."""

    id: int
    form: str
    division_code: str | None
    note: str = ""


def normalize(text: str, fold: Callable[[str], str] | None = None) -> tuple[str, list[int] | None]:
    """NFKC-fold, fold traditional characters (``fold``, one for one) and drop whitespace.
    Returns the text and, per kept character, its index in the input — or None when no
    character was dropped or split (the common case, so no index list is built)."""
    if fold is not None:
        text = fold(text)
    if unicodedata.is_normalized("NFKC", text) and not any(c.isspace() for c in text):
        return text, None
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch):
            if c.isspace():
                continue
            out.append(c)
            where.append(i)
    return "".join(out), where


def _base(name: str, suffixes: Iterable[str]) -> tuple[str, str] | None:
    for s in suffixes:
        if name.endswith(s) and len(name) > len(s):
            return name[: -len(s)], s
    return None


def division_forms(d: Division, generic: frozenset[str] = GENERIC_WORDS) -> list[Form]:
    forms = [Form(d.name, d.code, "full", FULL_WEIGHT, "full name")]

    def short(text: str, weight: float) -> None:
        if len(text) >= 2 and text not in generic:
            forms.append(Form(text, d.code, "short", weight, "short form"))

    for long, abbr in ABBREVIATIONS:
        if long in d.name and d.name != long:
            forms.append(Form(d.name.replace(long, abbr), d.code, "variant", VARIANT_WEIGHT, "abbreviation"))
    if d.level == "street":
        split = _base(d.name, STREET_SUFFIXES)
        if split:
            base, own = split
            short(base, SHORT_STREET_WEIGHT)
            if len(base) >= 2:
                for suffix in STREET_VARIANT_SUFFIXES:
                    if suffix != own and not (base + suffix).startswith(d.name):
                        forms.append(Form(base + suffix, d.code, "variant", VARIANT_WEIGHT, "suffix variant"))
    else:
        split = _base(d.name, AREA_SUFFIXES)
        if split and not d.name.endswith("开发区"):
            short(split[0], SHORT_AREA_WEIGHT)
            if d.level == "district" and split[1] == "区" and len(split[0]) >= 2:
                # Most districts were counties (双流县 -> 双流区); callers keep the old name.
                forms.append(Form(split[0] + "县", d.code, "variant", SHORT_AREA_WEIGHT, "former county name"))
    return forms


def alias_forms(a: Alias) -> list[Form]:
    text, _ = normalize(a.alias)
    return [Form(text, a.division_code, "alias", ALIAS_WEIGHT.get(a.kind, 0.8), f"alias ({a.kind})")]


def build_forms(
    divisions: Iterable[Division],
    aliases: Iterable[Alias] = (),
    generic: frozenset[str] = GENERIC_WORDS,
    places: Iterable[Form] = (),
    vetoes: Iterable[Veto] = (),
) -> dict[str, tuple[Form, ...]]:
    """Every surface text -> the forms that own it (best rank only, one per division).
    ``places`` are gazetteer entries already made into forms (:mod:`dispatch.places`);
    ``vetoes`` take generated forms away."""
    table: dict[str, dict[str, Form]] = {}
    everything: list[Form] = []
    for d in divisions:
        everything.extend(division_forms(d, generic))
    for a in aliases:
        everything.extend(alias_forms(a))
    everything.extend(places)
    vetoed = {(normalize(v.form)[0], v.division_code) for v in vetoes}
    everything = [f for f in everything if f.kind not in GENERATED or not ({(f.text, None), (f.text, f.code)} & vetoed)]
    for f in everything:
        text, _ = normalize(f.text)
        slot = table.setdefault(text, {})
        old = slot.get(f.code)
        if old is None or (FORM_RANK[f.kind], f.weight) > (FORM_RANK[old.kind], old.weight):
            slot[f.code] = Form(text, f.code, f.kind, f.weight, f.label)
    # A generated or alias text that contains another division's full name would shadow it
    # (利国街道办 is 利国街道's office, not a variant of 利国镇): leave that text to the full name.
    full_owner = {text: {c for c, f in slot.items() if f.kind == "full"} for text, slot in table.items()}
    for text in list(table):
        slot = table[text]
        others = {
            code
            for i in range(len(text))
            for j in range(i + 2, len(text) + 1)
            if text[i:j] in full_owner
            for code in full_owner[text[i:j]]
        }
        for code, f in list(slot.items()):
            if f.kind != "full" and others - {code}:
                del slot[code]
        if not slot:
            del table[text]
    result: dict[str, tuple[Form, ...]] = {}
    for text, by_code in table.items():
        top = max(FORM_RANK[f.kind] for f in by_code.values())
        result[text] = tuple(sorted((f for f in by_code.values() if FORM_RANK[f.kind] == top), key=lambda f: f.code))
    return result

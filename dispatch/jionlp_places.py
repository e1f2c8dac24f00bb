"""Communities (社区) and villages (村) of the city being set up, from JioNLP's national tree.

JioNLP (Apache-2.0, ``pip install --no-deps jionlp``) ships ``dictionary/china_location.zip``:
the division tree down to every community and village, one name a line, indented by tabs
(province, city, county with their codes; town and village by name only). Only that file is
read, at import time — the NLP package itself is never imported, and nothing of it is needed
at run time: the matches become ordinary rows of ``places``.

A town is matched to one of our streets of the same district by its name without the suffix
(JioNLP's 犀浦镇 is our 犀浦街道 since it became a subdistrict). A name that occurs under several
of our streets becomes one place with all of them, which narrows rather than chooses.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from dispatch.divisions import Division
from dispatch.forms import STREET_SUFFIXES
from dispatch.places import Place

ARCHIVE = Path("dictionary") / "china_location.zip"
MEMBER = "china_location.txt"
MIN_NAME = 3  # 东村, 新村: too short to name one place


@dataclass(frozen=True, slots=True)
class TreeMatch:
    places: list[Place]
    towns_matched: int
    towns_unmatched: list[str]  # towns of our districts with no street of that name (kept as zones/former names)


def installed_tree() -> str:
    """The text of JioNLP's location tree, from the installed package (not imported)."""
    spec = find_spec("jionlp")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("jionlp is not installed (pip install --no-deps jionlp)")
    return read_tree(Path(spec.origin).parent / ARCHIVE)


def read_tree(path: Path) -> str:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            return z.read(MEMBER).decode("utf-8")
    return path.read_text(encoding="utf-8")


def _base(name: str) -> str:
    for suffix in STREET_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def match_tree(tree: str, divisions: Iterable[Division]) -> TreeMatch:
    """The communities and villages under our districts' towns, as places."""
    divs = list(divisions)
    districts = {d.code for d in divs if d.level == "district"}
    streets: dict[tuple[str, str], str] = {}
    for d in divs:
        if d.level == "street" and d.parent_code:
            streets[(d.parent_code, _base(d.name))] = d.code
    names = {d.name for d in divs}
    found: dict[str, list[str]] = {}
    matched, unmatched = 0, []
    towns: list[Place] = []
    county: str | None = None
    street: str | None = None
    for raw in io.StringIO(tree):
        line = raw.rstrip("\r\n")
        name = line.strip("\t").split("\t")[0].strip()
        if not name:
            continue
        depth = len(line) - len(line.lstrip("\t"))
        if depth <= 2:
            fields = line.strip("\t").split("\t")
            county = fields[1] if depth == 2 and len(fields) > 1 and fields[1] in districts else None
            street = None
        elif depth == 3:
            street = streets.get((county, _base(name))) if county else None
            if county and street:
                matched += 1
            elif county:
                unmatched.append(name)
                if len(name) >= MIN_NAME and name not in names:
                    # A zone (江宁开发区) or a town merged away since: still in that district.
                    kind = "former" if name.endswith(STREET_SUFFIXES) else "zone"
                    towns.append(Place(name, kind, (county,), "JioNLP location tree"))
        elif street and len(name) >= MIN_NAME and name not in names:
            codes = found.setdefault(name, [])
            if street not in codes:
                codes.append(street)
    places = [
        Place(name, "village" if name.endswith("村") else "community", tuple(codes), "JioNLP location tree")
        for name, codes in found.items()
    ]
    seen = {(p.name, p.kind) for p in places}
    places += [p for p in towns if (p.name, p.kind) not in seen and not seen.add((p.name, p.kind))]
    return TreeMatch(places, matched, unmatched)

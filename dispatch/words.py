"""Everyday words: which generated short forms are also ordinary Chinese words.

A street called 幸福街道, 合作街道 or 公平街道 gets the short forms 幸福, 合作, 公平 — and
"我们过得很幸福" names no place. A fixed hand list only knows the words its author met in one
city; jieba's dictionary (MIT, ~350,000 words with corpus frequencies and part-of-speech tags)
knows them all, so a word the dictionary uses often, and not as a place name (tag ``ns``), is
everyday. Only the dictionary file is read (no segmenter runs), once per set of forms asked about.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.util import find_spec
from pathlib import Path

# Frequencies in jieba's dict.txt: 胜利 8904, 幸福 3342, 运河 1170, 留下 5578 (v), 汉王 228 ...
# while place names used as short forms sit lower (犀浦 absent, 良渚 52 ns, 马群 34 nr). The
# tags are not reliable for places (玄武 213 nr, 鼓楼 141 n), so a district's short form — which
# its city knows as the district — is everyday only when it is a very common word (和平, 光明),
# and a street's also when it is common and not tagged a place name (ns).
STREET_FREQ = 100
COMMON_FREQ = 1000
# A district's short form this frequent is also something else (东海 the sea, 西湖 the lake):
# alone it is a guess to check, not an answer.
KNOWN_FREQ = 300


@cache
def _dictionary_file() -> Path | None:
    spec = find_spec("jieba")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "dict.txt"
    return path if path.is_file() else None


@cache
def _stats(wanted: frozenset[str]) -> dict[str, tuple[int, str]]:
    path = _dictionary_file()
    if path is None or not wanted:
        return {}
    found: dict[str, tuple[int, str]] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            word, _, rest = line.partition(" ")
            if word in wanted:
                freq, _, tag = rest.strip().partition(" ")
                found[word] = (int(freq), tag)
    return found


def everyday_words(streets: Iterable[str], areas: Iterable[str] = ()) -> frozenset[str]:
    """Which street and area short forms are everyday words (none when jieba is not installed)."""
    streets, areas = frozenset(streets), frozenset(areas)
    stats = _stats(streets | areas)
    out = {w for w in areas if stats.get(w, (0, ""))[0] >= COMMON_FREQ}
    for w in streets:
        freq, tag = stats.get(w, (0, ""))
        if freq >= COMMON_FREQ or (freq >= STREET_FREQ and tag != "ns"):
            out.add(w)
    return frozenset(out)


def known_words(texts: Iterable[str]) -> frozenset[str]:
    """The ``texts`` the dictionary knows as words of their own (frequency >= KNOWN_FREQ)."""
    wanted = frozenset(texts)
    stats = _stats(wanted)
    return frozenset(w for w in wanted if stats.get(w, (0, ""))[0] >= KNOWN_FREQ)

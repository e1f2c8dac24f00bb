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

# Frequencies in jieba's dict.txt: 胜利 8904, 幸福 3342, 运河 1170, 留下 5578 (v) ... while place
# names used as short forms sit far lower (犀浦 absent, 良渚 52 ns). A place name (ns) counts as
# everyday only when it is very common as a word (江南 4986, 太平 1113).
EVERYDAY_FREQ = 50
EVERYDAY_PLACE_FREQ = 1000


@cache
def _dictionary_file() -> Path | None:
    spec = find_spec("jieba")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "dict.txt"
    return path if path.is_file() else None


@cache
def _everyday(wanted: frozenset[str]) -> frozenset[str]:
    path = _dictionary_file()
    if path is None or not wanted:
        return frozenset()
    found: set[str] = set()
    with path.open(encoding="utf-8") as f:
        for line in f:
            word, _, rest = line.partition(" ")
            if word not in wanted:
                continue
            freq, _, tag = rest.strip().partition(" ")
            n = int(freq)
            if n >= EVERYDAY_PLACE_FREQ or (n >= EVERYDAY_FREQ and tag != "ns"):
                found.add(word)
    return frozenset(found)


def everyday_words(texts: Iterable[str]) -> frozenset[str]:
    """The ``texts`` that are everyday words (empty when jieba's dictionary is not installed)."""
    return _everyday(frozenset(texts))

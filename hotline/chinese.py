"""Chinese text as tokens: normalised, cut at punctuation and filler words, then character bigrams.

Chinese has no spaces, and a segmenter's dictionary never knows a city's street names or a
new policy's terms. Overlapping character bigrams need no dictionary and match any shared
two-character run (社会保障卡 -> 社会 会保 保障 障卡), which is what both the knowledge-base
search and the duplicate detector compare. Latin words and numbers stay whole tokens.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Question and filler words that say nothing about the topic; they cut a run in two so
# that "丢了怎么补办" does not make bigrams such as "么补".
FILLERS = (
    "请问", "怎么办", "怎么", "怎样", "如何", "什么", "哪里", "哪儿", "为什么", "能不能", "可不可以",
    "可以", "需要", "我想", "我要", "想问", "一下", "咨询", "反映", "希望", "相关部门", "尽快", "处理",
    "了", "吗", "呢", "吧", "啊", "的", "么",
)  # fmt: skip
_FILLER_RE = re.compile("|".join(sorted(map(re.escape, FILLERS), key=len, reverse=True)))
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN_RE = re.compile(f"[{_CJK}]+|[a-z0-9]+")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case (ＡＢＣ１２３ -> abc123)."""
    return unicodedata.normalize("NFKC", text).lower()


def runs(text: str) -> list[str]:
    """Runs of Chinese characters or of Latin letters and digits, fillers removed."""
    return _RUN_RE.findall(_FILLER_RE.sub(" ", normalise(text)))


def tokens(text: str) -> list[str]:
    """Bigrams of each Chinese run (a lone character stands for itself), whole Latin words and numbers,
    in text order with repeats."""
    out: list[str] = []
    for run in runs(text):
        if not _is_cjk(run[0]) or len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@lru_cache(maxsize=16384)
def token_set(text: str) -> frozenset[str]:
    """The distinct tokens (cached: every duplicate check re-reads the same recent orders)."""
    return frozenset(tokens(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared tokens over the smaller set: a short report inside a longer one still scores high."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"

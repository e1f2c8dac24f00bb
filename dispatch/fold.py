"""Traditional -> simplified folding, one character for one, so offsets into the text stay put.

The table is a shipped data file (``dispatch/data/tra2sim.tsv``, from JioNLP, Apache-2.0):
callers and agents who type 區, 門, 蓮 mean 区, 门, 莲. Characters that occur in the city's
own names are left alone (乾潭镇 must not become 干潭镇), so each resolver builds its own table.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

TABLE_FILE = Path(__file__).resolve().parent / "data" / "tra2sim.tsv"


@cache
def _pairs() -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in TABLE_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            traditional, simplified = line.split("\t")
            pairs[traditional] = simplified
    return pairs


def fold_table(keep: Iterable[str] = ()) -> dict[int, str]:
    """A ``str.translate`` table; characters of ``keep`` (the gazetteer's names) are not folded."""
    kept = {ch for text in keep for ch in text}
    return {ord(t): s for t, s in _pairs().items() if t not in kept}

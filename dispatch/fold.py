"""Traditional -> simplified folding, one character for one, so offsets into the text stay put.

The table is a shipped data file (``dispatch/data/tra2sim.tsv``, from JioNLP, Apache-2.0):
callers and agents who type 區, 門, 蓮 mean 区, 门, 莲. Characters that occur in the city's
own names are left alone (乾潭镇 must not become 干潭镇), so each resolver builds its own table.
"""

from __future__ import annotations

import re
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


class Folder:
    """``folder(text)``: the text with traditional characters folded. Most texts have none, and
    one regex search (in C) says so far faster than ``str.translate`` probing every character."""

    def __init__(self, table: dict[int, str]):
        self._table = table
        self._any = re.compile("[" + "".join(re.escape(chr(c)) for c in table) + "]") if table else None

    def __call__(self, text: str) -> str:
        if self._any is None or self._any.search(text) is None:
            return text
        return text.translate(self._table)


def fold_table(keep: Iterable[str] = ()) -> Folder:
    """The folder for a gazetteer; characters of ``keep`` (its names) are not folded."""
    kept = {ch for text in keep for ch in text}
    return Folder({ord(t): s for t, s in _pairs().items() if t not in kept})

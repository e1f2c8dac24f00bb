"""MinHash over an order's content bigrams, banded for locality-sensitive lookup.

Why MinHash and not trigram similarity: ``pg_trgm`` ignores CJK characters under the C
locale (and is not in every embedded build), and a ``%`` search over every order in the
window costs what the window holds; MinHash LSH turns "similar content in the last N days"
into BANDS equality lookups on a btree, whatever the table's size. Two texts share a band
with probability 1 - (1 - J^ROWS)^BANDS for bigram Jaccard J: with 20 bands of 2 rows, about
0.6 at J = 0.2, 0.86 at J = 0.3 and 0.99 at J = 0.5; candidates are then scored on their exact
bigram overlap, so band hits on unrelated texts cost a row read and are dropped.
"""

from __future__ import annotations

import hashlib
import random
import struct
from functools import lru_cache

BANDS = 20
ROWS = 2
PERMUTATIONS = BANDS * ROWS
_PRIME = (1 << 61) - 1
# Fixed coefficients: a signature must mean the same in every process and after every restart.
_rng = random.Random(12345)
_COEFFS = [(_rng.randrange(1, _PRIME), _rng.randrange(0, _PRIME)) for _ in range(PERMUTATIONS)]


@lru_cache(maxsize=65536)
def _token_hashes(token: str) -> tuple[int, ...]:
    """The token under each permutation (cached: a city's vocabulary of bigrams is small)."""
    base = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
    return tuple((a * base + b) % _PRIME for a, b in _COEFFS)


def signature(tokens: frozenset[str]) -> tuple[int, ...] | None:
    """The minimum of each permutation over the tokens; None for a text with no tokens."""
    if not tokens:
        return None
    return (
        tuple(map(min, *(_token_hashes(t) for t in tokens))) if len(tokens) > 1 else _token_hashes(next(iter(tokens)))
    )


def bands(tokens: frozenset[str]) -> list[int]:
    """One signed 64-bit key per band (the band's number is hashed in, so bands never collide)."""
    sig = signature(tokens)
    if sig is None:
        return []
    keys = []
    for band in range(BANDS):
        packed = struct.pack(f">H{ROWS}Q", band, *sig[band * ROWS : (band + 1) * ROWS])
        keys.append(int.from_bytes(hashlib.blake2b(packed, digest_size=8).digest(), "big", signed=True))
    return keys

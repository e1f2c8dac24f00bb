"""The bigram document of an article version and the query of a search, as PostgreSQL text-search
values built here, so no text-search configuration or extension decides how Chinese is cut.

A document weighs where a bigram stands: title A, keywords B, body C. A query is the OR of its
bigrams and of the bigrams of every synonym expansion it triggers (社保卡 -> 社会保障卡), so an
article sharing more of them, and in its title, ranks higher.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import asyncpg

from hotline import chinese

MAX_POSITION = 16383  # PostgreSQL's largest tsvector position
MAX_QUERY_TOKENS = 64  # an order's whole content as a suggestion query stays a bounded OR
RANK_WEIGHTS = [0.05, 0.2, 0.5, 1.0]  # D, C, B, A
# How many postings the filter of one search may read: its rarest bigrams up to this many
# articles (at least MIN_FILTER_TOKENS of them); ranking still weighs every bigram.
POSTINGS_BUDGET = 3000
MIN_FILTER_TOKENS = 2
MAX_RANKED = 4000  # the articles one search ranks at most, whatever its words


def document(title: str, keywords: Iterable[str], body: str) -> str:
    """tsvector text: each bigram with its positions and weight ('社会':1A,9C …)."""
    positions: dict[str, list[str]] = defaultdict(list)
    pos = 0
    for weight, text in (("A", title), ("B", " ".join(keywords)), ("C", body)):
        for token in chinese.tokens(text):
            pos = min(pos + 1, MAX_POSITION)
            if len(positions[token]) < 256:  # PostgreSQL keeps at most 256 positions a lexeme
                positions[token].append(f"{pos}{weight}")
    return " ".join(f"{_quote(t)}:{','.join(p)}" for t, p in positions.items())


def query_tokens(text: str, expansions: Iterable[str]) -> list[str]:
    """The distinct tokens of the text and of its synonym expansions, in order, capped."""
    seen: dict[str, None] = {}
    for part in (text, *expansions):
        for token in chinese.tokens(part):
            seen.setdefault(token)
    return list(seen)[:MAX_QUERY_TOKENS]


async def count_terms(conn: asyncpg.Connection, added: list[str], removed: list[str]) -> None:
    """Keep kb_terms' document frequencies as an article's bigrams enter and leave search."""
    if added:
        await conn.execute(
            """INSERT INTO kb_terms (token, df) SELECT unnest($1::text[]), 1
               ON CONFLICT (token) DO UPDATE SET df = kb_terms.df + 1""",
            added,
        )
    if removed:
        await conn.execute("UPDATE kb_terms SET df = greatest(df - 1, 0) WHERE token = ANY($1::text[])", removed)


async def filter_tokens(conn: asyncpg.Connection, tokens: list[str]) -> list[str]:
    """The query's rarest bigrams that articles hold, within the postings budget."""
    rows = await conn.fetch(
        "SELECT token, df FROM kb_terms WHERE token = ANY($1::text[]) AND df > 0 ORDER BY df, token", tokens
    )
    chosen: list[str] = []
    total = 0
    for r in rows:
        if len(chosen) >= MIN_FILTER_TOKENS and total + r["df"] > POSTINGS_BUDGET:
            break
        chosen.append(r["token"])
        total += r["df"]
    return chosen


def tsquery(tokens: list[str]) -> str:
    return " | ".join(_quote(t) for t in tokens)


def _quote(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"

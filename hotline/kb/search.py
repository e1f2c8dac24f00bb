"""Ranked search over the published articles valid at a moment, and suggestions for an order's text.

The GIN index on the bigram documents finds the articles holding one of the query's rarest
bigrams (index.filter_tokens); ``ts_rank`` orders them by how many of all its bigrams they
share, weighted by where (title over keywords over body). A query of nothing but common
words (申请, 办理) ranks at most ``MAX_RANKED`` of the articles holding them. Validity is compared with the caller's ``now``, so an expired article drops out of the
results the moment its ``valid_until`` passes, and a policy that starts next month appears then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hotline.kb import index

SUGGESTIONS = 5


async def expansions(conn: asyncpg.Connection, text: str) -> list[str]:
    """Synonym expansions triggered by the text (the table is small: a scan per query is cheap)."""
    rows = await conn.fetch(
        "SELECT unnest(expansions) FROM kb_synonyms WHERE strpos($1, term) > 0 ORDER BY term", text.lower()
    )
    return [r[0] for r in rows]


async def search(
    conn: asyncpg.Connection, q: str, now: datetime, *, category: str | None = None, limit: int = 10
) -> dict[str, Any]:
    tokens = index.query_tokens(q, await expansions(conn, q))
    rare = await index.filter_tokens(conn, tokens)
    if not rare:
        return {"items": [], "tokens": tokens}
    rows = await conn.fetch(
        """WITH matched AS (
               SELECT s.article_id, s.version_id, s.title, s.category_code, s.valid_until, s.doc
               FROM kb_search s
               WHERE s.doc @@ $6::tsquery
                 AND s.valid_from <= $2 AND (s.valid_until IS NULL OR s.valid_until > $2)
                 AND ($3::text IS NULL OR s.category_code LIKE $3 || '%')
               LIMIT $7),
           hits AS (
               SELECT m.article_id, m.version_id, m.title, m.category_code, m.valid_until,
                      ts_rank($5::real[], m.doc, $1::tsquery) AS rank
               FROM matched m
               ORDER BY rank DESC, m.article_id
               LIMIT $4)
           SELECT h.article_id AS id, h.title, h.category_code, h.valid_until, a.unit_id, v.version,
                  left(v.body, 120) AS snippet, h.rank
           FROM hits h
           JOIN kb_articles a ON a.id = h.article_id
           JOIN kb_versions v ON v.id = h.version_id
           ORDER BY h.rank DESC, h.article_id""",
        index.tsquery(tokens), now, category, limit, index.RANK_WEIGHTS, index.tsquery(rare), index.MAX_RANKED,
    )  # fmt: skip
    return {"items": [{**dict(r), "rank": round(r["rank"], 4)} for r in rows], "tokens": tokens}


async def suggest(conn: asyncpg.Connection, text: str, now: datetime, category: str | None = None) -> dict[str, Any]:
    """What the agent sees beside the order form while typing: the best few for the text so far."""
    found = await search(conn, text, now, category=category, limit=SUGGESTIONS)
    return {"items": found["items"]}

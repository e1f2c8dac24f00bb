"""Admin import and export of the knowledge base as JSON: articles keyed by ``code`` and their
owning unit's code, plus the synonym table. An import is one transaction — a bad row leaves
nothing half-loaded — and publishes what it loads (the admin is the reviewer), as a new
version of an article whose code exists, so a re-import of the same file changes nothing
but the version numbers' history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
from pydantic import Field, StringConstraints

from hotline.auth import Principal
from hotline.errors import Forbidden, InvalidInput
from hotline.kb import store
from hotline.kb.models import ArticleText, Keyword, NewArticle, Review
from hotline.orders.models import Strict

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ImportArticle(ArticleText):
    code: Code
    unit_code: Code


class Synonym(Strict):
    term: Keyword
    expansions: list[Keyword] = Field(min_length=1, max_length=20)


class ImportFile(Strict):
    articles: list[ImportArticle] = Field(default_factory=list, max_length=100_000)
    synonyms: list[Synonym] = Field(default_factory=list, max_length=10_000)


async def export(conn: asyncpg.Connection) -> dict[str, Any]:
    """Every article's published version (drafts stay in the system), and the synonyms."""
    rows = await conn.fetch(
        """SELECT a.code, a.id, u.code AS unit_code, v.title, v.body, v.category_code, v.keywords,
                  v.valid_from, v.valid_until
           FROM kb_articles a JOIN kb_versions v ON v.id = a.published_version_id JOIN units u ON u.id = a.unit_id
           ORDER BY a.id"""
    )
    synonyms = await conn.fetch("SELECT term, expansions FROM kb_synonyms ORDER BY term")
    return {
        "articles": [_exported(r) for r in rows],
        "synonyms": [{"term": r["term"], "expansions": list(r["expansions"])} for r in synonyms],
    }


def _exported(r: asyncpg.Record) -> dict[str, Any]:
    return {
        **{k: r[k] for k in ("unit_code", "title", "body", "category_code", "keywords")},
        "code": r["code"] or f"kb-{r['id']}",
        "valid_from": r["valid_from"].isoformat(),
        "valid_until": r["valid_until"].isoformat() if r["valid_until"] else None,
    }


async def import_(conn: asyncpg.Connection, who: Principal, data: ImportFile, now: datetime) -> dict[str, int]:
    if who.role != "admin":
        raise Forbidden("only an admin imports the knowledge base", {"role": who.role})
    units = {r["code"]: r["id"] for r in await conn.fetch("SELECT id, code FROM units")}
    unknown = sorted({a.unit_code for a in data.articles} - units.keys())
    if unknown:
        raise InvalidInput("unknown unit codes", {"unit_codes": unknown[:20]})
    created = updated = 0
    async with conn.transaction():
        for s in data.synonyms:
            await conn.execute(
                """INSERT INTO kb_synonyms (term, expansions) VALUES ($1, $2)
                   ON CONFLICT (term) DO UPDATE SET expansions = excluded.expansions""",
                s.term.lower(), s.expansions,
            )  # fmt: skip
        for a in data.articles:
            text = ArticleText.model_validate(a.model_dump(exclude={"code", "unit_code"}))
            # An article exported without a code went out as kb-<id>: it comes back as itself, named.
            article_id = await conn.fetchval(
                """UPDATE kb_articles SET code = $1 WHERE code = $1 OR (code IS NULL AND 'kb-' || id = $1)
                   RETURNING id""",
                a.code,
            )
            if article_id is None:
                new = NewArticle(**text.model_dump(), code=a.code, unit_id=units[a.unit_code])
                article = await store.create_article(conn, who, new, now)
                created += 1
            else:
                await conn.execute("UPDATE kb_articles SET unit_id = $2 WHERE id = $1", article_id, units[a.unit_code])
                article = await store.draft_version(conn, who, article_id, text, now)
                updated += 1
            draft = article["versions"][0]["version"]
            await store.publish(conn, who, article["id"], Review(version=draft, note="import"), now)
    return {"created": created, "updated": updated, "synonyms": len(data.synonyms)}

"""Articles, their versions and the review flow.

A unit's handler drafts an article for its own unit, or a new version of one it owns; centre
staff may draft for any unit. Only a supervisor or admin publishes (or rejects) a draft: the
published version replaces the article's search row in the same transaction, and every
earlier version is superseded. Each version records who wrote it and who reviewed it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hotline.auth import Principal
from hotline.errors import Conflict, DuplicateKey, Forbidden, InvalidInput, NotFound
from hotline.kb import index
from hotline.kb.models import ArticleFilter, ArticleText, NewArticle, Review

REVIEWERS = frozenset({"supervisor", "admin"})
VERSION_FIELDS = ("version", "status", "title", "body", "category_code", "keywords", "valid_from", "valid_until",
                  "authored_by", "authored_at", "reviewed_by", "reviewed_at", "review_note")  # fmt: skip


async def create_article(conn: asyncpg.Connection, who: Principal, data: NewArticle, now: datetime) -> dict:
    """A new article with its first version, a draft."""
    unit_id = _owner_for(who, data.unit_id)
    async with conn.transaction():
        try:
            article_id = await conn.fetchval(
                """INSERT INTO kb_articles (code, unit_id, created_by, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $4) RETURNING id""",
                data.code, unit_id, who.user_id, now,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:
            raise DuplicateKey("an article with this code exists", {"code": data.code}) from None
        except asyncpg.ForeignKeyViolationError:
            raise InvalidInput("no such unit", {"unit_id": unit_id}) from None
        await _insert_version(conn, article_id, 1, data, who, now)
    return await get_article(conn, who, article_id)


async def draft_version(conn: asyncpg.Connection, who: Principal, article_id: int, data: ArticleText, now: datetime):
    """A new draft version of an article the drafter's unit owns (or any, for the centre)."""
    async with conn.transaction():
        article = await _article_for_update(conn, who, article_id)
        latest = await conn.fetchval("SELECT max(version) FROM kb_versions WHERE article_id = $1", article["id"])
        await _insert_version(conn, article["id"], latest + 1, data, who, now)
        await conn.execute("UPDATE kb_articles SET updated_at = $2 WHERE id = $1", article["id"], now)
    return await get_article(conn, who, article_id)


async def publish(conn: asyncpg.Connection, who: Principal, article_id: int, review: Review, now: datetime) -> dict:
    _require_reviewer(who)
    async with conn.transaction():
        article = await _article_for_update(conn, who, article_id)
        version = await _draft(conn, article["id"], review.version)
        newer = await conn.fetchval(
            """SELECT max(v.version) FROM kb_articles a JOIN kb_versions v ON v.id = a.published_version_id
               WHERE a.id = $1""",
            article["id"],
        )
        if newer is not None and newer > review.version:
            raise Conflict("a newer version is already published", {"published_version": newer})
        await conn.execute(
            """UPDATE kb_versions SET status = 'superseded'
               WHERE article_id = $1 AND version < $2 AND status IN ('published', 'draft')""",
            article["id"], review.version,
        )  # fmt: skip
        await conn.execute(
            """UPDATE kb_versions SET status = 'published', reviewed_by = $2, reviewed_at = $3, review_note = $4
               WHERE id = $1""",
            version["id"], who.user_id, now, review.note,
        )  # fmt: skip
        await conn.execute(
            "UPDATE kb_articles SET published_version_id = $2, updated_at = $3 WHERE id = $1",
            article["id"], version["id"], now,
        )  # fmt: skip
        await _index(conn, article["id"], version)
    return await get_article(conn, who, article_id)


async def reject(conn: asyncpg.Connection, who: Principal, article_id: int, review: Review, now: datetime) -> dict:
    _require_reviewer(who)
    if not review.note:
        raise InvalidInput("a rejection needs a note for the unit", {"field": "note"})
    async with conn.transaction():
        article = await _article_for_update(conn, who, article_id)
        version = await _draft(conn, article["id"], review.version)
        await conn.execute(
            """UPDATE kb_versions SET status = 'rejected', reviewed_by = $2, reviewed_at = $3, review_note = $4
               WHERE id = $1""",
            version["id"], who.user_id, now, review.note,
        )  # fmt: skip
    return await get_article(conn, who, article_id)


async def get_article(conn: asyncpg.Connection, who: Principal, article_id: int) -> dict:
    """The article with all its versions, newest first; a unit sees only its own articles' drafts."""
    article = await conn.fetchrow("SELECT * FROM kb_articles WHERE id = $1", article_id)
    if article is None:
        raise NotFound("no such article", {"article_id": article_id})
    own = who.is_centre or who.unit_id == article["unit_id"]
    versions = await conn.fetch(
        "SELECT * FROM kb_versions WHERE article_id = $1 AND ($2 OR status = 'published') ORDER BY version DESC",
        article_id, own,
    )  # fmt: skip
    if not versions:
        raise NotFound("no such article", {"article_id": article_id})
    return _article_view(article, versions)


async def list_articles(conn: asyncpg.Connection, who: Principal, f: ArticleFilter) -> dict[str, Any]:
    """Articles newest first; ``status=draft`` is the centre's review queue (a unit: its own drafts)."""
    rows = await conn.fetch(
        """SELECT a.id, a.code, a.unit_id, v.version, v.title, v.status, v.category_code, v.authored_at
           FROM kb_articles a
           JOIN LATERAL (SELECT * FROM kb_versions v WHERE v.article_id = a.id
                         AND ($1::text IS NULL OR v.status = $1) ORDER BY v.version DESC LIMIT 1) v ON true
           WHERE ($2 OR a.unit_id = $3)
           ORDER BY v.authored_at DESC, a.id DESC LIMIT $4""",
        f.status, who.is_centre, who.unit_id, f.limit,
    )  # fmt: skip
    return {"items": [dict(r) for r in rows]}


# ---------------------------------------------------------------- helpers


def _owner_for(who: Principal, unit_id: int | None) -> int:
    if who.role == "handler":
        if unit_id is not None and unit_id != who.unit_id:
            raise Forbidden("a unit drafts articles for itself only", {"unit_id": unit_id})
        assert who.unit_id is not None
        return who.unit_id
    if not who.is_centre:
        raise Forbidden("only units and centre staff write articles", {"role": who.role})
    if unit_id is None:
        raise InvalidInput("name the unit that owns the answer", {"field": "unit_id"})
    return unit_id


def _require_reviewer(who: Principal) -> None:
    if who.role not in REVIEWERS:
        raise Forbidden("the centre's supervisors publish articles", {"role": who.role})


async def _article_for_update(conn: asyncpg.Connection, who: Principal, article_id: int) -> asyncpg.Record:
    article = await conn.fetchrow("SELECT * FROM kb_articles WHERE id = $1 FOR UPDATE", article_id)
    if article is None or not (who.is_centre or who.unit_id == article["unit_id"]):
        raise NotFound("no such article", {"article_id": article_id})
    return article


async def _draft(conn: asyncpg.Connection, article_id: int, version: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM kb_versions WHERE article_id = $1 AND version = $2", article_id, version)
    if row is None:
        raise NotFound("no such version", {"article_id": article_id, "version": version})
    if row["status"] != "draft":
        raise Conflict(f"version {version} is {row['status']}, not a draft", {"status": row["status"]})
    return row


async def _insert_version(
    conn: asyncpg.Connection, article_id: int, version: int, data: ArticleText, who: Principal, now: datetime
) -> None:
    valid_from = data.valid_from or now
    if data.valid_until is not None and data.valid_until <= valid_from:
        raise InvalidInput("valid_until must be after valid_from", {"valid_until": data.valid_until.isoformat()})
    try:
        await conn.execute(
            """INSERT INTO kb_versions (article_id, version, title, body, category_code, keywords, valid_from,
                                        valid_until, authored_by, authored_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            article_id, version, data.title, data.body, data.category_code, list(dict.fromkeys(data.keywords)),
            valid_from, data.valid_until, who.user_id, now,
        )  # fmt: skip
    except asyncpg.ForeignKeyViolationError:
        raise InvalidInput("unknown category_code", {"category_code": data.category_code}) from None


async def _index(conn: asyncpg.Connection, article_id: int, v: asyncpg.Record) -> None:
    doc = index.document(v["title"], v["keywords"], v["body"])
    before = await conn.fetchval(
        "SELECT tsvector_to_array(doc) FROM kb_search WHERE article_id = $1 FOR UPDATE", article_id
    )
    await conn.execute(
        """INSERT INTO kb_search (article_id, version_id, title, category_code, valid_from, valid_until, doc)
           VALUES ($1, $2, $3, $4, $5, $6, $7::tsvector)
           ON CONFLICT (article_id) DO UPDATE SET version_id = excluded.version_id, title = excluded.title,
               category_code = excluded.category_code, valid_from = excluded.valid_from,
               valid_until = excluded.valid_until, doc = excluded.doc""",
        article_id, v["id"], v["title"], v["category_code"], v["valid_from"], v["valid_until"], doc,
    )  # fmt: skip
    after = await conn.fetchval("SELECT tsvector_to_array(doc) FROM kb_search WHERE article_id = $1", article_id)
    old, new = set(before or ()), set(after)
    await index.count_terms(conn, sorted(new - old), sorted(old - new))


def _article_view(article: asyncpg.Record, versions: list[asyncpg.Record]) -> dict[str, Any]:
    current = next((v for v in versions if v["id"] == article["published_version_id"]), None)
    return {
        "id": article["id"],
        "code": article["code"],
        "unit_id": article["unit_id"],
        "published_version": current["version"] if current else None,
        "title": (current or versions[0])["title"],
        "versions": [{k: v[k] for k in VERSION_FIELDS} for v in versions],
    }

"""Which articles served which orders, and the figures read from that.

An article is *viewed* on an order when an agent opens it while handling the order, and
*cited* when the agent resolves the order directly (直接办结) on its strength. An article's
direct-answer rate over a period is the orders it was cited on over the orders it was viewed
or cited on: how often consulting it ends the call. Articles valid and published but cited on
no order in the period are listed as unused, oldest first, for their units to revise or retire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hotline.errors import InvalidInput, NotFound


async def record_view(conn: asyncpg.Connection, article_id: int, order_id: int, now: datetime) -> None:
    if not await conn.fetchval("SELECT true FROM work_orders WHERE id = $1", order_id):
        raise NotFound("no such order", {"order_id": order_id})
    await conn.execute(
        """INSERT INTO kb_usage (article_id, order_id, kind, version_id, at)
           SELECT id, $2, 'viewed', published_version_id, $3 FROM kb_articles WHERE id = $1
           ON CONFLICT DO NOTHING""",
        article_id, order_id, now,
    )  # fmt: skip


async def cite(conn: asyncpg.Connection, order_id: int, article_ids: list[int], now: datetime) -> list[dict]:
    """Record the articles an order was answered from, inside the action's transaction; each must be
    published and valid at ``now``. Returns what the audit keeps: article, version, title."""
    if not article_ids:
        return []
    rows = await conn.fetch(
        """SELECT article_id, version_id, title FROM kb_search
           WHERE article_id = ANY($1::bigint[]) AND valid_from <= $2 AND (valid_until IS NULL OR valid_until > $2)""",
        article_ids, now,
    )  # fmt: skip
    found = {r["article_id"]: r for r in rows}
    missing = [a for a in article_ids if a not in found]
    if missing:
        raise InvalidInput("cited articles must be published and valid", {"article_ids": missing})
    await conn.execute(
        """INSERT INTO kb_usage (article_id, order_id, kind, version_id, at)
           SELECT a, $2, 'cited', v, $3 FROM unnest($1::bigint[], $4::bigint[]) AS c(a, v)
           ON CONFLICT DO NOTHING""",
        list(found), order_id, now, [r["version_id"] for r in found.values()],
    )  # fmt: skip
    return [{"article_id": r["article_id"], "version_id": r["version_id"], "title": r["title"]} for r in found.values()]


async def figures(conn: asyncpg.Connection, start: datetime, end: datetime, now: datetime) -> dict[str, Any]:
    """Per-article use in [start, end) and the articles no one cited."""
    used = await conn.fetch(
        """SELECT u.article_id AS id, s.title, a.unit_id,
                  count(DISTINCT u.order_id) AS orders,
                  count(*) FILTER (WHERE u.kind = 'cited') AS direct_answers
           FROM kb_usage u
           JOIN kb_articles a ON a.id = u.article_id
           LEFT JOIN kb_search s ON s.article_id = u.article_id
           WHERE u.at >= $1 AND u.at < $2
           GROUP BY u.article_id, s.title, a.unit_id
           ORDER BY direct_answers DESC, orders DESC, u.article_id""",
        start, end,
    )  # fmt: skip
    unused = await conn.fetch(
        """SELECT s.article_id AS id, s.title, a.unit_id, s.valid_from
           FROM kb_search s JOIN kb_articles a ON a.id = s.article_id
           WHERE s.valid_from <= $3 AND (s.valid_until IS NULL OR s.valid_until > $3)
             AND NOT EXISTS (SELECT 1 FROM kb_usage u WHERE u.article_id = s.article_id AND u.kind = 'cited'
                             AND u.at >= $1 AND u.at < $2)
           ORDER BY s.valid_from, s.article_id""",
        start, end, now,
    )  # fmt: skip
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "articles": [{**dict(r), "direct_answer_rate": round(r["direct_answers"] / r["orders"], 4)} for r in used],
        "unused": [dict(r) for r in unused],
    }

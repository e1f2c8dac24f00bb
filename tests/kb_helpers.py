"""Articles for knowledge-base tests: drafted by a unit, published by the centre, at pinned times."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from hotline.kb import store
from hotline.kb.models import NewArticle, Review
from tests.orders_helpers import unit_id, who


async def published(pool: asyncpg.Pool, title: str, body: str, now: datetime, **fields) -> int:
    """An article the centre drafted (for 市城市管理局 unless ``unit_id`` says) and published at ``now``."""
    fields.setdefault("unit_id", await unit_id(pool, "city.cgj"))
    agent, boss = await who(pool, "agent1001"), await who(pool, "supervisor")
    async with pool.acquire() as conn:
        article = await store.create_article(conn, agent, NewArticle(title=title, body=body, **fields), now)
        await store.publish(conn, boss, article["id"], Review(version=1), now)
    return article["id"]

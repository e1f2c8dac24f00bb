"""Orders and articles for the agent-assist tests, written at pinned times."""

from __future__ import annotations

import itertools
from datetime import datetime

import asyncpg

from hotline.kb import store
from hotline.kb.models import NewArticle, Review
from hotline.similar.signatures import index_order
from tests.orders_helpers import unit_id, who

WATER = "和平小区从早上八点开始停水，到现在还没来水，家里老人做不了饭"
_numbers = itertools.count(1)


async def taken(pool: asyncpg.Pool, at: datetime, content: str = WATER, **fields) -> int:
    """An order as intake writes it (row and signature), at ``at``."""
    row = {"kind": "complaint", "address": "中山北路88号和平小区", "division_code": "320302001",
           "category_code": "020101", "caller_number": "13900000001", **fields}  # fmt: skip
    async with pool.acquire() as conn, conn.transaction():
        oid = await conn.fetchval(
            """INSERT INTO work_orders (number, kind, content, address, division_code, category_code, caller_number,
                                        status, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', $8) RETURNING id""",
            f"20260520-{next(_numbers):06d}", row["kind"], content, row["address"], row["division_code"],
            row["category_code"], row["caller_number"], at,
        )  # fmt: skip
        await index_order(conn, oid, content, at)
    return oid


async def published(pool: asyncpg.Pool, title: str, body: str, now: datetime, **fields) -> int:
    """An article the centre drafted (for 市城市管理局 unless ``unit_id`` says) and published at ``now``."""
    fields.setdefault("unit_id", await unit_id(pool, "city.cgj"))
    agent, boss = await who(pool, "agent1001"), await who(pool, "supervisor")
    async with pool.acquire() as conn:
        article = await store.create_article(conn, agent, NewArticle(title=title, body=body, **fields), now)
        await store.publish(conn, boss, article["id"], Review(version=1), now)
    return article["id"]

"""Writes that need no answer, sent together (hotline.writes): one statement whose parts keep
their own parameters, as the intake sends the citizen's SMS with the agent's look at the caller."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from hotline import access_log, writes
from hotline.sms import notices
from hotline.writes import Write
from tests.orders_helpers import new_order, who

AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Shanghai


def test_parameters_are_renumbered_after_the_parts_before_them() -> None:
    a = Write("INSERT INTO t (x, y) VALUES ($1, $2)", (1, 2))
    b = Write("UPDATE u SET z = $1 WHERE id = $2 AND $1 IS NOT NULL", (3, 4))
    sql, args = writes.statement([a, None, b])
    assert sql == (
        "WITH w0 AS (INSERT INTO t (x, y) VALUES ($1, $2)),"
        " w1 AS (UPDATE u SET z = $3 WHERE id = $4 AND $3 IS NOT NULL) SELECT 1"
    )
    assert args == [1, 2, 3, 4]
    assert writes.statement([None, b]) == (b.sql, [3, 4])  # one write goes as it is
    assert writes.statement([None, None]) is None
    ten = Write("SELECT $10, $1", tuple(range(10)))  # two digits renumbered as one number
    assert writes.statement([a, ten])[0].endswith("w1 AS (SELECT $12, $3) SELECT 1")


async def test_an_sms_and_a_look_go_in_one_statement_with_their_own_values(seeded_pool: asyncpg.Pool) -> None:
    order = await new_order(seeded_pool, caller_number="13912341234")
    agent = await who(seeded_pool, "agent1001")
    tz = ZoneInfo("Asia/Shanghai")
    sms = notices.notice(order, "reply", "1", "您的工单已办结", AT, tz)  # the intake's own SMS is queued already
    seen = [access_log.Seen(order["id"], None, ("caller_number",))]
    look = access_log.write(agent, "POST", "/api/orders", seen)
    async with seeded_pool.acquire() as conn:
        sent: list[str] = []
        conn.add_query_logger(lambda q: sent.append(q.query))
        async with conn.transaction():
            await writes.together(conn, [sms, look])
    assert len([q for q in sent if q.startswith("WITH w0")]) == 1
    sql = "SELECT phone, body FROM sms_messages WHERE order_id = $1 AND kind = 'reply'"
    assert dict(await seeded_pool.fetchrow(sql, order["id"])) == {"phone": "13912341234", "body": "您的工单已办结"}
    logged = await seeded_pool.fetchrow(
        "SELECT username, fields, method, route FROM personal_data_access WHERE order_id = $1", order["id"]
    )
    assert dict(logged) == {"username": "agent1001", "fields": ["caller_number"], "method": "POST",
                            "route": "/api/orders"}  # fmt: skip


async def test_a_failing_part_writes_nothing(seeded_pool: asyncpg.Pool) -> None:
    order = await new_order(seeded_pool, caller_number="13912341234")
    tz = ZoneInfo("Asia/Shanghai")
    sms = notices.notice(order, "reply", "2", "第二条", AT, tz)
    bad = Write("INSERT INTO personal_data_access (user_id, fields, method, route) VALUES ($1, $2, $3, $4)",
                (None, ["caller_number"], "POST", None))  # route is NOT NULL  # fmt: skip
    with pytest.raises(asyncpg.NotNullViolationError):
        async with seeded_pool.acquire() as conn, conn.transaction():
            await writes.together(conn, [sms, bad])
    assert await seeded_pool.fetchval(
        "SELECT count(*) FROM sms_messages WHERE order_id = $1 AND event_key = '2'", order["id"]
    ) == 0  # fmt: skip

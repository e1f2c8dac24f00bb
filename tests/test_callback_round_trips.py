"""What a signed callback costs PostgreSQL: its statements and its commits, counted on the
server's own connections (a query logger on each), so a change that adds a round trip or a
second commit to the hot path shows here (see README, "Signed callbacks")."""

from __future__ import annotations

import aiohttp
import asyncpg
import pytest

from hotline import db
from tests.webhook_helpers import SignedClient, callback_server, dispatched, issue_key

A = "/api/units/me/assignments"


async def test_a_signed_reply_is_nine_statements_and_one_commit(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    plain_init = db._init_connection

    async def logged(conn: asyncpg.Connection) -> None:
        await plain_init(conn)
        conn.add_query_logger(lambda q: seen.append(" ".join(q.query.split())))

    monkeypatch.setattr(db, "_init_connection", logged)  # the server's pool is made after this
    key = await issue_key(seeded_pool, "city.cgj")
    oid, aid = await dispatched(seeded_pool, contact_allowed=True)  # the reply shows the caller: a logged look
    async with callback_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        client = SignedClient(session, base, key.key_id, key.secret)
        assert (await client.post(f"{A}/{aid}/sign")).status == 200  # the process knows the key now
        seen.clear()
        r = await client.post(f"{A}/{aid}/reply", {"text": "已处理完毕", "result": "resolved"})
        assert r.status == 200 and r.body["status"] == "replied", r.body
        statements = list(seen)
        seen.clear()
        me = await client.get("/api/units/me")
        assert me.status == 200 and len(seen) == 2, seen  # the key and nonce in one statement, then the unit
    assert len(statements) == 9, statements
    assert [q for q in statements if q in ("BEGIN;", "COMMIT;")] == ["BEGIN;", "COMMIT;"], statements
    looks = await seeded_pool.fetchval("SELECT count(*) FROM personal_data_access WHERE order_id = $1", oid)
    assert looks == 2  # the sign's answer and the reply's, each logged once

"""The pool releases connections without asyncpg's reset query (one round trip less per release),
and still never hands out a connection carrying another request's transaction or data."""

from __future__ import annotations

import asyncio

import asyncpg

from hotline import db


async def test_a_connection_released_inside_a_transaction_comes_back_clean(database_url: str) -> None:
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        conn = await pool.acquire()
        pid = conn.get_server_pid()
        tr = conn.transaction()
        await tr.start()
        await conn.execute("CREATE TABLE leaked (x int)")
        await conn.execute("SET LOCAL statement_timeout = '1s'")
        # A handler that lost its task mid-transaction. asyncpg rolls back and says so on the
        # loop's exception handler, which this test expects (the suite's fails on anything there).
        loop = asyncio.get_running_loop()
        previous, said = loop.get_exception_handler(), []
        loop.set_exception_handler(lambda _loop, ctx: said.append(ctx["message"]))
        try:
            await pool.release(conn)
        finally:
            loop.set_exception_handler(previous)
        assert any("active transaction" in m for m in said)

        async with pool.acquire() as again:
            assert again.get_server_pid() == pid  # the same server session, reused
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT to_regclass('leaked')") is None  # rolled back
            assert await again.fetchval("SHOW statement_timeout") == "0"
    finally:
        await pool.close()


async def test_release_sends_no_reset_query(database_url: str) -> None:
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            assert isinstance(conn, asyncpg.Connection)
            assert conn.get_reset_query() == ""
            pid = conn.get_server_pid()
        async with pool.acquire() as conn:
            assert conn.get_server_pid() == pid
    finally:
        await pool.close()

"""The in-process token cache: two API processes on one database, revocation heard at once by
the other one whoever revokes (a logout, the CLI's functions, plain SQL), expiry honoured,
and the cache bypassed while its listener connection is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest

from hotline import users
from tests.api_helpers import Client, running_server

# Far longer than any wait here: a refusal within the test proves the eviction, not the TTL.
LONG_TTL = 300.0


@pytest.fixture
async def two(seeded_database_url: str, redis_url: str) -> AsyncIterator[tuple[Client, Client]]:
    async with (
        running_server(seeded_database_url, redis_url, token_cache_seconds=LONG_TTL) as a,
        running_server(seeded_database_url, redis_url, token_cache_seconds=LONG_TTL) as b,
        aiohttp.ClientSession() as session,
    ):
        yield Client(session, a), Client(session, b)


def on(client: Client, token: str | None) -> Client:
    return Client(client.session, client.base, token)


async def refused_soon(client: Client, within: float = 2.0) -> dict:
    """The 401 the client gets once the revocation reached its process (polled: NOTIFY is asynchronous)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        status, body = await client.request("GET", "/api/me")
        if status == 401:
            return body
        assert asyncio.get_running_loop().time() < deadline, f"still accepted after {within} s: {body}"
        await asyncio.sleep(0.05)


async def sql(url: str, statement: str, *args: object, quiet: bool = False) -> None:
    """Run ``statement``; ``quiet`` runs it with triggers off (no NOTIFY), as a revocation the cache cannot hear."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            if quiet:
                await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(statement, *args)
    finally:
        await conn.close()


async def cached_on_b(a: Client, b: Client, username: str = "agent1001") -> Client:
    token = (await a.login(username)).token
    on_b = on(b, token)
    assert (await on_b.request("GET", "/api/me"))[0] == 200  # now cached in b
    return on_b


async def test_a_token_cached_elsewhere_stays_cached_when_nothing_is_announced(
    two: tuple[Client, Client], seeded_database_url: str
) -> None:
    # The control for the tests below: a revocation without its NOTIFY is not seen before the TTL,
    # so their refusals come from the announcement.
    a, b = two
    on_b = await cached_on_b(a, b)
    await sql(seeded_database_url, "UPDATE auth_tokens SET revoked_at = now()", quiet=True)
    await asyncio.sleep(0.3)
    assert (await on_b.request("GET", "/api/me"))[0] == 200
    assert (await on(a, on_b.token).request("GET", "/api/me"))[0] == 401  # a never cached it: it reads the row


async def test_logout_on_one_process_is_refused_by_the_other_at_once(two: tuple[Client, Client]) -> None:
    a, b = two
    on_b = await cached_on_b(a, b)
    assert (await on(a, on_b.token).request("POST", "/api/auth/logout"))[0] == 204
    body = await refused_soon(on_b)
    assert body["error"]["message"] == "token revoked"


async def test_logout_on_the_same_process_is_refused_at_once(two: tuple[Client, Client]) -> None:
    _, b = two
    on_b = await cached_on_b(b, b)
    assert (await on_b.request("POST", "/api/auth/logout"))[0] == 204
    status, body = await on_b.request("GET", "/api/me")  # no polling: this process evicted before answering
    assert status == 401 and body["error"]["message"] == "token revoked"


async def test_disabling_the_account_from_the_cli_is_heard(
    two: tuple[Client, Client], seeded_database_url: str
) -> None:
    a, b = two
    on_b = await cached_on_b(a, b)
    conn = await asyncpg.connect(seeded_database_url)
    try:
        assert await users.disable(conn, "agent1001") >= 1
    finally:
        await conn.close()
    await refused_soon(on_b)


async def test_a_password_reset_from_the_cli_is_heard(two: tuple[Client, Client], seeded_database_url: str) -> None:
    a, b = two
    on_b = await cached_on_b(a, b)
    conn = await asyncpg.connect(seeded_database_url)
    try:
        await users.reset_password(conn, "agent1001", "a-new-long-password-1")
    finally:
        await conn.close()
    await refused_soon(on_b)


async def test_plain_sql_revocation_and_role_change_are_heard(
    two: tuple[Client, Client], seeded_database_url: str
) -> None:
    a, b = two
    on_b = await cached_on_b(a, b)
    await sql(seeded_database_url, "UPDATE users SET role = 'supervisor' WHERE username = 'agent1001'")
    for _ in range(40):  # the next read is from the database: the new role
        if (await on_b.request("GET", "/api/me"))[1]["role"] == "supervisor":
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the role change was not heard")
    await sql(seeded_database_url, "UPDATE auth_tokens SET revoked_at = now() WHERE revoked_at IS NULL")
    await refused_soon(on_b)


async def test_expiry_is_honoured_whatever_the_cache_ttl(
    two: tuple[Client, Client], seeded_database_url: str
) -> None:
    a, b = two
    token = (await a.login("agent1001")).token
    await sql(seeded_database_url, "UPDATE auth_tokens SET expires_at = now() + interval '1 second'")
    on_b = on(b, token)
    assert (await on_b.request("GET", "/api/me"))[0] == 200  # cached, but only until the token's expiry
    await asyncio.sleep(1.3)
    status, body = await on_b.request("GET", "/api/me")
    assert status == 401 and body["error"]["message"] == "token expired"


async def test_while_the_listener_is_down_the_cache_is_bypassed(
    two: tuple[Client, Client], seeded_database_url: str
) -> None:
    a, b = two
    on_b = await cached_on_b(a, b)
    # Every process's listener goes (both servers'): revocations can no longer be heard.
    await sql(seeded_database_url, """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                       WHERE datname = current_database() AND application_name = 'hotline-token-cache'""")
    await asyncio.sleep(0.2)
    await sql(seeded_database_url, "UPDATE auth_tokens SET revoked_at = now()", quiet=True)
    status, body = await on_b.request("GET", "/api/me")
    assert status == 401 and body["error"]["message"] == "token revoked"
    # The listener comes back, and with it the cache.
    fresh = (await a.login("agent1001")).token
    for _ in range(100):
        if await _listeners(seeded_database_url) >= 2:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the listeners did not come back")
    assert (await on(b, fresh).request("GET", "/api/me"))[0] == 200
    await sql(seeded_database_url, "UPDATE auth_tokens SET revoked_at = now()", quiet=True)
    assert (await on(b, fresh).request("GET", "/api/me"))[0] == 200  # cached again (nothing announced)


async def _listeners(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            # by name: the listener's health check (SELECT 1) replaces the LISTEN shown in ``query``
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'hotline-token-cache'"
        )
    finally:
        await conn.close()


async def test_a_zero_ttl_checks_every_request_in_the_database(seeded_database_url: str, redis_url: str) -> None:
    async with (
        running_server(seeded_database_url, redis_url, token_cache_seconds=0) as base,
        aiohttp.ClientSession() as session,
    ):
        agent = await Client(session, base).login("agent1001")
        assert (await agent.request("GET", "/api/me"))[0] == 200
        await sql(seeded_database_url, "UPDATE auth_tokens SET revoked_at = now()", quiet=True)
        assert (await agent.request("GET", "/api/me"))[0] == 401
        assert await _listeners(seeded_database_url) == 0  # no cache, no listener connection

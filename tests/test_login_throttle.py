"""Login throttling per username and per address, the lockout an admin lifts, all on record;
and the ``hotline users`` commands."""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg
import pytest

from hotline import users
from hotline.cli import main
from hotline.seed import DEMO_PASSWORD
from tests.api_helpers import Client, running_server


async def _login(c: Client, username: str, password: str) -> tuple[int, dict, dict]:
    async with c.session.post(c.base + "/api/auth/login", json={"username": username, "password": password}) as r:
        return r.status, await r.json(), dict(r.headers)


async def _events(pool: asyncpg.Pool, username: str) -> list[str]:
    return [
        r["kind"] for r in await pool.fetch("SELECT kind FROM auth_events WHERE username = $1 ORDER BY id", username)
    ]


async def test_wrong_passwords_then_429_with_retry_after_even_for_the_right_one(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis
) -> None:
    async with running_server(seeded_database_url, redis_url, login_max_failures=3, login_window_seconds=120) as base, \
            aiohttp.ClientSession() as session:  # fmt: skip
        c = Client(session, base)
        for _ in range(3):
            assert (await _login(c, "agent1001", "wrong-password"))[0] == 401
        status, body, headers = await _login(c, "agent1001", DEMO_PASSWORD)
        assert status == 429 and body["error"]["code"] == "too_many_requests"
        assert 1 <= int(headers["Retry-After"]) <= 120 and body["error"]["details"]["by"] == "username"
        # Another user from the same address is not held back by agent1001's window.
        assert (await _login(c, "agent1002", DEMO_PASSWORD))[0] == 200
    assert await _events(seeded_pool, "agent1001") == ["login_failed"] * 3 + ["login_throttled"]


async def test_guessing_across_usernames_is_throttled_per_address(
    seeded_database_url: str, redis_url: str, redis
) -> None:
    async with running_server(seeded_database_url, redis_url, login_max_failures_per_address=4) as base, \
            aiohttp.ClientSession() as session:  # fmt: skip
        c = Client(session, base)
        for name in ("nobody1", "nobody2", "agent1001", "nobody3"):
            assert (await _login(c, name, "wrong-password"))[0] == 401
        status, body, _ = await _login(c, "agent1002", DEMO_PASSWORD)
        assert status == 429 and body["error"]["details"]["by"] == "address"


async def test_repeated_failures_lock_the_account_until_an_admin_unlocks_it(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis
) -> None:
    settings = {"login_max_failures": 2, "login_window_seconds": 1, "login_lockout_failures": 4}
    async with running_server(seeded_database_url, redis_url, **settings) as base, \
            aiohttp.ClientSession() as session:  # fmt: skip
        c = Client(session, base)
        for round_ in range(2):
            for _ in range(2):
                assert (await _login(c, "cgj", "wrong-password"))[0] == 401
            if round_ == 0:
                await asyncio.sleep(1.1)  # the window slides on; the streak does not
        await asyncio.sleep(1.1)
        status, body, _ = await _login(c, "cgj", DEMO_PASSWORD)
        assert status == 423 and body["error"]["code"] == "account_locked"
        async with seeded_pool.acquire() as conn:
            assert await users.unlock(conn, "cgj", actor="admin") is True
        assert (await _login(c, "cgj", DEMO_PASSWORD))[0] == 200
    assert await _events(seeded_pool, "cgj") == ["login_failed"] * 4 + ["locked", "unlocked"]


async def test_throttle_down_is_503_not_unthrottled(seeded_database_url: str) -> None:
    async with running_server(seeded_database_url, "redis://127.0.0.1:1/0") as base, \
            aiohttp.ClientSession() as session:  # fmt: skip
        status, body, _ = await _login(Client(session, base), "agent1001", DEMO_PASSWORD)
        assert status == 503 and body["error"]["code"] == "throttle_unavailable"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, seeded_database_url: str, redis_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", seeded_database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    return seeded_database_url


def _fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_users_commands(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "add", "--username", "zhang.san", "--password", "s3cret-pass", "--role", "handler",
                 "--unit", "city.cgj"]) == 0  # fmt: skip
    assert "created" in capsys.readouterr().out
    [row] = _fetch(env, "SELECT role, unit_id IS NOT NULL AS has_unit, active FROM users WHERE username = 'zhang.san'")
    assert (row["role"], row["has_unit"], row["active"]) == ("handler", True, True)
    assert main(["users", "add", "--username", "zhang.san", "--password", "s3cret-pass", "--role", "agent"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["users", "add", "--username", "li.si", "--password", "s3cret-pass", "--role", "handler"]) == 2
    assert "--unit" in capsys.readouterr().err
    assert main(["users", "add", "--username", "li.si", "--password", "short", "--role", "agent"]) == 2
    assert main(["users", "reset-password", "--username", "zhang.san", "--password", "another-pass"]) == 0
    assert main(["users", "unlock", "--username", "zhang.san"]) == 0
    assert "was not locked" in capsys.readouterr().out
    assert main(["users", "disable", "--username", "zhang.san"]) == 0
    assert main(["users", "disable", "--username", "no.one"]) == 2
    kinds = [r["kind"] for r in _fetch(env, "SELECT kind FROM auth_events WHERE username = 'zhang.san' ORDER BY id")]
    assert kinds == ["user_created", "password_reset", "unlocked", "disabled"]
    [row] = _fetch(env, "SELECT active FROM users WHERE username = 'zhang.san'")
    assert row["active"] is False

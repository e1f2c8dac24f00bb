"""Unit HMAC secrets sealed at rest: issued sealed, verified and pushed with the key,
rotated, refused at start without the key; the embedded set-up keeps its own key."""

from __future__ import annotations

import stat
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from hotline import secretbox
from hotline.agency import keystore
from hotline.cli import main
from hotline.config import ConfigError
from tests.api_helpers import Client, running_server
from tests.orders_helpers import unit_id
from tests.webhook_helpers import SignedClient

KEY = secretbox.new_key()


async def test_issued_secrets_are_sealed_and_still_verify(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis
) -> None:
    cgj = await unit_id(seeded_pool, "city.cgj")
    async with running_server(seeded_database_url, redis_url, secret_key=KEY) as base, \
            aiohttp.ClientSession() as session:  # fmt: skip
        admin = await Client(session, base).login("admin")
        status, issued = await admin.request("POST", f"/api/admin/units/{cgj}/keys")
        assert status == 201
        stored = await seeded_pool.fetchval("SELECT secret FROM unit_keys WHERE key_id = $1", issued["key_id"])
        assert stored.startswith("fernet:") and issued["secret"] not in stored
        r = await SignedClient(session, base, issued["key_id"], issued["secret"]).get("/api/units/me")
        assert r.status == 200 and r.body["key_id"] == issued["key_id"]
    async with seeded_pool.acquire() as conn:  # what the relay signs pushes with
        assert await keystore.signing_key(conn, cgj, secretbox.SecretBox(KEY)) == (issued["key_id"], issued["secret"])
    with pytest.raises(ConfigError):  # the wrong key opens nothing
        async with seeded_pool.acquire() as conn:
            await keystore.signing_key(conn, cgj, secretbox.SecretBox(secretbox.new_key()))


async def test_without_the_key_a_server_with_sealed_secrets_refuses_to_start(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str
) -> None:
    async with seeded_pool.acquire() as conn:
        await keystore.create_key(conn, await unit_id(seeded_pool, "city.cgj"), box=secretbox.SecretBox(KEY))
    with pytest.raises(secretbox.SecretKeyMissing, match="HOTLINE_SECRET_KEY is not set"):
        async with running_server(seeded_database_url, redis_url):
            pass


async def test_rotation_reseals_every_secret_clear_ones_too(seeded_pool: asyncpg.Pool) -> None:
    old, new = secretbox.SecretBox(KEY), secretbox.SecretBox(secretbox.new_key())
    cgj = await unit_id(seeded_pool, "city.cgj")
    async with seeded_pool.acquire() as conn:
        sealed = await keystore.create_key(conn, cgj, box=old)
        clear = await keystore.create_key(conn, await unit_id(seeded_pool, "city.zjj"))  # issued before a key was set
        assert await secretbox.rotate(conn, old, new) == 2
        assert (await keystore.lookup(conn, sealed.key_id, new)).secret == sealed.secret
        assert (await keystore.lookup(conn, clear.key_id, new)).secret == clear.secret
        with pytest.raises(ConfigError):
            await keystore.lookup(conn, sealed.key_id, old)
    assert await seeded_pool.fetchval("SELECT count(*) FROM unit_keys WHERE secret NOT LIKE 'fernet:%'") == 0


def test_the_embedded_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    key = secretbox.embedded_key(tmp_path / "var")
    assert secretbox.embedded_key(tmp_path / "var") == key
    assert stat.S_IMODE((tmp_path / "var" / secretbox.KEY_FILE).stat().st_mode) == 0o600
    secretbox.SecretBox(key)  # a valid Fernet key


def test_cli_new_key_and_rotate(
    monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["secrets", "new-key"]) == 0
    fresh = capsys.readouterr().out.strip()
    secretbox.SecretBox(fresh)
    assert main(["secrets", "rotate", "--new-key", fresh]) == 0
    assert "0 unit secret(s)" in capsys.readouterr().out
    assert main(["secrets", "rotate", "--new-key", "not-a-key"]) == 2
    assert "Fernet" in capsys.readouterr().err

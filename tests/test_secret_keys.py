"""``hotline intake add-key`` and ``hotline secrets rotate`` seal and open with the key the
server uses: HOTLINE_SECRET_KEY, else the embedded set-up's key file in the data folder."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr

from hotline import cli_open311, cli_secrets, secretbox
from hotline.config import Settings


def test_the_key_is_the_variable_else_the_embedded_key_file(tmp_path: Path) -> None:
    embedded = Settings(database_url=None, data_dir=tmp_path)
    made = secretbox.key_for(embedded)
    assert made and (tmp_path / secretbox.KEY_FILE).read_text().strip() == made
    assert secretbox.key_for(embedded) == made  # made once, then read
    given = secretbox.new_key()
    assert secretbox.key_for(embedded.model_copy(update={"secret_key": SecretStr(given)})) == given
    assert secretbox.key_for(Settings(database_url="postgresql://db/x", data_dir=tmp_path)) is None


async def test_add_key_and_rotate_use_the_embedded_key_file(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=None, data_dir=tmp_path)  # the embedded set-up: no DATABASE_URL

    def on_database(_settings: Settings, fn: Any) -> Any:  # the embedded server stands in as our test database
        async def run() -> Any:
            conn = await asyncpg.connect(database_url)
            try:
                return await fn(conn)
            finally:
                await conn.close()

        return asyncio.run(run())

    args = argparse.Namespace(channel="wechat")
    await asyncio.to_thread(cli_open311._run, settings, args, on_database, cli_open311._add_key)
    server = secretbox.SecretBox(secretbox.embedded_key(tmp_path))
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("SELECT secret FROM intake_keys WHERE channel = 'wechat'")
        assert stored.startswith(secretbox.PREFIX)
        secret = server.open(stored)  # the server opens what the command sealed

        new_key = secretbox.new_key()
        rotate = argparse.Namespace(secrets_command="rotate", new_key=new_key)
        assert await asyncio.to_thread(cli_secrets._run, settings, rotate, on_database) == 0
        rotated = await conn.fetchval("SELECT secret FROM intake_keys WHERE channel = 'wechat'")
        assert rotated != stored and secretbox.SecretBox(new_key).open(rotated) == secret
    finally:
        await conn.close()

"""The CLI against a real database: migrate, seed twice, import another city, a broken file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from hotline.cli import main


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    return database_url


def _count(url: str, sql: str) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_migrate_seed_twice_and_import(env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["seed-demo"]) == 0
    assert main(["seed-demo"]) == 0  # idempotent
    assert "198 divisions" in capsys.readouterr().out
    assert _count(env, "SELECT count(*) FROM units") == 234
    assert _count(env, "SELECT count(*) FROM dispatch_rules") == 50
    other = Path(__file__).parent / "data" / "lianyungang-320700.csv"
    assert main(["import-divisions", str(other)]) == 0
    assert "new" in capsys.readouterr().out
    broken = tmp_path / "broken.csv"
    broken.write_text("code,name,level,parent_code\n320999001,某街道,street,320999\n", encoding="utf-8")
    assert main(["import-divisions", str(broken)]) == 2
    assert "line 2" in capsys.readouterr().err

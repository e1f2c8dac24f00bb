"""``hotline cel import``, ``hotline calls rebuild`` and ``hotline queue-log import`` on a real database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from hotline.cli import main
from tests.cel_helpers import asterisk_dir


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.delenv("HOTLINE_CEL_DATABASE_URL", raising=False)
    return database_url


def _sql(url: str, sql: str) -> object:
    async def run() -> object:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_cel_import_then_rebuild_a_range(env: str, shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = str(asterisk_dir(shared_dir) / "transfers.cel.csv")
    assert main(["cel", "import", export]) == 0
    assert "187 CEL rows (187 new), 5 linkedids: 5 call records written on node pbx1" in capsys.readouterr().out
    assert main(["cel", "import", export]) == 0
    assert "(0 new), 5 linkedids: 0 call records written" in capsys.readouterr().out
    _sql(env, "UPDATE calls SET queue = 'wrong'")
    # the blind transfer ended at 01:49:51 UTC, alone in this range
    assert main(["calls", "rebuild", "--from", "2026-12-02T09:49:45", "--to", "2026-12-02T09:50:00"]) == 0
    assert "1 calls ended in CEL in that range: 1 call records written" in capsys.readouterr().out
    assert _sql(env, "SELECT count(*) FROM calls WHERE queue = 'wrong'") == 4
    assert main(["calls", "rebuild"]) == 0
    assert "5 calls ended in CEL in that range: 4 call records written" in capsys.readouterr().out
    assert main(["calls", "rebuild", "--from", "last tuesday"]) == 2
    assert "ISO 8601" in capsys.readouterr().err


def test_bad_files_are_refused(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cel", "import", str(tmp_path / "none.csv")]) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("id,eventtype\n1,CHAN_START\n", encoding="utf-8")
    assert main(["cel", "import", str(bad)]) == 2
    assert "missing columns" in capsys.readouterr().err
    assert main(["queue-log", "import", str(tmp_path / "none")]) == 2
    bad.write_text("garbage\n", encoding="utf-8")
    assert main(["queue-log", "import", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_queue_log_import(env: str, shared_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue-log", "import", str(asterisk_dir(shared_dir) / "outage.queue_log"), "--node", "site2"]) == 0
    assert "30 calls: 30 call records written" in capsys.readouterr().out
    assert _sql(env, "SELECT count(*) FROM calls WHERE node = 'site2' AND source = 'queue_log'") == 30

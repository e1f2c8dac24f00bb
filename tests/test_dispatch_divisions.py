"""Division CSV: validation with line numbers, idempotent import into PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from dispatch.divisions import import_divisions, parse_divisions, significant_prefix
from dispatch.errors import DivisionFileError

DATA = Path(__file__).parent / "data"


def xuzhou(shared_dir: Path) -> Path:
    return shared_dir / "data" / "divisions" / "xuzhou-320300.csv"


async def test_import_xuzhou_counts_and_tree(pool: asyncpg.Pool, shared_dir: Path) -> None:
    async with pool.acquire() as conn:
        result = await import_divisions(conn, xuzhou(shared_dir))
        assert (result.total, result.inserted, result.updated, result.unchanged) == (198, 198, 0, 0)
        levels = dict(await conn.fetch("SELECT level, count(*) FROM divisions GROUP BY level"))
        assert levels == {"city": 1, "district": 11, "street": 186}
        districts = {r["name"] for r in await conn.fetch("SELECT name FROM divisions WHERE parent_code = '320300'")}
        assert {
            "鼓楼区",
            "云龙区",
            "贾汪区",
            "泉山区",
            "铜山区",
            "丰县",
            "沛县",
            "睢宁县",
            "新沂市",
            "邳州市",
        } < districts
        assert await conn.fetchval("SELECT parent_code FROM divisions WHERE name = '黄楼街道'") == "320302"


async def test_import_is_idempotent_and_updates_renames(pool: asyncpg.Pool, shared_dir: Path, tmp_path: Path) -> None:
    async with pool.acquire() as conn:
        await import_divisions(conn, xuzhou(shared_dir))
        generation = await conn.fetchval("SELECT generation FROM dispatch_generation")
        again = await import_divisions(conn, xuzhou(shared_dir))
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 198)
        renamed = tmp_path / "renamed.csv"
        renamed.write_text(
            xuzhou(shared_dir).read_text(encoding="utf-8").replace("320302001,黄楼街道", "320302001,黄楼新街道"),
            encoding="utf-8",
        )
        changed = await import_divisions(conn, renamed)
        assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 197)
        assert await conn.fetchval("SELECT name FROM divisions WHERE code = '320302001'") == "黄楼新街道"
        assert await conn.fetchval("SELECT generation FROM dispatch_generation") > generation


async def test_second_city_imports_beside_the_first(pool: asyncpg.Pool, shared_dir: Path) -> None:
    async with pool.acquire() as conn:
        await import_divisions(conn, xuzhou(shared_dir))
        result = await import_divisions(conn, DATA / "lianyungang-320700.csv")
        assert result.inserted == result.total == 101
        assert await conn.fetchval("SELECT count(*) FROM divisions WHERE level = 'city'") == 2


async def test_bad_file_writes_nothing(pool: asyncpg.Pool, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code\n320300,徐州市,city,\n320302,鼓楼区,district,320300\n"
                   "320302001,黄楼街道,street,320399\n", encoding="utf-8")  # fmt: skip
    async with pool.acquire() as conn:
        with pytest.raises(DivisionFileError) as err:
            await import_divisions(conn, bad)
        assert err.value.problems == [(4, "parent 320399 of 320302001 黄楼街道 is neither in the file nor stored")]
        assert await conn.fetchval("SELECT count(*) FROM divisions") == 0


async def test_file_may_hang_under_a_stored_parent(pool: asyncpg.Pool, tmp_path: Path) -> None:
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO divisions (code, name, level) VALUES ('320000', '江苏省', 'province')")
        f = tmp_path / "c.csv"
        f.write_text("code,name,level,parent_code\n320300,徐州市,city,320000\n", encoding="utf-8")
        assert (await import_divisions(conn, f)).inserted == 1


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(DivisionFileError) as err:
        parse_divisions(text, "t.csv")
    return err.value.problems


def test_every_problem_reported_with_its_line() -> None:
    text = (
        "code,name,level,parent_code\n"
        "320300,徐州市,city,\n"
        "320302,鼓楼区,county,320300\n"  # 3 unknown level
        "320303,云龙区,district,320300\n"
        "320303,云龙区,district,320300\n"  # 5 duplicate
        "32030300A,彭城街道,street,320303\n"  # 6 bad code
        "320303002,,street,320303\n"  # 7 no name
        "320311001,王陵街道,street,320303\n"  # 8 prefix mismatch
        "320303003,黄山街道,street,320300\n"  # 9 parent of wrong level
        "320303004,骆驼山街道,street\n"  # 10 missing field
    )
    got = problems(text)
    assert [line for line, _ in got] == [3, 5, 6, 7, 8, 9, 10]
    messages = dict(got)
    assert "unknown level 'county'" in messages[3]
    assert "duplicate code 320303 (first on line 4)" in messages[5]
    assert "must be 9 digits" in messages[6]
    assert "has no name" in messages[7]
    assert "does not start with its parent's prefix 320303" in messages[8]
    assert "expected a district" in messages[9]
    assert "expected 4 fields" in messages[10]


def test_header_and_error_payload() -> None:
    assert problems("id,name,level,parent\n1,x,city,\n") == [
        (1, "header must be code,name,level,parent_code, got id,name,level,parent")
    ]
    err = DivisionFileError("t.csv", [(3, "a"), (4, "b")])
    assert err.status == 422 and err.to_json()["error"]["details"]["problems"][1] == {"line": 4, "message": "b"}


def test_bom_blank_lines_and_parent_order() -> None:
    text = "\ufeffcode,name,level,parent_code\n\n320302001,黄楼街道,street,320302\n320302,鼓楼区,district,320300\n320300,徐州市,city,\n"
    assert [d.code for d in parse_divisions(text)] == ["320300", "320302", "320302001"]


def test_significant_prefix() -> None:
    assert [significant_prefix(c) for c in ("320000", "320300", "320302", "320302001")] == [
        "32", "3203", "320302", "320302001",
    ]  # fmt: skip

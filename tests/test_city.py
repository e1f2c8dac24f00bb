"""A new city from a division file: `hotline city init`, the imports, and routing end to end
through the API with no SQL and no Python of the city's own."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from dispatch.imports import RULE_HEADER
from hotline.cli import main
from tests.api_helpers import Client, running_server

CITIES = Path(__file__).parent / "data" / "cities"
NANJING = CITIES / "nanjing" / "divisions.csv"
TEMPLATE = Path(__file__).parent.parent / "dispatch" / "data" / "dispatch-template.csv"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    return database_url


def _counts(url: str) -> dict[str, int]:
    async def run() -> dict[str, int]:
        conn = await asyncpg.connect(url)
        try:
            return {
                t: await conn.fetchval(f"SELECT count(*) FROM {t}")
                for t in ("divisions", "categories", "units", "dispatch_rules", "users")
            }
        finally:
            await conn.close()

    return asyncio.run(run())


def _init(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = main(["city", "init", "--divisions", str(NANJING), "--name", "南京市", "--dispatch", str(TEMPLATE), *extra])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_city_init_is_idempotent(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = _init(capsys)
    assert "password (shown once)" in out
    first = _counts(env)
    # 1 city + 11 districts + 101 streets; the centre, 11 hubs, 101 offices; one admin.
    assert first["divisions"] == 113 and first["units"] == 113 and first["users"] == 1
    assert first["categories"] >= 80 and first["dispatch_rules"] == 0
    again = _init(capsys)
    assert "0 categories added, 0 units added, 0 dispatch rules added" in again
    assert "password" not in again  # the admin exists: nothing generated, nothing printed
    assert _counts(env) == first


def test_city_init_refuses_a_bad_file(env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "d.csv"
    broken.write_text("code,name,level,parent_code\n320100,南京市,city,\n320199001,某街道,street,320199\n")
    assert main(["city", "init", "--divisions", str(broken), "--name", "X"]) == 2
    assert "line 3" in capsys.readouterr().err
    assert _counts(env)["units"] == 0


def test_city_init_refuses_a_short_admin_password(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["city", "init", "--divisions", str(NANJING), "--name", "南京市", "--admin-password", "short"]
    assert main(args) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    assert _counts(env)["units"] == 0  # one transaction: nothing half made


def test_seed_demo_refuses_another_city(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed-demo", "--divisions", str(NANJING)]) == 2
    err = capsys.readouterr().err
    assert "南京市 (320100)" in err and "hotline city init" in err
    assert _counts(env)["units"] == 0


def test_units_and_rules_import_report_lines(env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _init(capsys)
    units = tmp_path / "units.csv"
    units.write_text(
        "code,name,level,kind,parent_code,division_code,webhook_url\n"
        "city.cgj,南京市城市管理局,city,agency,,320100,\n"
        "bad.level,某局,county,agency,,,\n"
        "xw.cgj,玄武区城管局,district,agency,hub.320102,320102,ftp://x\n"
        "xw.zjj,玄武区住建局,district,agency,nope,320102,\n",
        encoding="utf-8",
    )
    assert main(["units", "import", str(units)]) == 2
    err = capsys.readouterr().err
    assert all(f"line {n}" in err for n in (3, 4, 5)) and "line 2" not in err
    units.write_text(
        "code,name,level,kind,parent_code,division_code,webhook_url\n"
        "city.cgj,南京市城市管理局,city,agency,,320100,\n"
        "xw.cgj,玄武区城管局,district,agency,hub.320102,320102,\n",
        encoding="utf-8",
    )
    assert main(["units", "import", str(units)]) == 0
    assert main(["units", "import", str(units)]) == 0
    assert "0 new or changed, 2 unchanged" in capsys.readouterr().out

    rules = tmp_path / "rules.csv"
    rules.write_text(
        "# a comment\ncategory_code,division_prefix,unit_code,kind,role,note\n"
        "0101,,city.cgj,,,\n0101,320102,xw.cgj,,,\n9999,,city.cgj,,,\n0101,,ghost,,,\n0301,,city.cgj,sometimes,,\n",
        encoding="utf-8",
    )
    assert main(["rules", "import", str(rules)]) == 2
    err = capsys.readouterr().err
    assert all(f"line {n}" in err for n in (5, 6, 7))
    assert _counts(env)["dispatch_rules"] == 0  # nothing written from a bad file
    rules.write_text(
        "category_code,division_prefix,unit_code,kind,role,note\n0101,,city.cgj,,,\n0101,320102,xw.cgj,,,\n",
        encoding="utf-8",
    )
    assert main(["rules", "import", str(rules)]) == 0
    assert main(["rules", "import", str(rules)]) == 0
    assert "0 added, 2 already there" in capsys.readouterr().out
    # The same list kept in a spreadsheet; its errors name the row.
    from openpyxl import Workbook

    book = Workbook()
    for row in (RULE_HEADER, ["0301", "", "city.cgj", "", "", ""], ["0302", "", "ghost", "", "", ""]):
        book.active.append(row)
    book.save(tmp_path / "rules.xlsx")
    assert main(["rules", "import", str(tmp_path / "rules.xlsx")]) == 2
    assert "line 3: unknown unit 'ghost'" in capsys.readouterr().err
    book.active.delete_rows(3)
    book.save(tmp_path / "rules.xlsx")
    assert main(["rules", "import", str(tmp_path / "rules.xlsx")]) == 0
    assert "1 rules: 1 added" in capsys.readouterr().out


def test_places_and_vetoes_import(env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    _init(capsys)
    assert main(["import-places", str(CITIES / "nanjing" / "places.csv")]) == 0
    assert main(["import-places", str(CITIES / "nanjing" / "places.csv")]) == 0
    assert "0 new, 0 updated" in capsys.readouterr().out
    tree = tmp_path / "china_location.txt"
    tree.write_text("江苏省\t320000\t江苏\n\t南京市\t320100\t南京\n\t\t玄武区\t320102\t玄武\n"
                    "\t\t\t锁金村街道\n\t\t\t\t锁金新村社区\n", encoding="utf-8")  # fmt: skip
    assert main(["import-places", "--from-jionlp", "--jionlp-file", str(tree)]) == 0
    assert "1 towns matched, 1 communities and villages: 1 new" in capsys.readouterr().out
    assert main(["import-places"]) == 2
    vetoes = tmp_path / "vetoes.csv"
    vetoes.write_text("form,division_code,note\n凤凰,320106007,a bird here\n马群,999999,\n", encoding="utf-8")
    assert main(["vetoes", "import", str(vetoes)]) == 2
    assert "line 3" in capsys.readouterr().err


async def test_a_new_city_routes_end_to_end(database_url: str, redis_url: str, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dispatch = tmp_path / "dispatch.csv"
    dispatch.write_text(
        TEMPLATE.read_text(encoding="utf-8") + "030102,320102,hub.320102,,,noise in 玄武区 goes to its hub\n",
        encoding="utf-8",
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("DATABASE_URL", database_url)
    mp.setenv("REDIS_URL", redis_url)
    try:
        args = ["city", "init", "--divisions", str(NANJING), "--name", "南京市", "--dispatch", str(dispatch)]
        assert await asyncio.to_thread(main, args) == 0
    finally:
        mp.undo()
    password = re.search(r"password \(shown once\): (\S+)", capsys.readouterr().out).group(1)  # type: ignore[union-attr]
    async with running_server(database_url, redis_url) as base, aiohttp.ClientSession() as session:
        admin = await Client(session, base).login("admin", password)
        status, cats = await admin.request("GET", "/api/categories")
        assert status == 200 and any(c["code"] == "030102" for c in cats["items"])
        status, d = await admin.request(
            "POST", "/api/route", json={"category_code": "030102", "address": "玄武区锁金村街道 小区楼下广场舞"}
        )
        assert status == 200 and d["outcome"] == "rule" and d["division_code"] == "320102007", d
        assert d["unit_code"] == "hub.320102" and d["needs_review"] is False
        status, d = await admin.request("POST", "/api/route", json={"category_code": "0501", "address": "秦淮区"})
        assert d["outcome"] == "centre" and d["unit_code"] == "centre"  # no rule: the centre dispatches by hand
        # A veto through the API takes the short form away at once.
        status, d = await admin.request("POST", "/api/route", json={"address": "鼓楼 凤凰 小区"})
        assert d["division_code"] == "320106007"
        status, v = await admin.request("POST", "/api/admin/vetoes", json={"form": "凤凰"})
        assert status == 201
        status, d = await admin.request("POST", "/api/route", json={"address": "鼓楼 凤凰 小区"})
        assert d["division_code"] == "320106"
        status, body = await admin.request("POST", "/api/admin/vetoes", json={"form": "凤凰", "division_code": "1"})
        assert status == 422 and body["error"]["code"]
        status, _ = await admin.request("DELETE", f"/api/admin/vetoes/{v['id']}")
        assert status == 200
        status, body = await admin.request("DELETE", f"/api/admin/vetoes/{v['id']}")
        assert status == 404
        # Places over the API, with their line-numbered errors.
        status, body = await admin.request(
            "POST", "/api/admin/places", json={"places_csv": "name,kind,divisions\n仙林大道,road,1\n"}
        )
        assert status == 422 and body["error"]["details"]["problems"][0]["line"] == 2
        status, body = await admin.request(
            "POST", "/api/admin/places", json={"places_csv": "name,kind,divisions\n玄武大道,road,320102;320113\n"}
        )
        assert status == 200 and body["inserted"] == 1
        status, d = await admin.request("POST", "/api/route", json={"address": "玄武大道上有辆车抛锚"})
        assert d["division_code"] is None and set(d["candidates"]) == {"320102", "320113"}
        # The API twin of city init changes nothing on a second run.
        csv = NANJING.read_text(encoding="utf-8")
        status, body = await admin.request("POST", "/api/admin/city", json={"name": "南京市", "divisions_csv": csv})
        assert status == 200 and body["units_added"] == 0 and body["categories_added"] == 0
        status, body = await admin.request("POST", "/api/admin/city", json={"name": "南京市", "divisions_csv": "x"})
        assert status == 422 and body["error"]["code"] == "invalid_division_file"
        agent = Client(session, base)
        status, _ = await agent.request("GET", "/api/categories")
        assert status == 401

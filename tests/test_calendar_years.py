"""Calendar years: `hotline calendar import`, and the warning while the coming year is not covered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
import chinese_calendar
import pytest

from hotline.calendar import BusinessCalendar
from hotline.calendar_years import (
    WARN_DAYS,
    CalendarFileError,
    CalendarWatch,
    coverage,
    import_calendar,
    parse_calendar_csv,
)
from hotline.cli import main
from hotline.deadlines.service import Deadlines
from tests.api_helpers import Client, running_server

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEMPLATE = Path(__file__).resolve().parent.parent / "hotline" / "data" / "calendar-template.csv"


def _first_uncovered_year() -> int:
    """The first year from 2026 on that chinesecalendar does not know (2027 with its 1.11 release),
    so these tests keep their meaning when a newer release covers 2027."""
    year = 2026
    while True:
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return year
        year += 1


UNCOVERED = _first_uncovered_year()
# 30 days before the uncovered year starts (2026-12-02), and 92 days before (2026-10-01, 国庆).
NEAR = datetime(UNCOVERED - 1, 12, 2, 10, 0, tzinfo=SHANGHAI)
FAR = datetime(UNCOVERED - 1, 10, 1, 10, 0, tzinfo=SHANGHAI)


def _notice(year: int) -> str:
    """A notice in the CSV shape (the days are the shape of a real notice, not a real one)."""
    return (
        "\ufeffdate,workday,note\n"
        f"{year}-01-01,no,元旦\n"
        "\n"
        "# spring festival\n"
        f"{year}-02-08,no,春节\n"
        f"{year}-02-07,yes,春节调休上班\n"
        f"{year}-02-08,否,春节\n"  # the same day again with the same answer: harmless
    )


# ------------------------------------------------------------ the file


def test_a_notice_parses_in_date_order_with_every_spelling_of_yes_and_no() -> None:
    days = parse_calendar_csv(_notice(2031))
    assert [(d.day.isoformat(), d.workday, d.note) for d in days] == [
        ("2031-01-01", False, "元旦"),
        ("2031-02-07", True, "春节调休上班"),
        ("2031-02-08", False, "春节"),
    ]


def test_every_bad_line_is_named_by_its_number_and_nothing_is_taken() -> None:
    text = (
        "date,workday,note\n"
        "2031-01-01,no,元旦\n"
        "2031-13-01,no,no such month\n"
        "2031-02-07,maybe,\n"
        "2031-02-09\n"
        "2031-01-01,yes,元旦 again but a working day\n"
        "2031-01-02,yes,a,b\n"
        "2031-01-03,no,bell\x07\n"
    )
    with pytest.raises(CalendarFileError) as caught:
        parse_calendar_csv(text)
    lines = [line for line, _ in caught.value.problems]
    assert lines == [3, 4, 5, 6, 7, 8]
    assert "line 2" in dict(caught.value.problems)[6]


def test_the_shipped_template_holds_no_days() -> None:
    with pytest.raises(CalendarFileError, match="no days"):
        parse_calendar_csv(TEMPLATE.read_text(encoding="utf-8"))


# ------------------------------------------------------------ the command


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    return database_url


def _overrides(url: str) -> list[tuple[str, bool, str]]:
    async def run() -> list[tuple[str, bool, str]]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT day, workday, note FROM calendar_overrides ORDER BY day")
            return [(r["day"].isoformat(), r["workday"], r["note"]) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(run())


def test_import_loads_a_year_idempotently(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notice = tmp_path / "2031.csv"
    notice.write_text(_notice(2031), encoding="utf-8")
    assert main(["calendar", "import", str(notice)]) == 0
    assert capsys.readouterr().out.strip() == "3 days for 2031: 3 new, 0 updated, 0 unchanged"
    assert main(["calendar", "import", str(notice)]) == 0
    assert capsys.readouterr().out.strip() == "3 days for 2031: 0 new, 0 updated, 3 unchanged"
    loaded = _overrides(env)
    assert loaded == [
        ("2031-01-01", False, "元旦"),
        ("2031-02-07", True, "春节调休上班"),
        ("2031-02-08", False, "春节"),
    ]
    # a corrected note updates its day and leaves the rest
    notice.write_text(_notice(2031).replace("春节调休上班", "春节调休（星期日）上班"), encoding="utf-8")
    assert main(["calendar", "import", str(notice)]) == 0
    assert capsys.readouterr().out.strip() == "3 days for 2031: 0 new, 1 updated, 2 unchanged"


def test_a_bad_file_loads_nothing_and_says_where(env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,workday,note\n2031-01-01,no,元旦\n2031-02-30,yes,\n", encoding="utf-8")
    assert main(["calendar", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 3: not a date" in err and "nothing was loaded" in err
    assert _overrides(env) == []
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("2031-01-01,no,f\xeate\n".encode("latin-1"))
    assert main(["calendar", "import", str(latin)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert main(["calendar", "import", str(tmp_path / "missing.csv")]) == 2


# ------------------------------------------------------------ coverage and the warning


def test_coverage_warns_only_within_45_days_of_an_uncovered_year() -> None:
    cal = BusinessCalendar()
    near = coverage(cal, NEAR)
    assert near.days_to_next_year == 30 <= WARN_DAYS
    assert near.warning is not None and str(UNCOVERED) in near.warning
    far = coverage(cal, FAR)
    assert far.days_to_next_year == 92 and far.warning is None
    loaded = cal.with_overrides({date(UNCOVERED, 1, 1): False})
    assert coverage(loaded, NEAR).warning is None
    # a year with no data at all is a warning whatever the day
    inside = coverage(cal, datetime(UNCOVERED, 3, 2, tzinfo=SHANGHAI))
    assert inside.warning is not None and "weekends only" in inside.warning


async def test_the_watch_logs_once_a_day(pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture) -> None:
    now = [NEAR]
    watch = CalendarWatch(pool, Deadlines(), clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="hotline.calendar_years")
    await watch.check()
    await watch.check()
    assert len(caplog.records) == 1 and str(UNCOVERED) in caplog.records[0].getMessage()
    now[0] = NEAR.replace(day=3)
    await watch.check()
    assert len(caplog.records) == 2
    # the centre loads the notice: no more warnings
    days = parse_calendar_csv(_notice(UNCOVERED))
    async with pool.acquire() as conn:
        await import_calendar(conn, days)
    now[0] = NEAR.replace(day=4)
    assert (await watch.check()).warning is None
    assert len(caplog.records) == 2
    now[0] = FAR
    await pool.execute("DELETE FROM calendar_overrides")
    assert (await watch.check()).warning is None


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.mark.parametrize(("when", "warned"), [(NEAR, True), (FAR, False)])
async def test_healthz_says_when_the_next_year_is_not_covered(
    database_url: str, redis_url: str, session: aiohttp.ClientSession, when: datetime, warned: bool
) -> None:
    async with running_server(database_url, redis_url, clock=lambda: when) as base:
        status, body = await Client(session, base).request("GET", "/healthz")
    assert status == 200 and body["status"] == "ok"
    cal = body["details"]["calendar"]
    assert cal["today"] == when.date().isoformat()
    assert (cal["next_year"], cal["next_year_covered"], cal["covered"]) == (UNCOVERED, False, True)
    assert (cal["warning"] is not None) == warned

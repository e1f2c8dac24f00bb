"""Calendar years: loading a year's official days off and make-up working days, and noticing
when the coming year has none yet.

The State Council publishes each year's holiday notice (国务院办公厅关于某年部分节假日安排的通知)
around November; ``chinesecalendar`` picks it up some time later. Until then a centre loads
the notice itself as calendar overrides from a CSV with one line per day that differs from
a plain Monday–Friday week::

    date,workday,note
    2027-01-01,no,元旦
    2027-02-07,yes,春节调休上班

``workday`` is yes/no (also true/false, 1/0, 是/否, 班/休). Loading is all or nothing and
idempotent: a file with a bad line loads nothing and every bad line is named by its number;
loading the same file twice leaves the same rows.

A year counts as covered when the package knows it or the centre has overrides in it. From 45
days before a year starts, /healthz says when it is not covered, and the deadline clock's
process logs one warning a day about it.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from hotline.calendar import BusinessCalendar
from hotline.deadlines.service import Deadlines
from hotline.periodic import Periodic

log = logging.getLogger(__name__)

WARN_DAYS = 45  # how long before a year starts its missing calendar is reported
_YES = {"yes", "y", "true", "1", "是", "班"}
_NO = {"no", "n", "false", "0", "否", "休"}
MAX_NOTE = 200


class CalendarFileError(ValueError):
    def __init__(self, message: str, problems: list[tuple[int, str]]):
        super().__init__(message)
        self.message, self.problems = message, problems


@dataclass(frozen=True)
class Day:
    day: date
    workday: bool
    note: str


@dataclass(frozen=True)
class Loaded:
    days: int
    inserted: int
    updated: int
    unchanged: int
    years: list[int]


def parse_calendar_csv(text: str) -> list[Day]:
    """Pure: the days of a calendar CSV, or CalendarFileError listing every bad line."""
    problems: list[tuple[int, str]] = []
    days: dict[date, tuple[int, Day]] = {}
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header_allowed = True  # a header may come first, after comments
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if header_allowed and cells[0].lower() == "date":
            header_allowed = False
            continue
        header_allowed = False
        if len(cells) < 2 or len(cells) > 3:
            problems.append((line, f"expected date,workday[,note]; got {len(cells)} fields"))
            continue
        try:
            day = date.fromisoformat(cells[0])
        except ValueError:
            problems.append((line, f"not a date (YYYY-MM-DD): {cells[0]!r}"))
            continue
        flag = cells[1].lower()
        if flag not in _YES | _NO:
            problems.append((line, f"workday must be yes or no, got {cells[1]!r}"))
            continue
        note = cells[2] if len(cells) == 3 else ""
        if len(note) > MAX_NOTE or any(ord(ch) < 32 for ch in note):
            problems.append((line, f"the note must be at most {MAX_NOTE} printable characters"))
            continue
        entry = Day(day, flag in _YES, note)
        if day in days:
            first, seen = days[day]
            if seen.workday != entry.workday:
                problems.append((line, f"{day} is also on line {first} with the other workday value"))
            continue
        days[day] = (line, entry)
    if problems:
        raise CalendarFileError(f"{len(problems)} bad line(s); nothing was loaded", problems)
    if not days:
        raise CalendarFileError("the file has no days", [])
    return [entry for _, entry in sorted(days.values(), key=lambda v: v[1].day)]


def read_calendar_file(path: Path) -> list[Day]:
    try:
        return parse_calendar_csv(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CalendarFileError("the file is not UTF-8 text", []) from None


async def import_calendar(conn: asyncpg.Connection, days: list[Day]) -> Loaded:
    """Load parsed days into ``calendar_overrides`` in one transaction."""
    async with conn.transaction():
        before = {
            r["day"]: (r["workday"], r["note"])
            for r in await conn.fetch(
                "SELECT day, workday, note FROM calendar_overrides WHERE day = ANY($1::date[])", [d.day for d in days]
            )
        }
        await conn.executemany(
            """INSERT INTO calendar_overrides (day, workday, note) VALUES ($1, $2, $3)
               ON CONFLICT (day) DO UPDATE SET workday = excluded.workday, note = excluded.note""",
            [(d.day, d.workday, d.note) for d in days],
        )
    inserted = sum(d.day not in before for d in days)
    unchanged = sum(before.get(d.day) == (d.workday, d.note) for d in days)
    years = sorted({d.day.year for d in days})
    log.info("calendar loaded", extra={"days": len(days), "years": years})
    return Loaded(len(days), inserted, len(days) - inserted - unchanged, unchanged, years)


# ------------------------------------------------------------ is the coming year covered?


@dataclass(frozen=True)
class Coverage:
    today: date
    year_covered: bool  # this year
    next_year_covered: bool

    @property
    def days_to_next_year(self) -> int:
        return (date(self.today.year + 1, 1, 1) - self.today).days

    @property
    def warning(self) -> str | None:
        if not self.year_covered:
            return f"no official working calendar for {self.today.year}: deadlines count weekends only"
        if not self.next_year_covered and self.days_to_next_year <= WARN_DAYS:
            return (
                f"no official working calendar for {self.today.year + 1}, which starts in "
                f"{self.days_to_next_year} days: load the State Council's notice (hotline calendar import FILE)"
            )
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "year": self.today.year,
            "covered": self.year_covered,
            "next_year": self.today.year + 1,
            "next_year_covered": self.next_year_covered,
            "days_to_next_year": self.days_to_next_year,
            "warning": self.warning,
        }


def coverage(cal: BusinessCalendar, now: datetime) -> Coverage:
    today = now.astimezone(cal.tz).date()
    return Coverage(today, cal.covered(today.year), cal.covered(today.year + 1))


async def coverage_at(conn: asyncpg.Connection, deadlines: Deadlines, now: datetime) -> Coverage:
    return coverage(await deadlines.calendar_for(conn), now)


class CalendarWatch(Periodic):
    name = "calendar-watch"

    """A worker that logs the coverage warning once a day (per process) while it applies."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        deadlines: Deadlines,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        interval: float = 600.0,
    ) -> None:
        self.pool, self.deadlines, self.clock, self.interval = pool, deadlines, clock, interval
        self._warned_on: date | None = None

    async def check(self) -> Coverage:
        """Look once; log the warning if it applies and was not logged today."""
        async with self.pool.acquire() as conn:
            found = await coverage_at(conn, self.deadlines, self.clock())
        if found.warning and self._warned_on != found.today:
            self._warned_on = found.today
            log.warning(found.warning, extra={"calendar": found.as_dict()})
        return found

    async def step(self) -> object:
        return await self.check()

"""The business calendar deadlines are counted on.

Working days are China's official ones: weekends off, public holidays off, and
the make-up working days (调休) on; the list comes from the ``chinesecalendar``
package, which the State Council's yearly notice updates each November. A year
the package does not know yet is counted weekends-only, with one warning per
year in the log, never a crash; a centre can load the new year's notice as
overrides (``calendar_overrides``) before the package catches up.

Working hours default to 08:30–12:00 and 13:30–17:30, Asia/Shanghai. Every
function takes and returns aware datetimes; results are in the calendar's zone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

DEFAULT_HOURS = "08:30-12:00,13:30-17:30"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Longest span a deadline may be counted over; a policy asking for more is a mistake, not a wait.
MAX_DAYS = 3 * 366

# Years already warned about, shared by every calendar in the process: one warning a year.
_WARNED_YEARS: set[int] = set()

_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_hours(text: str) -> tuple[tuple[time, time], ...]:
    """``"08:30-12:00,13:30-17:30"`` → ordered, non-overlapping (start, end) pairs; ValueError otherwise."""
    spans: list[tuple[time, time]] = []
    for part in text.split(","):
        m = _SPAN.match(part)
        if not m:
            raise ValueError(f"working hours must look like 08:30-12:00,13:30-17:30; got {part.strip()!r}")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError:
            raise ValueError(f"not a time of day in {part.strip()!r}") from None
        if start >= end:
            raise ValueError(f"a working span must end after it starts: {part.strip()!r}")
        if spans and start < spans[-1][1]:
            raise ValueError(f"working spans must be in order and must not overlap: {part.strip()!r}")
        spans.append((start, end))
    return tuple(spans)


@dataclass
class BusinessCalendar:
    hours: tuple[tuple[time, time], ...] = field(default_factory=lambda: parse_hours(DEFAULT_HOURS))
    tz: ZoneInfo = SHANGHAI
    # Days a centre has set by hand (a new year's notice, a local holiday): True = working day.
    overrides: Mapping[date, bool] = field(default_factory=dict)
    # Answers already worked out, per calendar: the package's lookup validates its argument on
    # every call and a deadline walks several days, so every dispatch paid for it again. A
    # calendar's days never change (new overrides make a new calendar: ``with_overrides``).
    _workdays: dict[date, bool] = field(default_factory=dict, init=False, repr=False, compare=False)
    _spans: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def with_overrides(self, overrides: Mapping[date, bool]) -> BusinessCalendar:
        return replace(self, overrides={**self.overrides, **overrides})

    # ------------------------------------------------------------ days

    def is_workday(self, day: date) -> bool:
        known = self._workdays.get(day)
        if known is None:
            known = self._workdays[day] = self._look_up(day)
        return known

    def _look_up(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if day.year not in _WARNED_YEARS:
                _WARNED_YEARS.add(day.year)
                log.warning(
                    "no official holiday data for this year; counting weekends only",
                    extra={"year": day.year, "package": "chinesecalendar"},
                )
            return day.weekday() < 5

    def covered(self, year: int) -> bool:
        """Whether official holiday data for ``year`` is known (package or overrides)."""
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
            return True
        except NotImplementedError:
            return any(d.year == year for d in self.overrides)

    def spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working spans of ``day`` as aware datetimes; empty on a day off."""
        known = self._spans.get(day)
        if known is None:
            hours = self.hours if self.is_workday(day) else ()
            known = tuple((datetime.combine(day, a, self.tz), datetime.combine(day, b, self.tz)) for a, b in hours)
            self._spans[day] = known
        return known

    def day_end(self, day: date) -> datetime:
        return datetime.combine(day, self.hours[-1][1], self.tz)

    # ------------------------------------------------------------ arithmetic

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment ``amount`` of working time after ``start`` (e.g. 2 working hours to sign).
        Time outside working hours does not count; an amount used up exactly at a span's end
        lands on that end (12:00, not 13:30)."""
        local = start.astimezone(self.tz)
        if amount <= timedelta(0):
            return local
        remaining = amount
        day = local.date()
        for _ in range(MAX_DAYS):
            for span_start, span_end in self.spans(day):
                if local >= span_end:
                    continue
                begin = max(local, span_start)
                if remaining <= span_end - begin:
                    return begin + remaining
                remaining -= span_end - begin
            day += timedelta(days=1)
        raise ValueError(f"{amount} of working time does not fit in {MAX_DAYS} days")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The end of the ``days``-th working day, counting the start day itself when it is
        a working day and ``start`` is before its close (含本数, as Guangzhou's rules say)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        local = start.astimezone(self.tz)
        day = local.date()
        if not (self.is_workday(day) and local < self.day_end(day)):
            day = self.next_workday(day)
        for _ in range(days - 1):
            day = self.next_workday(day)
        return self.day_end(day)

    def next_workday(self, day: date) -> date:
        for _ in range(MAX_DAYS):
            day += timedelta(days=1)
            if self.is_workday(day):
                return day
        raise ValueError(f"no working day within {MAX_DAYS} days after {day}")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time elapsed from ``start`` to ``end`` (zero when ``end`` is not later)."""
        if end <= start:
            return timedelta(0)
        local_start, local_end = start.astimezone(self.tz), end.astimezone(self.tz)
        total = timedelta(0)
        day = local_start.date()
        while day <= local_end.date():
            for span_start, span_end in self.spans(day):
                overlap = min(span_end, local_end) - max(span_start, local_start)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

"""Periods in Shanghai time, turned into UTC-aware bounds for timestamptz columns.

A "day" is a calendar day in Asia/Shanghai; a week runs Monday to Sunday; a month is
the calendar month. Bounds are half-open ``[start, end)`` so a row at exactly midnight
belongs to one period only. They are computed here, in Python, and passed to SQL as
parameters, so the indexes on the timestamptz columns stay usable (no ``AT TIME ZONE``
on the column in a WHERE clause).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
TZ_NAME = "Asia/Shanghai"
PeriodKind = Literal["day", "week", "month"]
MAX_DAYS = 366  # longest explicit range a caller may ask for (one year, leap day included)


@dataclass(frozen=True)
class Period:
    first: date  # first Shanghai day in the period
    last: date  # last Shanghai day in the period (inclusive)

    @property
    def start(self) -> datetime:
        return midnight(self.first)

    @property
    def end(self) -> datetime:
        return midnight(self.last + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def each_day(self) -> Iterator[date]:
        for n in range(self.days):
            yield self.first + timedelta(days=n)

    def as_dict(self) -> dict[str, str]:
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def midnight(day: date) -> datetime:
    """00:00 of ``day`` in Shanghai, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=TZ)


def today() -> date:
    return datetime.now(TZ).date()


def period_of(kind: PeriodKind, day: date) -> Period:
    """The day, Monday–Sunday week or calendar month holding ``day``."""
    if kind == "day":
        return Period(day, day)
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period(monday, monday + timedelta(days=6))
    first = day.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    return Period(first, next_month - timedelta(days=1))


def between(first: date, last: date) -> Period:
    """An explicit range of Shanghai days, both ends included."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValueError(f"a range covers at most {MAX_DAYS} days")
    return Period(first, last)

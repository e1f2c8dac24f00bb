"""Deadline rules: which one applies to an order, and the due time it gives. Pure: no I/O.

A rule gives a clock (sign, reply, visit, extension) an amount of time for the orders it
matches by kind, category prefix and urgency (an empty key matches anything). The most
specific matching rule wins: a rule for the order's urgency beats any that is not, then
a longer category prefix beats a shorter one, then a rule for the kind beats one without.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hotline.calendar import BusinessCalendar


class Clock(StrEnum):
    SIGN = "sign"
    REPLY = "reply"
    VISIT = "visit"
    EXTENSION = "extension"


class TimeUnit(StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"

    @property
    def working(self) -> bool:
        return self in (TimeUnit.WORKING_HOURS, TimeUnit.WORKING_DAYS)


@dataclass(frozen=True)
class Rule:
    id: int
    clock: Clock
    amount: int
    unit: TimeUnit
    kind: str | None = None
    category_prefix: str | None = None
    urgency: str | None = None
    note: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Rule:
        return cls(
            id=row["id"], clock=Clock(row["clock"]), amount=row["amount"], unit=TimeUnit(row["unit"]),
            kind=row["kind"], category_prefix=row["category_prefix"], urgency=row["urgency"], note=row["note"],
        )  # fmt: skip

    def matches(self, kind: str, category_code: str | None, urgency: str) -> bool:
        if self.kind is not None and self.kind != kind:
            return False
        if self.urgency is not None and self.urgency != urgency:
            return False
        if self.category_prefix is not None and not (category_code or "").startswith(self.category_prefix):
            return False
        return True

    @property
    def specificity(self) -> tuple[bool, int, bool]:
        return (self.urgency is not None, len(self.category_prefix or ""), self.kind is not None)

    def basis(self) -> dict[str, Any]:
        """What an assignment keeps of the rule its deadline came from."""
        return {"rule_id": self.id, "amount": self.amount, "unit": self.unit.value}


class NoRule(LookupError):
    """The preset has no rule for this clock that matches the order (no catch-all rule)."""


def pick(rules: Iterable[Rule], clock: Clock, kind: str, category_code: str | None, urgency: str) -> Rule:
    candidates = [r for r in rules if r.clock is clock and r.matches(kind, category_code, urgency)]
    if not candidates:
        raise NoRule(f"no {clock.value} rule matches kind={kind} category={category_code} urgency={urgency}")
    return max(candidates, key=lambda r: r.specificity)


def due(calendar: BusinessCalendar, start: datetime, amount: int, unit: TimeUnit) -> datetime:
    """``amount`` of ``unit`` after ``start``: working units on the calendar, the rest on the clock."""
    match unit:
        case TimeUnit.WORKING_DAYS:
            return calendar.add_working_days(start, amount)
        case TimeUnit.WORKING_HOURS:
            return calendar.add_working_time(start, timedelta(hours=amount))
        case TimeUnit.DAYS:
            return start + timedelta(days=amount)
        case TimeUnit.HOURS:
            return start + timedelta(hours=amount)
        case TimeUnit.MINUTES:
            return start + timedelta(minutes=amount)


def fraction_point(calendar: BusinessCalendar, start: datetime, end: datetime, working: bool, share: float) -> datetime:
    """The moment ``share`` of the time from ``start`` to ``end`` has passed (80 % → the warning),
    measured in working time when the deadline was counted in working time."""
    if not working:
        return start + (end - start) * share
    return calendar.add_working_time(start, calendar.working_time_between(start, end) * share)


@dataclass(frozen=True)
class Pause:
    """A stretch the clocks stood still (挂起): measured once, in calendar and in working time,
    then applied to every deadline and timer it moves."""

    calendar: BusinessCalendar
    calendar_time: timedelta
    working_time: timedelta

    @classmethod
    def between(cls, calendar: BusinessCalendar, start: datetime, end: datetime) -> Pause:
        return cls(calendar, end - start, calendar.working_time_between(start, end))

    def shift(self, moment: datetime, working: bool) -> datetime:
        """``moment`` pushed out by the pause: by its working time for clocks counted in working time."""
        if not working:
            return moment + self.calendar_time
        return self.calendar.add_working_time(moment, self.working_time)

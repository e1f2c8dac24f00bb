"""Quiet hours: no SMS to citizens between 21:00 and 08:00 local time unless urgent —
a notice due then waits for the morning, it is never dropped."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)


def send_at(moment: datetime, urgent: bool, tz: ZoneInfo) -> datetime:
    """The earliest time at or after ``moment`` a notice may go out."""
    if urgent:
        return moment
    local = moment.astimezone(tz)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return moment
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=tz)

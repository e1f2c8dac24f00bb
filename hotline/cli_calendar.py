"""``hotline calendar import FILE``: a year's holidays and make-up working days from a CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hotline.config import Settings


def add_parser(sub: Any) -> None:
    cal = sub.add_parser("calendar", help="the working calendar: load a year's holidays and make-up days")
    cal_sub = cal.add_subparsers(dest="calendar_command", required=True)
    imp = cal_sub.add_parser("import", help="load a CSV of date,workday(yes/no),note into the calendar overrides")
    imp.add_argument("file")
    imp.set_defaults(fn=cmd_calendar_import)


def cmd_calendar_import(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.calendar_years import CalendarFileError, import_calendar, read_calendar_file
    from hotline.cli import _on_database

    path = Path(args.file)
    if not path.is_file():
        print(f"error: calendar file not found: {path}", file=sys.stderr)
        return 2
    try:
        days = read_calendar_file(path)
        loaded = _on_database(settings, lambda conn: import_calendar(conn, days))
    except CalendarFileError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for line, problem in exc.problems[:50]:
            print(f"  line {line}: {problem}", file=sys.stderr)
        return 2
    years = ", ".join(str(y) for y in loaded.years)
    print(
        f"{loaded.days} days for {years}: {loaded.inserted} new, {loaded.updated} updated, {loaded.unchanged} unchanged"
    )
    return 0

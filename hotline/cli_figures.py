"""``hotline figures rebuild --from D [--to D]``: count days into the figures rollup again."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from typing import Any

import asyncpg

from hotline.config import Settings

MAX_DAYS = 3660  # ten years in one go is already a long night


def add_parser(sub: Any) -> None:
    figures = sub.add_parser("figures", help="the supervisors' figures: rebuild the daily rollup")
    figures_sub = figures.add_subparsers(dest="figures_command", required=True)
    rebuild = figures_sub.add_parser("rebuild", help="count Shanghai days into the rollup from the base tables")
    rebuild.add_argument("--from", dest="first", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD")
    rebuild.add_argument("--to", dest="last", type=date.fromisoformat, metavar="YYYY-MM-DD", help="default: --from")
    rebuild.set_defaults(fn=cmd_figures_rebuild)


def cmd_figures_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.cli import _on_database
    from hotline.figures.rollups import build_day

    first, last = args.first, args.last or args.first
    if last < first or (last - first).days >= MAX_DAYS:
        print(f"error: --to must be on or after --from and at most {MAX_DAYS} days later", file=sys.stderr)
        return 2

    async def rebuild(conn: asyncpg.Connection) -> list[date]:
        missed, day = [], first
        while day <= last:
            if not await build_day(conn, day):
                missed.append(day)
            day += timedelta(days=1)
        return missed

    missed = _on_database(settings, rebuild)
    built = (last - first).days + 1 - len(missed)
    print(
        f"{built} days rebuilt"
        + (f"; changed while counted, try again: {', '.join(map(str, missed))}" if missed else "")
    )
    return 1 if missed else 0

"""``hotline cel import``, ``hotline calls rebuild`` and ``hotline queue-log import``: call records
from Asterisk's durable streams (adapters/cel, adapters/queuelog)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg

from adapters.cel.importer import import_csv
from adapters.cel.rows import CelFileError
from adapters.cel.store import rebuild
from adapters.cel.worker import resolve_node
from hotline import db
from hotline.config import Settings

T = TypeVar("T")
REBUILD_BATCH = 500  # calls per transaction


def _with_databases(settings: Settings, fn: Callable[[asyncpg.Connection, asyncpg.Connection], Awaitable[T]]) -> T:
    """Run ``fn(conn, cel)`` on the migrated database and the CEL database (the same one unless
    HOTLINE_CEL_DATABASE_URL points elsewhere)."""
    from hotline.cli import _settings_with_servers

    settings, emb = _settings_with_servers(settings)

    async def run() -> T:
        conn = await asyncpg.connect(settings.database_url)
        cel = await asyncpg.connect(settings.cel_database_url) if settings.cel_database_url else conn
        try:
            await db.migrate(conn)
            return await fn(conn, cel)
        finally:
            if cel is not conn:
                await cel.close()
            await conn.close()

    try:
        return asyncio.run(run())
    finally:
        emb.close()


def _node(settings: Settings, args: argparse.Namespace) -> str:
    return args.node or resolve_node(settings.cel_node, settings.ami_nodes)


def cmd_cel_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"error: CEL export not found: {path}", file=sys.stderr)
        return 2
    node = _node(settings, args)
    try:
        result = _with_databases(settings, lambda conn, cel: import_csv(conn, cel, path, node, now=datetime.now(UTC)))
    except CelFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{result.rows} CEL rows ({result.new_rows} new), {result.calls} linkedids: "
        f"{result.calls_changed} call records written on node {node}"
    )
    return 0


def _when(value: str | None, zone: str) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo(zone))


async def _rebuild(
    conn: asyncpg.Connection, cel: asyncpg.Connection, node: str, start: Any, end: Any
) -> tuple[int, int]:
    linkedids = [
        r["linkedid"]
        for r in await cel.fetch(
            """SELECT linkedid FROM cel WHERE eventtype = 'LINKEDID_END'
                 AND ($1::timestamptz IS NULL OR eventtime >= $1) AND ($2::timestamptz IS NULL OR eventtime < $2)
               GROUP BY linkedid ORDER BY min(id)""",
            start,
            end,
        )
    ]
    changed = 0
    for i in range(0, len(linkedids), REBUILD_BATCH):
        async with conn.transaction():
            changed += await rebuild(conn, cel, node, linkedids[i : i + REBUILD_BATCH], now=datetime.now(UTC))
    return len(linkedids), changed


def cmd_calls_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    try:
        start, end = _when(args.start, settings.timezone), _when(args.end, settings.timezone)
    except ValueError as exc:
        print(f"error: --from/--to must be ISO 8601 times: {exc}", file=sys.stderr)
        return 2
    node = _node(settings, args)
    calls, changed = _with_databases(settings, lambda conn, cel: _rebuild(conn, cel, node, start, end))
    print(f"{calls} calls ended in CEL in that range: {changed} call records written on node {node}")
    return 0


def cmd_queue_log_import(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.queuelog.importer import QueueLogError, import_queue_log

    path = Path(args.file)
    if not path.is_file():
        print(f"error: queue_log not found: {path}", file=sys.stderr)
        return 2
    node = _node(settings, args)
    try:
        result = _with_databases(settings, lambda conn, _cel: import_queue_log(conn, path, node, now=datetime.now(UTC)))
    except QueueLogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{result.lines} queue_log lines, {result.calls} calls: {result.calls_changed} call records written")
    return 0


def add_commands(sub: Any) -> None:
    cel = sub.add_parser("cel", help="Asterisk CEL: the durable call record").add_subparsers(dest="cel", required=True)
    imp = cel.add_parser("import", help="load an exported CEL CSV and rebuild its calls")
    imp.add_argument("file")
    imp.add_argument("--node", help="calls.node to write under (default: HOTLINE_CEL_NODE / the only AMI node)")
    imp.set_defaults(fn=cmd_cel_import)
    calls = sub.add_parser("calls", help="call records").add_subparsers(dest="calls", required=True)
    reb = calls.add_parser("rebuild", help="rebuild call records from CEL (calls that ended in [--from, --to))")
    reb.add_argument("--from", dest="start", help="ISO 8601 time (no zone: HOTLINE_TIMEZONE)")
    reb.add_argument("--to", dest="end")
    reb.add_argument("--node")
    reb.set_defaults(fn=cmd_calls_rebuild)
    qlog = sub.add_parser("queue-log", help="Asterisk queue_log").add_subparsers(dest="queue_log", required=True)
    qimp = qlog.add_parser("import", help="complete call records from a queue_log file (sites without CEL)")
    qimp.add_argument("file")
    qimp.add_argument("--node")
    qimp.set_defaults(fn=cmd_queue_log_import)

"""The ``hotline`` command: serve, migrate, seed-demo.

With DATABASE_URL / REDIS_URL unset, commands that need them start the
embedded PostgreSQL and Redis under the data folder (HOTLINE_DATA_DIR, ./var).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import asyncpg
from pydantic import SecretStr

from hotline import (
    cli_calendar,
    cli_calls,
    cli_city,
    cli_figures,
    cli_open311,
    cli_secrets,
    cli_users,
    db,
    logs,
    secretbox,
)
from hotline.config import ConfigError, Settings, load_settings
from hotline.embedded import EmbeddedUnavailable, ensure_servers

log = logging.getLogger("hotline")
T = TypeVar("T")
# The 徐州市 gazetteer (a copy of ../shared/data/divisions/xuzhou-320300.csv shipped with the package).
DEFAULT_DIVISIONS = Path(__file__).resolve().parent.parent / "dispatch" / "data" / "xuzhou-320300.csv"
# A recorded Asterisk 22 session (20 calls into queue "hotline"), shipped for the demo.
DEFAULT_TRACE = Path(__file__).resolve().parent / "demo" / "basic.ami"


def _settings_with_servers(settings: Settings):
    emb = ensure_servers(settings.database_url, settings.redis_url, settings.data_dir)
    update: dict[str, object] = {"database_url": emb.database_url, "redis_url": emb.redis_url}
    if settings.database_url is None and settings.secret_key is None:
        # The embedded set-up keeps its own key, so a laptop's unit secrets are sealed too.
        update["secret_key"] = SecretStr(secretbox.embedded_key(settings.data_dir))
    return settings.model_copy(update=update), emb


def _on_database(settings: Settings, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """Run ``fn`` on a migrated database (the embedded one when DATABASE_URL is unset)."""
    settings, emb = _settings_with_servers(settings)

    async def run() -> T:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await db.migrate(conn)
            return await fn(conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(run())
    finally:
        emb.close()


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    settings, emb = _settings_with_servers(settings)

    async def run() -> list[str]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await db.migrate(conn)
        finally:
            await conn.close()

    try:
        applied = asyncio.run(run())
    finally:
        emb.close()
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.seed import DEMO_PASSWORD, NotTheDemoCity, check_demo_city, seed_demo

    csv = Path(args.divisions) if args.divisions else DEFAULT_DIVISIONS
    if not csv.is_file():
        print(f"error: division file not found: {csv}", file=sys.stderr)
        return 2
    try:
        check_demo_city(csv)
    except NotTheDemoCity as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = _on_database(settings, lambda conn: seed_demo(conn, csv))
    print(
        f"seeded {result.divisions} divisions, {result.categories} categories, {result.units} units, "
        f"{result.rules} dispatch rules, {result.users} users (password for every demo user: {DEMO_PASSWORD})"
    )
    return 0


def cmd_import_divisions(settings: Settings, args: argparse.Namespace) -> int:
    from dispatch.divisions import import_divisions
    from dispatch.errors import DivisionFileError

    try:
        result = _on_database(settings, lambda conn: import_divisions(conn, Path(args.file)))
    except DivisionFileError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        for line, problem in exc.problems[:50]:
            print(f"  line {line}: {problem}", file=sys.stderr)
        return 2
    print(f"{result.total} divisions: {result.inserted} new, {result.updated} updated, {result.unchanged} unchanged")
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.demo.runner import Demo

    trace = Path(args.trace) if args.trace else DEFAULT_TRACE
    if not trace.is_file():
        print(f"error: AMI trace not found: {trace}", file=sys.stderr)
        return 2
    settings, emb = _settings_with_servers(settings)
    settings = settings.model_copy(update={"roles": ["api", "ami", "clock", "outbox"]})
    if "HOTLINE_LOG_LEVEL" not in os.environ:
        logging.getLogger().setLevel(logging.WARNING)  # the story on stdout, only trouble on stderr
    try:
        result = asyncio.run(Demo(settings, trace, DEFAULT_DIVISIONS, lambda line: print(line, flush=True)).run())
    finally:
        emb.close()
    print()
    print("\n".join(result.summary))
    print()
    print(f"pushes delivered to agency webhooks (deduplicated): {result.pushes_delivered}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.serve import serve

    if args.host:
        settings = settings.model_copy(update={"host": args.host})
    if args.port:
        settings = settings.model_copy(update={"port": args.port})
    settings, emb = _settings_with_servers(settings)
    if args.seed_demo and cmd_seed_demo(settings, argparse.Namespace(divisions=None)) != 0:
        return 2
    try:
        return serve(settings, args.workers or settings.workers)
    finally:
        emb.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="12345 hotline backend")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API and background workers")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, choices=range(1, 65), metavar="N", help="API processes on one port")
    serve.add_argument("--seed-demo", action="store_true", help="load the 徐州 demo data first (idempotent)")
    serve.set_defaults(fn=cmd_serve)
    migrate = sub.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(fn=cmd_migrate)
    seed = sub.add_parser("seed-demo", help="load 徐州 divisions, categories, units and demo users")
    seed.add_argument("--divisions", help="division CSV (default: the bundled 徐州市 file)")
    seed.set_defaults(fn=cmd_seed_demo)
    demo = sub.add_parser("demo", help="the whole centre end to end on a fresh hotline_demo database")
    demo.add_argument("--trace", help="AMI trace to replay (default: the bundled basic.ami)")
    demo.set_defaults(fn=cmd_demo)
    imp = sub.add_parser("import-divisions", help="load a division CSV (code,name,level,parent_code)")
    imp.add_argument("file")
    imp.set_defaults(fn=cmd_import_divisions)
    cli_users.add_parser(sub)
    cli_secrets.add_parser(sub)
    cli_calendar.add_parser(sub)
    cli_figures.add_parser(sub)
    cli_calls.add_commands(sub)
    cli_city.register(sub)
    cli_open311.register(sub, _on_database)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.log_level, settings.log_json)
    try:
        return args.fn(settings, args)
    except (EmbeddedUnavailable, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""CLI commands that set a city up: ``city init``, ``units import``, ``rules import``,
``import-places``, ``vetoes import``. Registered in :func:`hotline.cli.build_parser`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from dispatch.errors import DataFileError
from hotline.config import Settings
from hotline.errors import ApiError


def _run(settings: Settings, fn: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    from hotline.cli import _on_database

    return _on_database(settings, fn)


def _report(exc: DataFileError) -> int:
    print(f"error: {exc.message}", file=sys.stderr)
    for line, problem in exc.problems[:50]:
        print(f"  line {line}: {problem}", file=sys.stderr)
    return 2


def _text(path: str | None) -> str | None:
    return Path(path).read_text(encoding="utf-8") if path else None


def cmd_city_init(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.city import init_city

    divisions, dispatch = _text(args.divisions), _text(args.dispatch)
    assert divisions is not None
    options = {"dispatch_csv": dispatch, "admin_username": args.admin, "admin_password": args.admin_password}
    try:
        r = _run(settings, lambda conn: init_city(conn, divisions, args.name, source=args.divisions, **options))
    except DataFileError as exc:
        return _report(exc)
    except ApiError as exc:  # e.g. an admin password too short
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(
        f"city {args.name} ({r.city_code}): {r.divisions} divisions, {r.categories_added} categories added, "
        f"{r.units_added} units added, {r.rules_added} dispatch rules added"
    )
    if r.admin_password:
        print(f"admin user {r.admin} created; password (shown once): {r.admin_password}")
    return 0


def cmd_places_from_jionlp(settings: Settings, args: argparse.Namespace) -> int:
    from dispatch.divisions import load_divisions
    from dispatch.jionlp_places import installed_tree, match_tree, read_tree
    from dispatch.places import upsert_places

    if not args.from_jionlp:
        print("error: give a places FILE or --from-jionlp", file=sys.stderr)
        return 2
    try:
        tree = read_tree(Path(args.jionlp_file)) if args.jionlp_file else installed_tree()
    except (FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def run(conn: asyncpg.Connection) -> str:
        m = match_tree(tree, await load_divisions(conn))
        r = await upsert_places(conn, m.places)
        unmatched = (
            f"; towns with no street of that name: {'、'.join(m.towns_unmatched[:20])}" if m.towns_unmatched else ""
        )
        return (f"{m.towns_matched} towns matched, {r.total} communities and villages: {r.inserted} new, "
                f"{r.updated} updated, {r.unchanged} unchanged{unmatched}")  # fmt: skip

    print(_run(settings, run))
    return 0


def _file_command(kind: str) -> Callable[[Settings, argparse.Namespace], int]:
    def cmd(settings: Settings, args: argparse.Namespace) -> int:
        from dispatch import imports, places, vetoes

        if kind == "places" and args.file is None:
            return cmd_places_from_jionlp(settings, args)
        path = Path(args.file)
        text = imports.read_table(path)

        async def run(conn: asyncpg.Connection) -> str:
            if kind == "units":
                r = await imports.import_units(conn, text, str(path))
                return f"{r.total} units: {r.written} new or changed, {r.unchanged} unchanged"
            if kind == "rules":
                r = await imports.import_rules(conn, text, str(path))
                return f"{r.total} rules: {r.written} added, {r.unchanged} already there"
            if kind == "places":
                p = await places.import_places(conn, path)
                return f"{p.total} places: {p.inserted} new, {p.updated} updated, {p.unchanged} unchanged"
            return f"{await vetoes.import_vetoes(conn, path)} vetoes stored"

        try:
            print(_run(settings, run))
        except DataFileError as exc:
            return _report(exc)
        return 0

    return cmd


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    city = sub.add_parser("city", help="set a city up").add_subparsers(dest="city_command", required=True)
    init = city.add_parser("init", help="divisions, categories, centre/hubs/offices, dispatch list, admin user")
    init.add_argument("--divisions", required=True, help="division CSV (code,name,level,parent_code)")
    init.add_argument("--name", required=True, help="the city's name, e.g. 南京市 (names the centre)")
    init.add_argument("--dispatch", help="starter dispatch list CSV (see dispatch/data/dispatch-template.csv)")
    init.add_argument("--admin", default="admin", help="admin username (default admin)")
    init.add_argument("--admin-password", help="admin password (default: generated and printed once)")
    init.set_defaults(fn=cmd_city_init)
    for group, kind, what in (("units", "units", "units"), ("rules", "rules", "dispatch rules")):
        imp = sub.add_parser(group, help=f"manage {what}").add_subparsers(dest=f"{group}_command", required=True)
        p = imp.add_parser("import", help=f"load {what} from CSV or XLSX (errors by line; idempotent)")
        p.add_argument("file")
        p.set_defaults(fn=_file_command(kind))
    places = sub.add_parser("import-places", help="load places CSV (name,kind,divisions,note)")
    places.add_argument("file", nargs="?")
    places.add_argument("--from-jionlp", action="store_true", help="communities and villages from JioNLP's tree")
    places.add_argument("--jionlp-file", help="china_location.zip/.txt (default: the installed jionlp package)")
    places.set_defaults(fn=_file_command("places"))
    vetoes = sub.add_parser("vetoes", help="the veto list of generated short forms").add_subparsers(
        dest="vetoes_command", required=True
    )
    v = vetoes.add_parser("import", help="load vetoes CSV (form,division_code,note)")
    v.add_argument("file")
    v.set_defaults(fn=_file_command("vetoes"))

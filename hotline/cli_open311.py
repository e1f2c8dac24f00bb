"""``hotline open311 add-client NAME`` (prints the new api_key) and ``hotline intake add-key CHANNEL``."""

from __future__ import annotations

import argparse
from typing import Any

import asyncpg

from hotline.config import Settings
from hotline.intake import keys
from hotline.secretbox import box_for


def register(sub: Any, on_database: Any) -> None:
    o311 = sub.add_parser("open311", help="Open311 GeoReport clients").add_subparsers(dest="open311", required=True)
    add = o311.add_parser("add-client", help="issue an api_key for a new client (printed once)")
    add.add_argument("name")
    add.set_defaults(fn=lambda s, a: _run(s, a, on_database, _add_client))
    intake = sub.add_parser("intake", help="signed channel intake keys").add_subparsers(dest="intake", required=True)
    key = intake.add_parser("add-key", help="issue an HMAC key for a channel (key id and secret printed once)")
    key.add_argument("channel", choices=keys.CHANNELS)
    key.set_defaults(fn=lambda s, a: _run(s, a, on_database, _add_key))


def _run(settings: Settings, args: argparse.Namespace, on_database: Any, fn: Any) -> int:
    args.box = box_for(settings)  # seals a channel secret as the server would, embedded key file included
    print(on_database(settings, lambda conn: fn(conn, args)))
    return 0


async def _add_client(conn: asyncpg.Connection, args: argparse.Namespace) -> str:
    _client_id, api_key = await keys.add_open311_client(conn, args.name)
    return api_key


async def _add_key(conn: asyncpg.Connection, args: argparse.Namespace) -> str:
    key_id, secret = await keys.add_intake_key(conn, args.channel, args.box)
    return f"{key_id} {secret}"

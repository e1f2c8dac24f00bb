"""``hotline secrets new-key|rotate``: the key that seals unit HMAC secrets at rest."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from hotline import secretbox
from hotline.config import Settings


def _run(settings: Settings, args: argparse.Namespace, on_database: Callable[..., Any] | None = None) -> int:
    if args.secrets_command == "new-key":
        print(secretbox.new_key())
        return 0
    if on_database is None:
        from hotline.cli import _on_database as on_database

    old = secretbox.box_for(settings)  # the server's key, the embedded set-up's key file included
    new = secretbox.SecretBox(args.new_key)
    count = on_database(settings, lambda conn: secretbox.rotate(conn, old, new))
    print(f"{count} unit secret(s) sealed with the new key; set HOTLINE_SECRET_KEY to it and restart every process")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("secrets", help="make or rotate the key sealing unit secrets (HOTLINE_SECRET_KEY)")
    verbs = cmd.add_subparsers(dest="secrets_command", required=True)
    verbs.add_parser("new-key", help="print a fresh key")
    rotate = verbs.add_parser(
        "rotate", help="re-seal every unit secret (from HOTLINE_SECRET_KEY or clear) under a new key"
    )
    rotate.add_argument("--new-key", required=True)
    cmd.set_defaults(fn=_run)

"""``hotline users add|disable|reset-password|unlock``: accounts without Python."""

from __future__ import annotations

import argparse
import sys

from hotline import users
from hotline.config import Settings
from hotline.errors import ApiError


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from hotline.cli import _on_database

    async def work(conn) -> str:
        if args.users_command == "add":
            user_id = await users.add_user(
                conn, args.username, args.password, args.role,
                unit_code=args.unit, display_name=args.display_name or "", actor="cli",
            )  # fmt: skip
            return f"user {args.username} created (id {user_id}, role {args.role})"
        if args.users_command == "disable":
            revoked = await users.disable(conn, args.username)
            return f"user {args.username} disabled; {revoked} token(s) revoked"
        if args.users_command == "reset-password":
            revoked = await users.reset_password(conn, args.username, args.password)
            return f"password of {args.username} reset; {revoked} token(s) revoked"
        was = await users.unlock(conn, args.username)
        return f"user {args.username} unlocked" if was else f"user {args.username} was not locked"

    try:
        print(_on_database(settings, work))
    except ApiError as exc:
        print(f"error: {exc.message} {exc.details or ''}".rstrip(), file=sys.stderr)
        return 2
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("users", help="create, disable, reset or unlock accounts")
    verbs = cmd.add_subparsers(dest="users_command", required=True)
    add = verbs.add_parser("add", help="create an account")
    add.add_argument("--username", required=True)
    add.add_argument("--password", required=True)
    add.add_argument("--role", required=True, choices=users.ROLES)
    add.add_argument("--unit", help="the unit's code (required for a handler)")
    add.add_argument("--display-name")
    for name, text in (("disable", "switch an account off and revoke its tokens"),
                       ("unlock", "lift a lockout after failed logins")):  # fmt: skip
        verbs.add_parser(name, help=text).add_argument("--username", required=True)
    reset = verbs.add_parser("reset-password", help="set a new password and revoke the account's tokens")
    reset.add_argument("--username", required=True)
    reset.add_argument("--password", required=True)
    cmd.set_defaults(fn=_run)

"""Keyset-pagination cursors: an opaque token for the (time, id) of the last row a page held.

Every listing that pages newest- or oldest-first on a (timestamp, id) pair (orders, a unit's
assignments, dead deliveries, the figures' drill-down) hands these out and takes them back.
"""

from __future__ import annotations

import base64
from datetime import datetime

from hotline.bounds import EARLIEST, INT64_MAX, LATEST
from hotline.errors import InvalidInput


class BadCursor(InvalidInput, ValueError):
    """A cursor this server did not issue: 422 through the API; also a ValueError, as the
    figures functions report every bad parameter."""


def encode(at: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{row_id}".encode()).decode()


def decode(cursor: str) -> tuple[datetime, int]:
    """The (time, id) inside ``cursor``; BadCursor for anything else, a naive time included
    (it would be compared with timestamptz columns) and values no column holds."""
    try:
        at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        if not (EARLIEST <= parsed <= LATEST and row_id.isascii() and row_id.isdigit() and len(row_id) <= 19):
            raise ValueError("out of range")
        if int(row_id) > INT64_MAX:
            raise ValueError("out of range")
        return parsed, int(row_id)
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError
        raise BadCursor("cursor is not one this server issued", {"cursor": cursor}) from None

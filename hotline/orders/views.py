"""How an order looks to whoever reads it: JSON-ready dicts, caller numbers masked for units."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from hotline.auth import Principal


def mask_phone(number: str | None) -> str | None:
    """139****1234: keep the first three and last four digits."""
    if not number:
        return number
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def row_dict(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in dict(row).items()}


def order_view(row: asyncpg.Record | dict[str, Any], viewer: Principal | None) -> dict[str, Any]:
    """The order as ``viewer`` may see it. Units never see an anonymous caller and
    see others masked unless the citizen allowed contact; None means a system view."""
    out = row_dict(row)
    if out.get("anonymous"):
        if viewer is None or not viewer.is_centre:
            out["caller_number"] = None
            out["caller_name"] = None
    elif viewer is not None and not viewer.is_centre and not out.get("contact_allowed"):
        out["caller_number"] = mask_phone(out.get("caller_number"))
    return out

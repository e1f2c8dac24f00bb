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
    """The order as ``viewer`` may see it, at most as the lead unit would (see hotline.audience
    for the finer audiences); None means a system view."""
    from hotline import audience  # audience builds on this module's helpers

    who = audience.of_staff(viewer) if viewer is not None else None
    return audience.order_view(row, who or audience.Audience.LEAD)

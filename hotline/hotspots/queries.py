"""The supervisors' list of hotspot alerts, newest first, and one alert with its orders."""

from __future__ import annotations

from typing import Any, Literal

import asyncpg
from pydantic import Field

from hotline.errors import NotFound
from hotline.orders.models import Strict


class HotspotFilter(Strict):
    status: Literal["active", "cooled"] | None = None
    limit: int = Field(default=50, ge=1, le=200)


_SELECT = """
SELECT h.*, d.name AS division_name, c.name AS category_name,
       (SELECT array_agg(ho.order_id ORDER BY ho.order_id) FROM hotspot_orders ho WHERE ho.hotspot_id = h.id)
           AS order_ids
FROM hotspots h JOIN divisions d ON d.code = h.division_code JOIN categories c ON c.code = h.category_code
"""


async def list_hotspots(conn: asyncpg.Connection, f: HotspotFilter) -> dict[str, Any]:
    rows = await conn.fetch(
        _SELECT + " WHERE ($1::text IS NULL OR h.status = $1) ORDER BY h.opened_at DESC, h.id DESC LIMIT $2",
        f.status, f.limit,
    )  # fmt: skip
    return {"items": [_view(r) for r in rows]}


async def get_hotspot(conn: asyncpg.Connection, hotspot_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(_SELECT + " WHERE h.id = $1", hotspot_id)
    if row is None:
        raise NotFound("no such hotspot", {"hotspot_id": hotspot_id})
    orders = await conn.fetch(
        """SELECT o.id, o.number, o.status, o.kind, o.address, o.created_at, left(o.content, 200) AS content
           FROM hotspot_orders ho JOIN work_orders o ON o.id = ho.order_id
           WHERE ho.hotspot_id = $1 ORDER BY o.created_at, o.id""",
        hotspot_id,
    )
    return {**_view(row), "orders": [dict(o) for o in orders]}


def _view(r: asyncpg.Record) -> dict[str, Any]:
    view = dict(r)
    view["order_ids"] = list(r["order_ids"] or [])
    view["orders_url"] = f"/api/hotspots/{r['id']}"
    return view

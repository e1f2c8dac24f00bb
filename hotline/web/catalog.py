"""What the console's forms pick from: the category tree and the units a user may send an
order to. A handler gets only the units under its own hub (for re-dispatch), never the
list of every agency with its webhook address."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from hotline.api.contract import operation, respond
from hotline.api.keys import POOL
from hotline.api.middleware import principal

routes = web.RouteTableDef()


class CatalogCategory(BaseModel):
    code: str
    name: str
    parent_code: str | None
    depth: int


class CatalogUnit(BaseModel):
    id: int
    code: str
    name: str
    level: str
    kind: str
    parent_id: int | None


class Catalog(BaseModel):
    categories: list[CatalogCategory]
    units: list[CatalogUnit]


@routes.get("/api/console/catalog")
@operation("What the console's forms pick from: categories and the units this user may send to", "console",
           response=Catalog)  # fmt: skip
async def catalog(request: web.Request) -> web.Response:
    p = principal(request)
    async with request.app[POOL].acquire() as conn:
        categories = await conn.fetch(
            "SELECT code, name, parent_code, depth FROM categories WHERE active ORDER BY code"
        )
        if p.is_centre:
            units = await conn.fetch(
                "SELECT id, code, name, level, kind, parent_id FROM units WHERE active ORDER BY level, kind, id"
            )
        else:
            units = await conn.fetch(
                "SELECT id, code, name, level, kind, parent_id FROM units WHERE active AND parent_id = $1 ORDER BY id",
                p.unit_id,
            )
    return respond(request, {"categories": [dict(c) for c in categories], "units": [dict(u) for u in units]})

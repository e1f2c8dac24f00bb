"""Setting a city up over the API: the category catalogue, city init, places and vetoes."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from dispatch import places, vetoes
from dispatch.forms import Veto
from hotline.api.body import parse, path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL
from hotline.api.middleware import ADMINS, principal, require_role
from hotline.city import init_city

routes = web.RouteTableDef()
MAX_FILE = 5_000_000  # characters of CSV in one request


class CityInitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    divisions_csv: Annotated[str, StringConstraints(min_length=1, max_length=MAX_FILE)]
    dispatch_csv: Annotated[str, StringConstraints(max_length=MAX_FILE)] | None = None


class PlacesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    places_csv: Annotated[str, StringConstraints(min_length=1, max_length=MAX_FILE)]


class NewVeto(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    division_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,12}$")] | None = None
    note: Annotated[str, StringConstraints(max_length=200)] = ""


class Category(BaseModel):
    code: str
    name: str
    parent_code: str | None
    depth: int
    active: bool


class Categories(BaseModel):
    items: list[Category]


class CityInitResult(BaseModel):
    city_code: str
    divisions: int
    categories_added: int
    units_added: int
    rules_added: int


class ImportCounts(BaseModel):
    total: int
    inserted: int
    updated: int
    unchanged: int


class Place(BaseModel):
    name: str
    kind: str
    divisions: list[str]
    note: str | None


class Places(BaseModel):
    items: list[Place]


class VetoView(BaseModel):
    id: int
    form: str
    division_code: str | None
    note: str | None


class Vetoes(BaseModel):
    items: list[VetoView]


def _admin(request: web.Request) -> None:
    require_role(request, ADMINS, "only admins set a city up")


def _veto(v: Veto) -> dict:
    return {"id": v.id, "form": v.form, "division_code": v.division_code, "note": v.note}


@routes.get("/api/categories")
@operation("The category catalogue", "city", response=Categories)
async def list_categories(request: web.Request) -> web.Response:
    principal(request)
    async with request.app[POOL].acquire() as conn:
        rows = await conn.fetch("SELECT code, name, parent_code, depth, active FROM categories ORDER BY code")
    return respond(request, {"items": [dict(r) for r in rows]})


@routes.post("/api/admin/city")
@operation("Set a city up from its division file (idempotent)", "city", body=CityInitBody, response=CityInitResult)
async def city_init(request: web.Request) -> web.Response:
    """The API twin of ``hotline city init`` (the caller is the admin, so no user is made)."""
    _admin(request)
    body = await parse(request, CityInitBody)
    async with request.app[POOL].acquire() as conn:
        r = await init_city(conn, body.divisions_csv, body.name, dispatch_csv=body.dispatch_csv, admin_username=None)
    return respond(request,
        {"city_code": r.city_code, "divisions": r.divisions, "categories_added": r.categories_added,
         "units_added": r.units_added, "rules_added": r.rules_added}
    )  # fmt: skip


@routes.post("/api/admin/places")
@operation(
    "Load gazetteer places (communities, zones, roads, landmarks …)", "city", body=PlacesBody, response=ImportCounts
)
async def import_places(request: web.Request) -> web.Response:
    _admin(request)
    body = await parse(request, PlacesBody)
    async with request.app[POOL].acquire() as conn:
        known = {r["code"]: r["level"] for r in await conn.fetch("SELECT code, level FROM divisions")}
        r = await places.upsert_places(conn, places.parse_places(body.places_csv, known, "places_csv"))
    return respond(request, {"total": r.total, "inserted": r.inserted, "updated": r.updated, "unchanged": r.unchanged})


@routes.get("/api/admin/places")
@operation("The gazetteer places", "city", response=Places)
async def list_places(request: web.Request) -> web.Response:
    _admin(request)
    async with request.app[POOL].acquire() as conn:
        found = await places.load_places(conn)
    return respond(
        request,
        {
            "items": [
                {"name": p.name, "kind": p.kind, "divisions": list(p.division_codes), "note": p.note} for p in found
            ]
        },
    )


@routes.get("/api/admin/vetoes")
@operation("Vetoed short forms", "city", response=Vetoes)
async def list_vetoes(request: web.Request) -> web.Response:
    _admin(request)
    async with request.app[POOL].acquire() as conn:
        return respond(request, {"items": [_veto(v) for v in await vetoes.list_vetoes(conn)]})


@routes.post("/api/admin/vetoes")
@operation("Veto a generated short form", "city", body=NewVeto, status=201, response=VetoView)
async def add_veto(request: web.Request) -> web.Response:
    _admin(request)
    body = await parse(request, NewVeto)
    async with request.app[POOL].acquire() as conn:
        v = await vetoes.add_veto(conn, body.form, body.division_code, body.note)
    return respond(request, _veto(v))


@routes.delete("/api/admin/vetoes/{veto_id}")
@operation("Lift a veto", "city", response=VetoView)
async def remove_veto(request: web.Request) -> web.Response:
    _admin(request)
    async with request.app[POOL].acquire() as conn:
        v = await vetoes.remove_veto(conn, path_id(request, "veto_id"))
    return respond(request, _veto(v))

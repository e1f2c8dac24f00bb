"""Repeats, duplicates and hotspots over HTTP: parsing and permission checks only.

| method | path | who | what |
| --- | --- | --- | --- |
| GET | `/api/orders/{id}/similar` | centre staff | earlier orders that may be the same matter, best first, each with `reasons` |
| POST | `/api/orders/{id}/repeat` | centre staff | link as a repeat (重复件) `{of_order_id, note?, version?}`; merging is the `merge` action |
| GET | `/api/hotspots?status=&limit=` | supervisor, admin | hotspot alerts newest first, each with its `order_ids` |
| GET | `/api/hotspots/{id}` | supervisor, admin | one alert and its orders |
"""

from __future__ import annotations

from aiohttp import web

from hotline import bus
from hotline.api import assist_schemas as asm
from hotline.api.body import parse, parse_query, path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SERVICES, SETTINGS
from hotline.api.middleware import CENTRE, SUPERVISORS, require_role
from hotline.api.schemas import Order
from hotline.hotspots import queries
from hotline.orders.views import order_view
from hotline.similar import candidates, links

routes = web.RouteTableDef()


def repeat_rules(request: web.Request) -> candidates.RepeatRules:
    s = request.app[SETTINGS]
    return candidates.RepeatRules(place_days=s.repeat_place_days, content_days=s.repeat_content_days)


@routes.get("/api/orders/{order_id}/similar")
@operation("Agent assist: similar", "agent assist", response=asm.Similar)
async def similar(request: web.Request) -> web.Response:
    require_role(request, CENTRE, "repeat candidates are for call-centre staff")
    order_id = path_id(request, "order_id")
    async with request.app[POOL].acquire() as conn:
        probe = await candidates.probe_of(conn, order_id)
        found = await candidates.find(conn, probe, repeat_rules(request))
    return respond(request, {"order_id": order_id, "items": found})


@routes.post("/api/orders/{order_id}/repeat")
@operation("Agent assist: repeat", "agent assist", body=links.RepeatLink, response=Order)
async def repeat(request: web.Request) -> web.Response:
    who = require_role(request, CENTRE, "call-centre staff link repeats")
    order_id, body = path_id(request, "order_id"), await parse(request, links.RepeatLink)
    services = request.app[SERVICES]
    async with request.app[POOL].acquire() as conn:
        updated = await links.link_repeat(conn, who, order_id, body, services.clock())
    event = {"type": "order.updated", "action": "link_repeat", "order_id": order_id, "number": updated["number"],
             "status": updated["status"], "version": updated["version"], "repeat_of": updated["repeat_of"]}  # fmt: skip
    await bus.publish(services.redis, "orders", event)
    return respond(request, order_view(updated, who))


@routes.get("/api/hotspots")
@operation("Agent assist: hotspots", "agent assist", query=queries.HotspotFilter, response=asm.Hotspots)
async def hotspots(request: web.Request) -> web.Response:
    require_role(request, SUPERVISORS, "hotspot alerts are for supervisors")
    f = parse_query(request, queries.HotspotFilter)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await queries.list_hotspots(conn, f))


@routes.get("/api/hotspots/{hotspot_id}")
@operation("Agent assist: hotspot", "agent assist", response=asm.HotspotDetail)
async def hotspot(request: web.Request) -> web.Response:
    require_role(request, SUPERVISORS, "hotspot alerts are for supervisors")
    hotspot_id = path_id(request, "hotspot_id")
    async with request.app[POOL].acquire() as conn:
        return respond(request, await queries.get_hotspot(conn, hotspot_id))

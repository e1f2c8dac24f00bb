"""HTTP handlers for work orders: parsing and permission checks only; the work is in hotline.orders."""

from __future__ import annotations

from aiohttp import web

from hotline.api import schemas as s
from hotline.api.body import json_object, parse, parse_query, path_id
from hotline.api.contract import Variant, operation, respond
from hotline.api.keys import METRICS, POOL, SERVICES
from hotline.api.middleware import principal
from hotline.errors import InvalidInput
from hotline.orders import actions, queries
from hotline.orders.models import NewOrder
from hotline.orders.states import Action

routes = web.RouteTableDef()
ACTIONS = ("action", {a.value: Variant(body, f"Order action: {a.value}") for a, body in actions.PAYLOADS.items()})


@routes.post("/api/orders")
@operation("Take in an order (受理)", "orders", response=s.Order, body=NewOrder, status=201)
async def create(request: web.Request) -> web.Response:
    data = await parse(request, NewOrder)
    order = await actions.create_order(request.app[POOL], request.app[SERVICES], principal(request), data)
    return respond(request, order)


@routes.get("/api/orders")
@operation("List orders (keyset pages, newest first)", "orders", response=s.OrderPage, query=queries.OrderFilter)
async def list_(request: web.Request) -> web.Response:
    f = parse_query(request, queries.OrderFilter, lists=("status", "kind"))
    async with request.app[POOL].acquire() as conn:
        return respond(request, await queries.list_orders(conn, principal(request), f))


@routes.get("/api/orders/{order_id}")
@operation("One order with assignments and history", "orders", response=s.OrderDetail)
async def get(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return respond(request, await queries.get_order(conn, principal(request), path_id(request, "order_id")))


@routes.get("/api/orders/by-number/{number}")
@operation("One order by its number", "orders", response=s.OrderDetail)
async def get_by_number(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        order_id = await queries.find_order_id(conn, request.match_info["number"])
        return respond(request, await queries.get_order(conn, principal(request), order_id))


@routes.post("/api/orders/{order_id}/actions/{action}")
@operation("Order action", "orders", response=s.Order, variants=ACTIONS)
async def act(request: web.Request) -> web.Response:
    try:
        action = Action(request.match_info["action"])
    except ValueError:
        raise InvalidInput(
            "unknown action", {"action": request.match_info["action"], "known": [a.value for a in Action]}
        ) from None
    payload = actions.parse_payload(action, await json_object(request))
    order = await actions.act(
        request.app[POOL], request.app[SERVICES], principal(request), path_id(request, "order_id"), action, payload
    )
    request.app[METRICS].order_actions.labels(action.value).inc()
    return respond(request, order)

"""HTTP handlers for work orders: parsing and permission checks only; the work is in hotline.orders."""

from __future__ import annotations

from aiohttp import web

from hotline import audience, writes
from hotline.api import access, idempotent
from hotline.api import schemas as s
from hotline.api.body import json_object, parse_query, path_id
from hotline.api.contract import Variant, operation, respond
from hotline.api.keys import METRICS, POOL, SERVICES
from hotline.api.middleware import principal
from hotline.errors import InvalidInput, NotFound
from hotline.orders import actions, numbers, queries
from hotline.orders.models import NewOrder
from hotline.orders.states import Action
from hotline.orders.views import order_view

routes = web.RouteTableDef()
ACTIONS = ("action", {a.value: Variant(body, f"Order action: {a.value}") for a, body in actions.PAYLOADS.items()})


@routes.post("/api/orders")
@operation("Take in an order (受理)", "orders", response=s.Order, body=NewOrder, status=201)
async def create(request: web.Request) -> web.Response:
    body = await json_object(request)
    data = NewOrder.model_validate(body)
    return await idempotent.once(request, body, await new_order(request, data))


async def new_order(request: web.Request, data: NewOrder, call_id: int | None = None) -> idempotent.Work:
    """Take in ``data`` as the caller; announced once committed. The day's number sequence is
    made ready here, before the transaction (it covers tomorrow too, so a clock read later is safe)."""
    p, services = principal(request), request.app[SERVICES]
    await numbers.prepare(request.app[POOL], services.clock())

    async def work(conn) -> idempotent.Created:
        order, sms = await actions.take_in(conn, services, p, data, call_id)
        view = order_view(order, p)
        # The agent's look at the caller, in the intake's commit: one statement with the citizen's SMS.
        await writes.together(conn, [sms, access.look(request, view)])
        return idempotent.Created(201, view, lambda: actions.order_created(services, order, p))

    return work


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
    number = request.match_info["number"]
    async with request.app[POOL].acquire() as conn:
        order_id = await queries.find_order_id(conn, number)
        try:
            return respond(request, await queries.get_order(conn, principal(request), order_id))
        except NotFound:
            # Answer as find_order_id does for a number nobody holds: the id must not leak either.
            raise NotFound("no such order", {"number": number}) from None


@routes.post("/api/orders/{order_id}/actions/{action}")
@operation("Order action", "orders", response=s.Order, variants=ACTIONS)
async def act(request: web.Request) -> web.Response:
    try:
        action = Action(request.match_info["action"])
    except ValueError:
        raise InvalidInput(
            "unknown action", {"action": request.match_info["action"], "known": [a.value for a in Action]}
        ) from None
    body = await json_object(request)
    payload = actions.parse_payload(action, body)
    p, services, order_id = principal(request), request.app[SERVICES], path_id(request, "order_id")

    async def work(conn) -> idempotent.Created:
        updated, change = await actions.act_in_transaction(conn, services, p, order_id, action, payload)
        request.app[METRICS].order_actions.labels(action.value).inc()
        who = await queries.order_audience(conn, p, order_id) or audience.Audience.FORMER
        view = audience.order_view(updated, who)
        await access.record_with(request, conn, view)
        return idempotent.Created(200, view, lambda: actions.publish_change(services, updated, change))

    return await idempotent.once(request, body, work)

"""The unit callback API: how agency systems (HMAC-signed) and handlers (bearer token)
answer the orders dispatched to them. HTTP parsing and headers only; the work is in
``hotline.agency.callbacks`` and ``hotline.agency.assignments``.

| method | path | body | what |
| --- | --- | --- | --- |
| GET | `/api/units/me` | — | the calling unit (and the key id a signed request used) |
| GET | `/api/units/me/assignments?status=&since=&limit=&cursor=` | — | assignments of the unit (a hub: and of its units), oldest change first; `since` = changed at or after; follow `next_cursor` |
| GET | `/api/units/me/assignments/{id}` | — | one assignment, its order (caller masked) and its history |
| POST | `/api/units/me/assignments/{id}/sign` | `{}` | 签收 |
| POST | `/api/units/me/assignments/{id}/reply` | `{"text", "result", "attachments": [url]}` | 回复; result: resolved, explained, partly_resolved, unresolvable |
| POST | `/api/units/me/assignments/{id}/return` | `{"reason"}` | 退单 back to the dispatcher |
| POST | `/api/units/me/assignments/{id}/extension` | `{"days", "reason"}` | ask for more time (1–15 days, once) |
| POST | `/api/units/me/assignments/{id}/notes` | `{"note"}` | progress note |
| POST | `/api/units/me/assignments/{id}/contact` | `{"note", "contacted_at"}` | the unit contacted the citizen |
| POST | `/api/units/me/assignments/{id}/review` | `{"accept", "reason"}` | hub: accept or send back its unit's reply |
| POST | `/api/units/me/assignments/{id}/extension-decision` | `{"approve", "note"}` | hub: decide its unit's extension request |

Every POST body may carry `"version"` (the order version last read) to refuse a stale write.
Every POST needs an `Idempotency-Key` header when signed (optional with a bearer token): a
repeat with the same key and body returns the first answer (header `Idempotent-Replayed:
true`) and changes nothing; the same key with another body is a 422
`idempotency_key_reused`. A failed call stores nothing, so its key may be retried.
"""

from __future__ import annotations

from aiohttp import web

from hotline.agency import idempotency
from hotline.agency.assignments import AssignmentFilter, get_assignment, list_assignments, require_unit
from hotline.agency.callbacks import OPERATIONS, Side, perform
from hotline.agency.errors import IdempotencyKeyRequired
from hotline.api import agency_auth
from hotline.api import schemas as s
from hotline.api.access import RECORDED
from hotline.api.agency_auth import signed_key
from hotline.api.body import json_object, parse_query, path_id
from hotline.api.contract import Variant, operation, respond
from hotline.api.keys import METRICS, POOL, SERVICES
from hotline.api.middleware import principal
from hotline.errors import NotFound

routes = web.RouteTableDef()
PREFIX = "/api/units/me"
ACT_ROUTE = PREFIX + "/assignments/{assignment_id}/{operation}"
assert ("POST", ACT_ROUTE) in agency_auth.NONCE_IN_TRANSACTION  # its handler claims the nonce
WHO = {Side.UNIT: "the assigned unit", Side.DISPATCHER: "the unit that dispatched the assignment (a hub)"}
CALLBACKS = (
    "operation",
    {name: Variant(op.body, op.summary, f"For {WHO[op.side]}.") for name, op in OPERATIONS.items()},
)


@routes.get(PREFIX)
@operation("The calling unit", "unit callbacks", response=s.UnitMe, signed=True)
async def me(request: web.Request) -> web.Response:
    p = principal(request)
    unit_id = require_unit(p)
    async with request.app[POOL].acquire() as conn:
        unit = await conn.fetchrow("SELECT id, code, name, level, kind, parent_id FROM units WHERE id = $1", unit_id)
    return respond(
        request, {**dict(unit), "auth": "hmac" if signed_key(request) else "bearer", "key_id": signed_key(request)}
    )


@routes.get(PREFIX + "/assignments")
@operation(
    "List my assignments (a hub: and its units')", "unit callbacks",
    response=s.AssignmentPage, query=AssignmentFilter, signed=True,
)  # fmt: skip
async def list_(request: web.Request) -> web.Response:
    f = parse_query(request, AssignmentFilter, lists=("status",))
    async with request.app[POOL].acquire() as conn:
        return respond(request, await list_assignments(conn, principal(request), f))


@routes.get(PREFIX + "/assignments/{assignment_id}")
@operation("One assignment with its order and history", "unit callbacks", response=s.AssignmentDetail, signed=True)
async def get(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return respond(request, await get_assignment(conn, principal(request), path_id(request, "assignment_id")))


@routes.post(ACT_ROUTE)
@operation(
    "Unit callback", "unit callbacks", response=s.Assignment, variants=CALLBACKS, signed=True, idempotent=True,
    headers={"Idempotent-Replayed": "true when this is the stored answer to an earlier call with the key"},
)  # fmt: skip
async def act(request: web.Request) -> web.Response:
    op = OPERATIONS.get(request.match_info["operation"])
    if op is None:
        raise NotFound("no such callback", {"operation": request.match_info["operation"], "known": sorted(OPERATIONS)})
    assignment_id = path_id(request, "assignment_id")
    key = idempotency.check_key(request.headers.get(idempotency.HEADER))
    if key is None and signed_key(request) is not None:
        raise IdempotencyKeyRequired(f"signed callbacks must send an {idempotency.HEADER} header")
    body = await json_object(request)
    nonce = agency_auth.pending_nonce(request)  # claimed in the callback's transaction: one commit
    outcome = await perform(
        request.app[POOL], request.app[SERVICES], principal(request), assignment_id, op, body,
        path=request.path, idempotency_key=key, route=ACT_ROUTE, nonce=nonce,
    )  # fmt: skip
    if nonce is not None:
        agency_auth.nonce_claimed(request)
    if outcome.looks:
        request[RECORDED] = outcome.looks  # logged in the callback's commit: the middleware does not again
    response = respond(request, outcome.body, status=outcome.status)
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        request.app[METRICS].order_actions.labels(op.action.value).inc()
    return response

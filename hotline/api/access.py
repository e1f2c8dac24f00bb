"""Who saw citizens' data: the middleware that records every unmasked look, and the
supervisors' query over it (``GET /api/audit/personal-data``)."""

from __future__ import annotations

import json

from aiohttp import web

from hotline import access_log
from hotline.api.body import json_response, parse_query
from hotline.api.keys import POOL
from hotline.api.middleware import PRINCIPAL, SUPERVISORS, Handler, require_role

routes = web.RouteTableDef()


@web.middleware
async def record_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After the handler: if the answer shows a caller's number or name unmasked, log the look
    (a failure to log fails the request: an unaccountable look is not served)."""
    response = await handler(request)
    who = request.get(PRINCIPAL)
    body = getattr(response, "body", None)
    if who is None or response.status >= 300 or not isinstance(body, bytes) or b'"caller_' not in body:
        return response
    seen = access_log.merged(access_log.shown(json.loads(body)))
    if seen:
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else request.path
        async with request.app[POOL].acquire() as conn:
            await access_log.record(conn, who, request.method, route, seen)
    return response


@routes.get("/api/audit/personal-data")
async def personal_data(request: web.Request) -> web.Response:
    require_role(request, SUPERVISORS, "the access log of citizens' data is for supervisors")
    q = parse_query(request, access_log.AccessQuery)
    async with request.app[POOL].acquire() as conn:
        return json_response(await access_log.query(conn, q))

"""``GET /api/figures/channels?from=YYYY-MM-DD&to=YYYY-MM-DD``: orders per channel and
Shanghai day (both ends included, at most 366 days); supervisors and admins only."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from hotline.api import channel_schemas as cs
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL
from hotline.api.middleware import SUPERVISORS, require_role
from hotline.errors import InvalidInput
from hotline.figures.channels import orders_per_channel
from hotline.figures.periods import between

routes = web.RouteTableDef()


@routes.get("/api/figures/channels")
@operation("Orders per channel and day (?from=&to=, Shanghai days)", "figures", response=cs.ChannelFigures)
async def channel_figures(request: web.Request) -> web.Response:
    require_role(request, SUPERVISORS, "figures are for supervisors")
    try:
        period = between(dt.date.fromisoformat(request.query["from"]), dt.date.fromisoformat(request.query["to"]))
    except KeyError:
        raise InvalidInput("send from and to (YYYY-MM-DD, Shanghai days)") from None
    except ValueError as exc:
        raise InvalidInput(str(exc), {"from": request.query.get("from"), "to": request.query.get("to")}) from None
    async with request.app[POOL].acquire() as conn:
        return respond(request, await orders_per_channel(conn, period))

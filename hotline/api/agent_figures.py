"""``GET /api/figures/agents?day=YYYY-MM-DD``: every agent's day — signed-in, busy time per
reason, talk, ringing, wrap-up, ready, occupancy and calls — with a total; supervisors and admins
only. ``day`` is a Shanghai day, today by default (then counted up to the services' clock), and
within the member history kept (HOTLINE_MEMBER_HISTORY_DAYS; older days are refused, 422)."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from pydantic import BaseModel, ConfigDict, field_validator

from adapters.ami.member_store import history_kept_from
from hotline.api import reports as r
from hotline.api.body import parse_query
from hotline.api.contract import operation, respond
from hotline.api.figures import EARLIEST, LATEST
from hotline.api.keys import POOL, SERVICES, SETTINGS
from hotline.api.middleware import SUPERVISORS, require_role
from hotline.errors import InvalidInput
from hotline.figures.agent_days import agent_days, total_of
from hotline.figures.periods import TZ, midnight

routes = web.RouteTableDef()


class AgentDaysQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: dt.date | None = None

    @field_validator("day")
    @classmethod
    def _plausible(cls, value: dt.date | None) -> dt.date | None:
        # midnight(day + 1) of 9999-12-31 would overflow into a 500; no centre has figures then.
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(f"days run from {EARLIEST} to {LATEST}")
        return value


@routes.get("/api/figures/agents")
@operation("Each agent's day: signed-in, busy per reason, talk, wrap-up, occupancy, calls", "figures",
           response=r.AgentDays, query=AgentDaysQuery)  # fmt: skip
async def agent_figures(request: web.Request) -> web.Response:
    require_role(request, SUPERVISORS, "figures are for supervisors")
    q = parse_query(request, AgentDaysQuery)
    now = request.app[SERVICES].clock()
    day = q.day or now.astimezone(TZ).date()
    keep = request.app[SETTINGS].member_history_days
    if keep and midnight(day) < history_kept_from(now, keep):
        # Pruned (adapters.ami.member_store): that day's changes are gone, its figures would be wrong.
        raise InvalidInput(
            f"the member history is kept {keep} days (HOTLINE_MEMBER_HISTORY_DAYS): {day} is older",
            {"day": str(day), "member_history_days": keep},
        )
    async with request.app[POOL].acquire() as conn:
        days = await agent_days(conn, day, now)
    return respond(request, {"day": day, "agents": [d.as_dict() for d in days], "total": total_of(days).figures()})

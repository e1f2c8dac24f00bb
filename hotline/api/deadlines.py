"""Deadlines over HTTP: the supervisor's overdue and due-soon lists, the policy presets and
their rules (admins edit, supervisors read), calendar overrides, and a preview of the
deadlines a draft order would get.

| method | path | who | what |
| --- | --- | --- | --- |
| GET | `/api/deadlines/overdue?unit_id=&clock=&limit=` | supervisor | open assignments past sign-by or reply-by, oldest first, with per-unit counts |
| GET | `/api/deadlines/due-soon?within_hours=&unit_id=&clock=&limit=` | supervisor | deadlines coming in the next hours, soonest first |
| GET | `/api/deadlines/policies` | supervisor | presets (one active) with their rules |
| POST | `/api/deadlines/policies/{preset}/rules` | admin | add a rule `{clock, amount, unit, kind?, category_prefix?, urgency?, note?}` |
| DELETE | `/api/deadlines/policies/{preset}/rules/{id}` | admin | remove a rule (a clock's catch-all rule stays) |
| POST | `/api/deadlines/policies/{preset}/activate` | admin | make a preset the one new dispatches use |
| GET | `/api/deadlines/preview?kind=&category_code=&urgency=&at=` | centre staff | the sign-by, reply-by and visit-by an order would get |
| GET | `/api/deadlines/calendar?year=` | supervisor | calendar overrides and whether official data covers the year |
| PUT | `/api/deadlines/calendar/{YYYY-MM-DD}` | admin | set a day as working or not `{workday, note}` |
| DELETE | `/api/deadlines/calendar/{YYYY-MM-DD}` | admin | drop an override |
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hotline.api import reports as r
from hotline.api.body import parse, parse_query, path_id
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, SERVICES
from hotline.api.middleware import ADMINS, CENTRE, SUPERVISORS, require_role
from hotline.bounds import EARLIEST, LATEST, Id, When
from hotline.deadlines import overdue, store
from hotline.deadlines.policy import Clock, TimeUnit
from hotline.errors import InvalidInput
from hotline.orders.models import Kind

routes = web.RouteTableDef()

CategoryCode = Annotated[str, StringConstraints(pattern=r"^([0-9]{2})+$")]
Urgency = Literal["normal", "urgent", "emergency"]


class LateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: Id | None = None
    clock: Literal["sign", "reply"] | None = None
    limit: int = Field(default=100, ge=1, le=1000)


class SoonQuery(LateQuery):
    within_hours: float = Field(default=24, gt=0, le=24 * 31)


class NewRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clock: Clock
    amount: int = Field(gt=0, le=10_000)
    unit: TimeUnit
    kind: Kind | None = None
    category_prefix: CategoryCode | None = None
    urgency: Urgency | None = None
    note: Annotated[str, StringConstraints(max_length=200)] = ""


class PreviewQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    category_code: CategoryCode | None = None
    urgency: Urgency = "normal"
    at: When | None = None


class CalendarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int | None = Field(default=None, ge=2000, le=2100)


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workday: bool
    note: Annotated[str, StringConstraints(max_length=200)] = ""


def _supervisor(request: web.Request) -> None:
    require_role(request, SUPERVISORS, "deadline views are for supervisors")


def _admin(request: web.Request) -> None:
    require_role(request, ADMINS, "only admins change deadline policies and the calendar")


def _day(request: web.Request) -> date:
    raw = request.match_info["day"]
    try:
        day = date.fromisoformat(raw) if raw.isascii() else None
    except ValueError:
        day = None
    if day is None or not EARLIEST.date() <= day <= LATEST.date():
        raise InvalidInput(f"the day must be YYYY-MM-DD, {EARLIEST.year}–{LATEST.year}", {"day": raw})
    return day


# ------------------------------------------------------------ supervisor views


@routes.get("/api/deadlines/overdue")
@operation("Open assignments past a deadline", "deadlines", response=r.Late, query=LateQuery)
async def overdue_now(request: web.Request) -> web.Response:
    _supervisor(request)
    q = parse_query(request, LateQuery)
    async with request.app[POOL].acquire() as conn:
        now = request.app[SERVICES].clock()
        result = await overdue.listing(conn, now, unit_id=q.unit_id, clock=q.clock, limit=q.limit)
    return respond(request, result)


@routes.get("/api/deadlines/due-soon")
@operation("Deadlines in the next hours", "deadlines", response=r.Late, query=SoonQuery)
async def due_soon(request: web.Request) -> web.Response:
    _supervisor(request)
    q = parse_query(request, SoonQuery)
    now = request.app[SERVICES].clock()
    async with request.app[POOL].acquire() as conn:
        until = now + timedelta(hours=q.within_hours)
        result = await overdue.listing(
            conn, now, due_from=now, due_before=until, unit_id=q.unit_id, clock=q.clock, limit=q.limit
        )
    return respond(request, result)


# ------------------------------------------------------------ policies


@routes.get("/api/deadlines/policies")
@operation("Deadline policy presets and their rules", "deadlines", response=r.PresetList)
async def list_policies(request: web.Request) -> web.Response:
    _supervisor(request)
    async with request.app[POOL].acquire() as conn:
        return respond(request, {"items": await store.presets(conn)})


@routes.post("/api/deadlines/policies/{preset}/rules")
@operation("Add a rule to a preset", "deadlines", response=r.PolicyRule, body=NewRule, status=201)
async def add_rule(request: web.Request) -> web.Response:
    _admin(request)
    body = await parse(request, NewRule)
    async with request.app[POOL].acquire() as conn:
        rule = await store.add_rule(conn, request.match_info["preset"], **body.model_dump(mode="json"))
    return respond(request, rule)


@routes.delete("/api/deadlines/policies/{preset}/rules/{rule_id}")
@operation("Remove a rule from a preset", "deadlines", response=r.PolicyRule)
async def remove_rule(request: web.Request) -> web.Response:
    _admin(request)
    async with request.app[POOL].acquire() as conn:
        rule = await store.remove_rule(conn, request.match_info["preset"], path_id(request, "rule_id"))
    return respond(request, rule)


@routes.post("/api/deadlines/policies/{preset}/activate")
@operation("Make a preset the active one", "deadlines", response=r.Activated)
async def activate(request: web.Request) -> web.Response:
    _admin(request)
    async with request.app[POOL].acquire() as conn:
        await store.activate(conn, request.match_info["preset"])
        return respond(request, {"active": request.match_info["preset"]})


@routes.get("/api/deadlines/preview")
@operation("The deadlines a dispatch would set", "deadlines", response=r.Preview, query=PreviewQuery)
async def preview(request: web.Request) -> web.Response:
    """The deadlines a dispatch at ``at`` (default now) would set, and the rules behind them."""
    require_role(request, CENTRE, "deadline previews are for call-centre staff")
    q = parse_query(request, PreviewQuery)
    at = q.at or request.app[SERVICES].clock()
    deadlines = request.app[SERVICES].deadlines
    order = {"kind": q.kind, "category_code": q.category_code, "urgency": q.urgency}
    async with request.app[POOL].acquire() as conn:
        _, dues = await deadlines.dues(conn, order, at, (Clock.SIGN, Clock.REPLY, Clock.VISIT, Clock.EXTENSION))
    limit, _ = dues.pop(Clock.EXTENSION)
    out: dict[str, object] = {"at": at}
    for clock, (rule, due_at) in dues.items():
        out[f"{clock.value}_due_at"] = due_at.isoformat()
        out[f"{clock.value}_rule"] = {"id": rule.id, "amount": rule.amount, "unit": rule.unit.value, "note": rule.note}
    out["extension_limit"] = {"amount": limit.amount, "unit": limit.unit.value}
    return respond(request, out)


# ------------------------------------------------------------ calendar


@routes.get("/api/deadlines/calendar")
@operation("Calendar overrides of a year", "deadlines", response=r.Calendar, query=CalendarQuery)
async def calendar(request: web.Request) -> web.Response:
    _supervisor(request)
    q = parse_query(request, CalendarQuery)
    deadlines = request.app[SERVICES].deadlines
    year = q.year or request.app[SERVICES].clock().astimezone(deadlines.calendar.tz).year
    async with request.app[POOL].acquire() as conn:
        items = await store.overrides(conn, year)
        cal = await deadlines.calendar_for(conn)
    return respond(request, {"year": year, "covered": cal.covered(year), "overrides": items})


@routes.put("/api/deadlines/calendar/{day}")
@operation("Set a day as working or not", "deadlines", response=r.CalendarDay, body=Override)
async def set_day(request: web.Request) -> web.Response:
    _admin(request)
    day = _day(request)
    body = await parse(request, Override)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await store.set_override(conn, day, body.workday, body.note))


@routes.delete("/api/deadlines/calendar/{day}")
@operation("Drop a calendar override", "deadlines", response=r.CalendarDay)
async def remove_day(request: web.Request) -> web.Response:
    _admin(request)
    day = _day(request)
    async with request.app[POOL].acquire() as conn:
        return respond(request, await store.remove_override(conn, day))

"""Routing suggestions for agents, and the admin API over units, the dispatch list and aliases."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from dispatch import aliases, rules, units
from dispatch.engine import RouteRequest
from dispatch.forms import Alias
from hotline import webhook_urls
from hotline.api import idempotent
from hotline.api.body import json_object, json_response, parse, parse_query, path_id
from hotline.api.keys import POOL, SERVICES, SETTINGS
from hotline.api.middleware import ADMINS, CENTRE, principal, require_role
from hotline.errors import Forbidden, NotFound
from hotline.orders import actions, queries
from hotline.orders.assignment_states import HELD, param
from hotline.orders.models import Kind

routes = web.RouteTableDef()


class RouteQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category_code: Annotated[str, StringConstraints(pattern=r"^([0-9]{2})+$")] | None = None
    kind: Kind | None = None
    address: Annotated[str, StringConstraints(max_length=500)] = ""
    division_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6,12}$")] | None = None
    content: Annotated[str, StringConstraints(max_length=4000)] = ""


class NewUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    level: Literal["city", "district", "street"]
    kind: Literal["hub", "agency", "office"] = "agency"
    parent_id: int | None = None
    division_code: str | None = None
    webhook_url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=500)] | None = None


class NewRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: int
    category_code: str | None = None
    division_prefix: Annotated[str, StringConstraints(pattern=r"^[0-9]*$", max_length=12)] = ""
    kind: Kind | None = None
    role: Literal["lead", "assist"] = "lead"
    note: Annotated[str, StringConstraints(max_length=200)] = ""


class NewAlias(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alias: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=50)]
    division_code: str
    kind: Literal["short", "former", "community", "landmark"] = "short"
    note: Annotated[str, StringConstraints(max_length=200)] = ""


class UnitQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["city", "district", "street"] | None = None
    active: bool | None = None


class RuleQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: int | None = None
    category_code: str | None = None


def _alias(a: Alias) -> dict:
    return {"id": a.id, "alias": a.alias, "division_code": a.division_code, "kind": a.kind, "note": a.note}


def _centre(request: web.Request) -> None:
    require_role(request, CENTRE, "routing is for call-centre staff")


def _admin(request: web.Request) -> None:
    require_role(request, ADMINS, "only admins change units and the dispatch list")


@routes.post("/api/route")
async def preview(request: web.Request) -> web.Response:
    """What the engine would decide for a draft order (the agent is still typing it)."""
    _centre(request)
    q = await parse(request, RouteQuery)
    router = request.app[SERVICES].router
    assert router is not None
    async with request.app[POOL].acquire() as conn:
        await router.refresh(conn)
    return json_response(router.route(RouteRequest(**q.model_dump())).as_dict())


@routes.get("/api/orders/{order_id}/route")
async def suggestion(request: web.Request) -> web.Response:
    """Where to dispatch: for the centre, the engine's unit; for a hub holding the order, the
    office under it that covers the place the engine resolved (二次派单)."""
    p = principal(request)
    async with request.app[POOL].acquire() as conn:
        order_id = path_id(request, "order_id")
        order = await conn.fetchrow("SELECT * FROM work_orders WHERE id = $1", order_id)
        if order is None or await queries.order_audience(conn, p, order_id) is None:
            raise NotFound("no such order", {"order_id": request.match_info["order_id"]})
        decision, suggested = await actions.suggest(conn, request.app[SERVICES], order)
        if not p.is_centre:
            suggested = await _below_hub(conn, p.unit_id, order["id"], decision.division_code if decision else None)
    return json_response({"dispatch_to_unit_id": suggested, "decision": decision.as_dict() if decision else None})


async def _below_hub(conn, hub_id: int | None, order_id: int, division_code: str | None) -> int | None:
    holds = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM assignments a JOIN units u ON u.id = a.unit_id
                          WHERE a.order_id = $1 AND a.unit_id = $2 AND u.kind = 'hub'
                            AND a.status = ANY($3::text[]))""",
        order_id, hub_id, param(HELD),
    )  # fmt: skip
    if not holds:
        raise Forbidden("only the hub holding this order asks where to send it down", {"order_id": order_id})
    if not division_code:
        return None
    return await conn.fetchval(
        "SELECT id FROM units WHERE parent_id = $1 AND active AND division_code = $2 ORDER BY id LIMIT 1",
        hub_id,
        division_code,
    )


@routes.get("/api/admin/units")
async def list_units(request: web.Request) -> web.Response:
    q = parse_query(request, UnitQuery)
    p = principal(request)
    async with request.app[POOL].acquire() as conn:
        found = await units.list_units(conn, level=q.level, active=q.active)
    if not p.is_centre:
        # A handler reads its own unit's settings (webhook_url included), no other unit's.
        found = [u for u in found if u.id == p.unit_id]
    return json_response({"items": [u.as_dict() for u in found]})


@routes.post("/api/admin/units")
async def add_unit(request: web.Request) -> web.Response:
    _admin(request)
    raw = await json_object(request)
    body = NewUnit.model_validate(raw)
    if body.webhook_url is not None:
        await webhook_urls.check(body.webhook_url, allow_private=request.app[SETTINGS].webhook_allow_private)

    async def work(conn) -> idempotent.Created:
        unit = await units.add_unit(
            conn, body.code, body.name, body.level, body.kind,
            parent_id=body.parent_id, division_code=body.division_code, webhook_url=body.webhook_url,
        )  # fmt: skip
        return idempotent.Created(201, unit.as_dict())

    return await idempotent.once(request, raw, work)


@routes.get("/api/admin/rules")
async def list_rules(request: web.Request) -> web.Response:
    q = parse_query(request, RuleQuery)
    async with request.app[POOL].acquire() as conn:
        found = await rules.list_rules(conn, unit_id=q.unit_id, category_code=q.category_code)
    return json_response({"items": [r.as_dict() for r in found]})


@routes.post("/api/admin/rules")
async def add_rule(request: web.Request) -> web.Response:
    _admin(request)
    raw = await json_object(request)
    body = NewRule.model_validate(raw)

    async def work(conn) -> idempotent.Created:
        return idempotent.Created(201, (await rules.add_rule(conn, **body.model_dump())).as_dict())

    return await idempotent.once(request, raw, work)


@routes.delete("/api/admin/rules/{rule_id}")
async def remove_rule(request: web.Request) -> web.Response:
    _admin(request)
    async with request.app[POOL].acquire() as conn:
        rule = await rules.remove_rule(conn, path_id(request, "rule_id"))
    return json_response(rule.as_dict())


@routes.get("/api/admin/aliases")
async def list_aliases(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        found = await aliases.list_aliases(conn, request.query.get("division_code"))
    return json_response({"items": [_alias(a) for a in found]})


@routes.post("/api/admin/aliases")
async def add_alias(request: web.Request) -> web.Response:
    _admin(request)
    raw = await json_object(request)
    body = NewAlias.model_validate(raw)

    async def work(conn) -> idempotent.Created:
        return idempotent.Created(
            201, _alias(await aliases.add_alias(conn, body.alias, body.division_code, body.kind, body.note))
        )

    return await idempotent.once(request, raw, work)


@routes.delete("/api/admin/aliases/{alias_id}")
async def remove_alias(request: web.Request) -> web.Response:
    _admin(request)
    async with request.app[POOL].acquire() as conn:
        a = await aliases.remove_alias(conn, path_id(request, "alias_id"))
    return json_response(_alias(a))

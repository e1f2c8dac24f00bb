"""The OpenAPI 3.1 document, built from the same pydantic models that validate requests,
served at ``GET /api/openapi.json``. Covers the unit callback API, the webhook pushes
units receive, the orders API, unit keys and the outbox. Operations are listed here
(method, path, models); tests check every route of those modules is listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from hotline.agency.assignments import AssignmentFilter, AssignmentStatus
from hotline.agency.callbacks import OPERATIONS, Side
from hotline.api.outbox import DeadFilter, RetryUnit
from hotline.orders import actions
from hotline.orders import models as m
from hotline.orders.queries import OrderFilter

routes = web.RouteTableDef()


# ---------------------------------------------------------------- response shapes (documentation)


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. invalid_input, signature_rejected")
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    error: ErrorDetail


class UnitOrder(BaseModel):
    """The order as a unit sees it: the caller's number masked (139****1234) unless the citizen
    allowed contact; no caller at all for anonymous orders."""

    id: int
    number: str
    kind: m.Kind
    category_code: str | None
    title: str
    content: str
    address: str
    division_code: str | None
    urgency: m.Urgency
    caller_number: str | None
    caller_name: str | None
    anonymous: bool
    contact_allowed: bool
    status: str
    version: int
    created_at: datetime


class Assignment(BaseModel):
    id: int
    order_id: int
    unit_id: int
    unit_code: str
    parent_id: int | None
    dispatcher_unit_id: int | None
    level: Literal["city", "district", "street"]
    role: Literal["lead", "assist"]
    status: AssignmentStatus
    dispatched_at: datetime
    sign_due_at: datetime | None
    reply_due_at: datetime | None
    signed_at: datetime | None
    first_contact_at: datetime | None
    replied_at: datetime | None
    reply_text: str | None
    reply_result: str | None
    reply_attachments: list[str]
    returned_at: datetime | None
    return_reason: str | None
    extension_status: Literal["requested", "approved", "denied"] | None
    extension_days: int | None
    extension_reason: str | None
    version: int
    updated_at: datetime
    order: UnitOrder


class AssignmentEvent(BaseModel):
    id: int
    action: str
    actor_unit_id: int | None
    from_status: str | None
    to_status: str | None
    payload: dict[str, Any]
    created_at: datetime


class AssignmentDetail(Assignment):
    events: list[AssignmentEvent]


class AssignmentPage(BaseModel):
    items: list[Assignment]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")


class UnitMe(BaseModel):
    id: int
    code: str
    name: str
    level: str
    kind: str
    parent_id: int | None
    auth: Literal["hmac", "bearer"]
    key_id: str | None


class Order(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    number: str
    kind: m.Kind
    status: str
    version: int
    content: str
    caller_number: str | None
    created_at: datetime


class OrderPage(BaseModel):
    items: list[Order]
    next_cursor: str | None


class IssuedKey(BaseModel):
    key_id: str
    secret: str = Field(description="shown once; store it in the agency system")
    unit_id: int
    created_at: datetime
    revoked_key_ids: list[str] = Field(description="keys revoked to keep two active")


class KeyInfo(BaseModel):
    key_id: str
    active: bool
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyList(BaseModel):
    items: list[KeyInfo]


class Delivery(BaseModel):
    id: int
    delivery_id: str
    topic: str
    order_id: int | None
    unit_id: int
    unit_code: str
    status: Literal["pending", "delivered", "dead", "skipped"]
    attempts: int
    last_status: int | None
    last_error: str | None
    target_url: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    payload: dict[str, Any]


class DeadPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None


class Retried(BaseModel):
    unit_id: int
    retried: int


class Push(BaseModel):
    """What a unit's webhook_url receives (POST, JSON, signed like callbacks, with
    X-Hotline-Delivery for deduplication). Answer 2xx once stored; anything else is retried
    with growing delays."""

    delivery_id: str = Field(description="the same on every attempt: deduplicate on it")
    unit_code: str
    created_at: datetime
    topic: Literal[
        "order.dispatched", "order.reopened", "order.reminded", "order.supervised", "order.extended",
        "order.deadline_changed", "order.deadline_warning", "order.overdue",
    ]  # fmt: skip
    assignment_id: int
    order: dict[str, Any] = Field(description="the order as the unit sees it (caller masked)")
    note: str | None = None
    sign_due_at: datetime | None = Field(default=None, description="dispatched, reopened, deadline_changed")
    reply_due_at: datetime | None = Field(default=None, description="dispatched, reopened, extended, deadline_changed")
    reason: Literal["extension_approved", "resumed"] | None = Field(
        default=None, description="deadline_changed: why the deadlines moved"
    )


# ---------------------------------------------------------------- operations


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    response: type[BaseModel] | None = None
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    signed: bool = False  # HMAC accepted besides bearer
    idempotent: bool = False  # takes Idempotency-Key
    errors: tuple[int, ...] = (400, 401, 403, 404, 409, 422)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


UNITS = "/api/units/me"


def operations() -> list[Op]:
    ops = [
        Op("GET", UNITS, "The calling unit", "unit callbacks", UnitMe, signed=True),
        Op("GET", UNITS + "/assignments", "List my assignments (a hub: and its units')", "unit callbacks",
           AssignmentPage, query=AssignmentFilter, signed=True),
        Op("GET", UNITS + "/assignments/{assignment_id}", "One assignment with its order and history",
           "unit callbacks", AssignmentDetail, signed=True),
    ]  # fmt: skip
    for op in OPERATIONS.values():
        who = "the assigned unit" if op.side is Side.UNIT else "the unit that dispatched the assignment (a hub)"
        ops.append(
            Op("POST", UNITS + "/assignments/{assignment_id}/" + op.name, op.summary, "unit callbacks", Assignment,
               request=op.body, signed=True, idempotent=True, description=f"For {who}.")
        )  # fmt: skip
    ops += [
        Op("POST", "/api/orders", "Take in an order (受理)", "orders", Order, request=m.NewOrder, status=201),
        Op("GET", "/api/orders", "List orders (keyset pages, newest first)", "orders", OrderPage, query=OrderFilter),
        Op("GET", "/api/orders/{order_id}", "One order with assignments and history", "orders", Order),
        Op("GET", "/api/orders/by-number/{number}", "One order by its number", "orders", Order),
    ]
    for action, body in actions.PAYLOADS.items():
        ops.append(
            Op("POST", f"/api/orders/{{order_id}}/actions/{action.value}", f"Order action: {action.value}",
               "orders", Order, request=body)
        )  # fmt: skip
    ops += [
        Op("GET", "/api/admin/units/{unit_id}/keys", "A unit's HMAC keys (no secrets)", "unit keys", KeyList),
        Op("POST", "/api/admin/units/{unit_id}/keys", "Issue a key (rotates: at most two active)", "unit keys",
           IssuedKey, status=201),
        Op("DELETE", "/api/admin/units/{unit_id}/keys/{key_id}", "Revoke a key", "unit keys", None, status=204),
        Op("GET", "/api/outbox/dead", "Dead webhook deliveries", "outbox", DeadPage, query=DeadFilter),
        Op("POST", "/api/outbox/{outbox_id}/retry", "Send a dead delivery again", "outbox", Delivery),
        Op("POST", "/api/outbox/retry", "Send again every dead delivery of a unit", "outbox", Retried,
           request=RetryUnit),
        Op("GET", "/api/outbox/units", "Webhook delivery health per unit", "outbox", None),
    ]  # fmt: skip
    return ops


PUSH_HEADERS = (
    "X-Hotline-Key", "X-Hotline-Timestamp", "X-Hotline-Nonce", "X-Hotline-Signature",
    "X-Hotline-Delivery", "X-Hotline-Topic", "X-Hotline-Attempt",
)  # fmt: skip
_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")

SIGNING = (
    "HMAC-SHA256 for agency systems: send X-Hotline-Key (key id), X-Hotline-Timestamp (Unix seconds, "
    "within 5 minutes), X-Hotline-Nonce (16–64 chars [A-Za-z0-9_-], never reused) and X-Hotline-Signature = "
    "hex HMAC-SHA256(secret, 'HOTLINE-HMAC-SHA256\\n' + METHOD + '\\n' + path?query + '\\n' + timestamp + '\\n' + "
    "nonce + '\\n' + Content-Type + '\\n' + Idempotency-Key + '\\n' + hex sha256(body)), the two headers as sent "
    "('' when absent). Refusals are 401 signature_rejected with details.reason."
)


def normalize(path: str) -> str:
    """aiohttp's ``{id:\\d+}`` as OpenAPI's ``{id}``."""
    return _PARAM.sub(lambda mt: "{" + mt.group(1) + "}", path)


def _param_type(name: str) -> str:
    return "integer" if name.endswith("_id") and name != "key_id" else "string"


def _query_parameters(model: type[BaseModel], schema: dict[str, Any]) -> list[dict[str, Any]]:
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": props[name]}
        for name in model.model_fields
    ]


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    ops = operations()
    models: list[type[BaseModel]] = [ErrorBody, Push]
    for op in ops:
        models += [t for t in (op.request, op.response, op.query) if t is not None]
    unique = list(dict.fromkeys(models))
    refs, top = models_json_schema([(t, "validation") for t in unique], ref_template="#/components/schemas/{model}")
    ref = {t: refs[(t, "validation")] for t in unique}
    defs = top.get("$defs", {})
    # Query models become parameters; their own schema stays in components for the $refs inside.
    query_schemas = {op.query: defs[ref[op.query]["$ref"].rsplit("/", 1)[1]] for op in ops if op.query is not None}
    error_response = {"description": "error", "content": {"application/json": {"schema": ref[ErrorBody]}}}
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        path = normalize(op.path)
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": _param_type(name)}}
            for name in _PARAM.findall(op.path)
        ]
        if op.query is not None:
            params += _query_parameters(op.query, query_schemas[op.query])
        if op.idempotent:
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "required when signed: a repeat with the same key and body returns the first "
                    "answer; the same key with another body is 422 idempotency_key_reused",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                }
            )
        ok: dict[str, Any] = {"description": "OK"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": ref[op.response]}}
        entry: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
            "parameters": params,
            "responses": {str(op.status): ok, **{str(code): error_response for code in op.errors}},
            "security": [{"bearer": []}, {"hmac": []}] if op.signed else [{"bearer": []}],
        }
        if op.description:
            entry["description"] = op.description
        if op.request is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref[op.request]}}}
        paths.setdefault(path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "12345 hotline API",
            "version": "1",
            "description": "Work orders for call-centre staff; the unit callback API for agency systems and "
            "handlers; signed webhook pushes to agencies.",
        },
        "paths": paths,
        "webhooks": {
            "orderPush": {
                "post": {
                    "summary": "A push to a unit's webhook_url (one of the topics below)",
                    "parameters": [
                        {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                        for h in PUSH_HEADERS
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": ref[Push]}}},
                    "responses": {"200": {"description": "stored (any 2xx)"}},
                    "security": [{"hmac": []}],
                }
            }
        },
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "POST /api/auth/login"},
                "hmac": {"type": "apiKey", "in": "header", "name": "X-Hotline-Signature", "description": SIGNING},
            },
        },
    }


@routes.get("/api/openapi.json")
async def serve(request: web.Request) -> web.Response:
    return web.json_response(document())

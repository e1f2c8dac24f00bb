"""The OpenAPI document: served without a token, lists every route of the unit callback,
orders, keys and outbox modules, and its schemas are the models that validate requests."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp import web

from hotline.agency.callbacks import OPERATIONS
from hotline.api import agency_auth, openapi, orders, outbox, units
from hotline.orders import models as m
from hotline.orders.states import Action
from tests.webhook_helpers import callback_server


def _routes(table: web.RouteTableDef) -> set[tuple[str, str]]:
    out = set()
    for route in table:
        assert isinstance(route, web.RouteDef)
        path = openapi.normalize(route.path)
        if path.endswith("/{operation}"):
            out |= {(route.method, path.replace("{operation}", name)) for name in OPERATIONS}
        elif path.endswith("/actions/{action}"):
            out |= {(route.method, path.replace("{action}", a.value)) for a in Action}
        else:
            out.add((route.method, path))
    return out


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


async def test_the_document_is_public_and_covers_every_route(seeded_database_url: str, redis_url: str) -> None:
    async with callback_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        async with session.get(base + "/api/openapi.json") as r:
            assert r.status == 200 and r.content_type == "application/json"
            doc = await r.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    for module in (units, agency_auth, outbox, orders):
        missing = _routes(module.routes) - documented
        assert not missing, f"{module.__name__} routes missing from the OpenAPI document: {sorted(missing)}"
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    json.dumps(doc)  # plain JSON all the way down


def test_request_schemas_are_the_validating_models() -> None:
    doc = openapi.document()
    reply_op = doc["paths"]["/api/units/me/assignments/{assignment_id}/reply"]["post"]
    assert reply_op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Reply"}
    reply = doc["components"]["schemas"]["Reply"]
    assert set(reply["properties"]) == set(m.Reply.model_fields)
    assert reply["required"] == ["text"] and reply["additionalProperties"] is False
    assert reply["properties"]["result"]["enum"] == ["resolved", "explained", "partly_resolved", "unresolvable"]
    assert {p["name"] for p in reply_op["parameters"]} == {"assignment_id", "Idempotency-Key"}
    assert reply_op["security"] == [{"bearer": []}, {"hmac": []}]
    listing = doc["paths"]["/api/units/me/assignments"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"status", "since", "limit", "cursor"}
    assert "orderPush" in doc["webhooks"]

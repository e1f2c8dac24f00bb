"""The OpenAPI document is generated from the route table: every route is in it, it is valid
OpenAPI 3.1, its request schemas are the models that validate requests, every push topic the
code queues is a webhook, and answers are serialized through the declared response models."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from openapi_spec_validator import validate
from pydantic import BaseModel

from hotline.api import openapi
from hotline.api.app import create_app
from hotline.api.contract import operation, respond
from hotline.api.middleware import errors
from hotline.api.pushes import PUSHES, topic_of
from hotline.config import Settings
from hotline.orders import models as m
from tests.api_helpers import running_server

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def app() -> web.Application:
    return create_app(Settings(database_url="postgresql://unused/unused", redis_url="redis://unused"))


@pytest.fixture(scope="module")
def doc(app: web.Application) -> dict[str, Any]:
    return openapi.build(app)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_route_of_the_app_is_in_the_document(app: web.Application, doc: dict[str, Any]) -> None:
    routes = list(openapi.documented_routes(app))
    assert len(routes) >= 50
    undeclared = sorted(f"{method} {path}" for method, path, c in routes if c is None)
    assert not undeclared, f"routes without @operation (so missing from /api/openapi.json): {undeclared}"
    for method, path, c in routes:
        assert c is not None
        if c.variants is None:
            assert method.lower() in doc["paths"][path], f"{method} {path}"
            continue
        name, variants = c.variants
        for value in variants:
            assert method.lower() in doc["paths"][path.replace("{" + name + "}", value)], f"{method} {path} {value}"


def test_a_route_without_a_contract_fails_the_coverage_check(app: web.Application) -> None:
    extra = web.Application()

    async def undocumented(_request: web.Request) -> web.Response:
        return web.Response()

    extra.router.add_get("/api/new-thing", undocumented)
    assert [(m_, p) for m_, p, c in openapi.documented_routes(extra) if c is None] == [("GET", "/api/new-thing")]


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises OpenAPIValidationError with the path of what is wrong
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    json.dumps(doc)  # plain JSON all the way down


def test_every_error_is_declared_with_the_error_shape(doc: dict[str, Any]) -> None:
    error = doc["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error"]
    assert set(doc["components"]["schemas"]["ErrorDetail"]["required"]) == {"code", "message", "details"}
    orders = doc["paths"]["/api/orders"]["post"]["responses"]
    assert set(orders) >= {"201", "400", "401", "403", "413", "422", "503"}
    assert orders["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_request_schemas_are_the_validating_models(doc: dict[str, Any]) -> None:
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
    login = doc["paths"]["/api/auth/login"]["post"]
    assert login["security"] == [] and login["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Token"
    }
    figures = {p["name"] for p in doc["paths"]["/api/figures"]["get"]["parameters"]}
    assert {"from", "to", "group", "period", "date"} <= figures
    dispatch = doc["paths"]["/api/orders/{order_id}/actions/dispatch"]["post"]
    assert dispatch["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Dispatch"}


def test_every_topic_the_code_queues_is_a_webhook(doc: dict[str, Any]) -> None:
    """The topics are the ``order.*`` strings of the modules that write the outbox; the live
    desktop event ``order.updated`` goes over Redis, not to units' systems."""
    sources = [p for p in (ROOT / "hotline").rglob("*.py") if "api" not in p.parts]
    queued = {t for p in sources for t in re.findall(r'"(order\.[a-z_]+)"', p.read_text())} - {"order.updated"}
    assert len(queued) >= 7
    assert queued <= set(doc["webhooks"]), queued - set(doc["webhooks"])
    assert {topic_of(p) for p in PUSHES} == set(doc["webhooks"])
    extended = doc["webhooks"]["order.extended"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert extended == {"$ref": "#/components/schemas/Extended"}
    assert "reply_due_at" in doc["components"]["schemas"]["Extended"]["required"]


async def test_the_document_is_served_without_a_token(seeded_database_url: str, redis_url: str) -> None:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        async with session.get(base + "/api/openapi.json") as r:
            assert r.status == 200 and r.content_type == "application/json"
            served = await r.json()
    assert served["openapi"] == "3.1.0" and "/api/figures/trend" in served["paths"]


class Shape(BaseModel):
    id: int
    name: str


async def _serve(handler: Any) -> tuple[int, Any]:
    app = web.Application(middlewares=[errors])
    app.router.add_get("/x", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/x") as r:
            return r.status, await r.json()
    finally:
        await runner.cleanup()


async def test_answers_go_through_the_response_model() -> None:
    @operation("x", "test", response=Shape, status=201)
    async def good(request: web.Request) -> web.Response:
        return respond(request, {"id": "7", "name": "n", "secret": "not in the model"})

    @operation("x", "test", response=Shape)
    async def drifted(request: web.Request) -> web.Response:
        return respond(request, {"id": 7})

    assert await _serve(good) == (201, {"id": 7, "name": "n"})
    status, body = await _serve(drifted)
    # The handler broke its own contract: our bug, logged, a plain 500 (not a 422 blaming the client).
    assert status == 500 and body["error"]["code"] == "internal"

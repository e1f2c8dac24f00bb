"""The OpenAPI 3.1 document, generated from the app's route table: each route's handler
carries its ``Contract`` (``hotline.api.contract``), whose pydantic models give the schemas.
Push payloads (``hotline.api.pushes``) are the document's ``webhooks``. Served at
``GET /api/openapi.json``; ``tests/test_openapi.py`` fails when a route has no contract.

A small generator of our own rather than a library: the aiohttp OpenAPI packages
(aiohttp-apispec, aiohttp-pydantic …) either target pydantic 1 / marshmallow or own the
handler signature; ours reads the decorators and ``models_json_schema``, ~150 lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from hotline.api.contract import Contract, contract_of, is_browser_page, operation
from hotline.api.pushes import PUSHES, topic_of
from hotline.api.schemas import ErrorBody
from hotline.bounds import INT64_MAX

routes = web.RouteTableDef()
Mode = Literal["validation", "serialization"]
DOCUMENT = web.AppKey("openapi_document", dict)

PUSH_HEADERS = (
    "X-Hotline-Key", "X-Hotline-Timestamp", "X-Hotline-Nonce", "X-Hotline-Signature",
    "X-Hotline-Delivery", "X-Hotline-Topic", "X-Hotline-Attempt",
)  # fmt: skip
_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
REF = "#/components/schemas/{model}"
# Path parameters that are not ids; ids are integers a bigint holds.
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "day": {"type": "string", "format": "date"},
    "preset": {"type": "string", "pattern": "^[a-z0-9_-]{1,40}$"},
    "key_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    "number": {"type": "string", "pattern": "^[0-9]{8}-[0-9]{6}$"},
}

SIGNING = (
    "HMAC-SHA256 for agency systems: send X-Hotline-Key (key id), X-Hotline-Timestamp (Unix seconds, "
    "within 5 minutes), X-Hotline-Nonce (16–64 chars [A-Za-z0-9_-], never reused) and X-Hotline-Signature = "
    "hex HMAC-SHA256(secret, 'HOTLINE-HMAC-SHA256\\n' + METHOD + '\\n' + path?query + '\\n' + timestamp + '\\n' + "
    "nonce + '\\n' + Content-Type + '\\n' + Idempotency-Key + '\\n' + hex sha256(body)), the two headers as sent "
    "('' when absent). Refusals are 401 signature_rejected with details.reason."
)


def normalize(path: str) -> str:
    """aiohttp's ``{id:[0-9]+}`` as OpenAPI's ``{id}``."""
    return _PARAM.sub(lambda mt: "{" + mt.group(1) + "}", path)


OWN_SPECIFICATIONS = ("/open311/",)


def documented_routes(app: web.Application) -> Iterator[tuple[str, str, Contract | None]]:
    """(method, path, contract) of every route a client can call (HEAD comes with GET)."""
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        # The console's pages and files are for browsers, not API clients; Open311 has its own
        # specification (GeoReport v2), formats and error shape.
        if isinstance(route.resource, web.StaticResource) or is_browser_page(route.handler):
            continue
        if route.resource.canonical.startswith(OWN_SPECIFICATIONS):
            continue
        yield route.method, normalize(route.resource.canonical), contract_of(route.handler)


class _Schemas:
    """Collects models; one ``models_json_schema`` call gives every $ref and the components."""

    def __init__(self) -> None:
        self.models: list[tuple[type[BaseModel], Mode]] = []
        self.defs: dict[str, Any] = {}  # from query models, whose fields became parameters

    def ref(self, t: Any, mode: Mode = "serialization") -> dict[str, Any]:
        """A placeholder now, the schema once ``resolve`` ran: requests are described as they
        validate, responses as they serialize (models may also be lists or unions)."""
        if isinstance(t, type) and issubclass(t, BaseModel):
            self.models.append((t, mode))
            return {"$model": (t, mode)}
        return {"$inline": (t, mode)}

    def resolve(self, doc: Any) -> tuple[Any, dict[str, Any]]:
        unique = list(dict.fromkeys(self.models))
        refs, top = models_json_schema(unique, ref_template=REF)
        defs = {**self.defs, **top.get("$defs", {})}

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                if "$model" in node:
                    return refs[node["$model"]]
                if "$inline" in node:
                    t, mode = node["$inline"]
                    schema = TypeAdapter(t).json_schema(mode=mode, ref_template=REF)
                    defs.update(schema.pop("$defs", {}))
                    return schema
                return {k: walk(v) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        return walk(doc), defs


def _path_parameters(path: str, fixed: str | None) -> list[dict[str, Any]]:
    params = []
    for name in _PARAM.findall(path):
        if name == fixed:
            continue
        schema: dict[str, Any] = PATH_SCHEMAS.get(name, {"type": "string", "minLength": 1})
        if name.endswith("_id") and name != "key_id":
            schema = {"type": "integer", "minimum": 1, "maximum": INT64_MAX}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query_parameters(model: type[BaseModel], schemas: _Schemas) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    defs = schema.get("$defs", {})
    schemas.defs.update(defs)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        if "$ref" in prop:
            prop = {k: v for k, v in defs[prop["$ref"].rsplit("/", 1)[1]].items() if k != "title"}
        out.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return out


def _operation(method: str, path: str, c: Contract, schemas: _Schemas, summary: str, body: Any, fixed: str | None):
    params = _path_parameters(path, fixed)
    if c.query is not None:
        params += _query_parameters(c.query, schemas)
    if c.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "required when signed: a repeat with the same key and body returns the first "
                "answer; the same key with another body is 422 idempotency_key_reused",
                "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"},
            }
        )
    ok: dict[str, Any] = {"description": "OK"}
    if c.response is not None:
        ok["content"] = {c.media: {"schema": schemas.ref(c.response)}}
    elif c.media != "application/json":
        ok["content"] = {c.media: {"schema": {"type": "string"}}}
    if c.headers:
        ok["headers"] = {name: {"description": d, "schema": {"type": "string"}} for name, d in c.headers.items()}
    error = {"description": "error", "content": {"application/json": {"schema": schemas.ref(ErrorBody)}}}
    entry: dict[str, Any] = {
        "summary": summary,
        "tags": [c.tag],
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "parameters": params,
        "responses": {str(c.status): ok, **{str(code): error for code in c.errors if code != c.status}},
        "security": [] if c.public else ([{"bearer": []}, {"hmac": []}] if c.signed else [{"bearer": []}]),
    }
    if c.description:
        entry["description"] = c.description
    if body is not None:
        entry["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(body, "validation")}},
        }
    return entry


def build(app: web.Application) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for method, path, c in documented_routes(app):
        if c is None:
            continue
        if c.variants is None:
            paths.setdefault(path, {})[method.lower()] = _operation(method, path, c, schemas, c.summary, c.body, None)
            continue
        name, variants = c.variants
        for value, v in variants.items():
            concrete = path.replace("{" + name + "}", value)
            entry = _operation(method, concrete, c, schemas, v.summary, v.body, name)
            if v.description:
                entry["description"] = v.description
            paths.setdefault(concrete, {})[method.lower()] = entry
    webhooks = {
        topic_of(push): {
            "post": {
                "summary": (push.__doc__ or topic_of(push)).strip().splitlines()[0],
                "parameters": [
                    {"name": h, "in": "header", "required": True, "schema": {"type": "string"}} for h in PUSH_HEADERS
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": schemas.ref(push)}}},
                "responses": {"200": {"description": "stored (any 2xx)"}},
                "security": [{"hmac": []}],
            }
        }
        for push in PUSHES
    }
    (paths, webhooks), defs = schemas.resolve([paths, webhooks])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "12345 hotline API",
            "version": "1",
            "description": "Work orders for call-centre staff; the unit callback API for agency systems and "
            "handlers; signed webhook pushes to agencies. Every error is "
            '{"error": {"code", "message", "details"}}.',
        },
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "POST /api/auth/login"},
                "hmac": {"type": "apiKey", "in": "header", "name": "X-Hotline-Signature", "description": SIGNING},
            },
        },
    }


def setup(app: web.Application) -> None:
    app[DOCUMENT] = {}  # filled on the first request, once every route is added
    app.add_routes(routes)


@routes.get("/api/openapi.json")
@operation("This document (OpenAPI 3.1)", "meta", public=True, errors=())
async def serve(request: web.Request) -> web.Response:
    cache = request.app[DOCUMENT]
    if not cache:
        cache.update(build(request.app))
    return web.json_response(cache)

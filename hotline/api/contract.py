"""Each route's contract, declared on its handler: the request body, query and response
models, the success status and who may call it. ``hotline.api.openapi`` builds the document
from these, walking the app's route table; ``respond`` serializes every answer through the
declared response model, so what the document says is what the server sends.

    @routes.get("/api/orders/{order_id}")
    @operation("One order", "orders", response=Order)
    async def get(request): ...
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

log = logging.getLogger(__name__)
H = TypeVar("H", bound=Callable[..., Any])
ATTRIBUTE = "__contract__"
PAGE = "__browser_page__"
ERRORS = (400, 401, 403, 404, 409, 413, 422, 503)


@dataclass(frozen=True)
class Variant:
    """One value of a path parameter that names an operation (``/actions/{action}``),
    documented as a path of its own with its own body."""

    body: type[BaseModel] | None
    summary: str
    description: str = ""


@dataclass(frozen=True)
class Contract:
    summary: str
    tag: str
    response: Any = None  # a model (or list/union of models); None: no body
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    variants: tuple[str, Mapping[str, Variant]] | None = None  # (path parameter, value → variant)
    public: bool = False  # no token needed
    signed: bool = False  # an HMAC signature is accepted besides a bearer token
    idempotent: bool = False  # takes an Idempotency-Key header
    media: str = "application/json"
    description: str = ""
    errors: tuple[int, ...] = ERRORS
    headers: Mapping[str, str] = field(default_factory=dict)  # response headers: name → description

    @cached_property
    def adapter(self) -> TypeAdapter:
        return TypeAdapter(self.response)


def operation(summary: str, tag: str, **kwargs: Any) -> Callable[[H], H]:
    """Attach a ``Contract`` to a handler (put it under the route decorator)."""

    def attach(handler: H) -> H:
        setattr(handler, ATTRIBUTE, Contract(summary, tag, **kwargs))
        return handler

    return attach


def browser_page(handler: H) -> H:
    """Mark a handler that answers HTML to a browser (the console): not part of the JSON API's
    document, and not fuzzed against it."""
    setattr(handler, PAGE, True)
    return handler


def is_browser_page(handler: Any) -> bool:
    return getattr(handler, PAGE, False)


def contract_of(handler: Any) -> Contract | None:
    return getattr(handler, ATTRIBUTE, None)


class ResponseMismatch(RuntimeError):
    """A handler produced what its declared response model refuses: our bug, a 500."""


def respond(request: web.Request, data: Any, *, status: int | None = None) -> web.Response:
    """``data`` validated and serialized by the route's response model, with its status."""
    c = contract_of(request.match_info.handler)
    assert c is not None and c.response is not None, f"{request.path}: the route declares no response model"
    try:
        # pydantic-core writes the JSON bytes itself: no dict of plain values built first, no
        # second pass through the json module (UTF-8, not \u-escaped, as before).
        body = c.adapter.dump_json(c.adapter.validate_python(data))
    except ValidationError as exc:
        raise ResponseMismatch(f"{request.method} {request.path}: {exc}") from None
    return web.Response(body=body, status=status or c.status, content_type="application/json", charset="utf-8")

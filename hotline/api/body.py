"""Reading request bodies, query strings and path ids into pydantic models, and writing
answers through the route's declared response model (``hotline.api.contract``)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from hotline.bounds import INT64_MAX, MAX_JSON_DEPTH, control_character, out_of_bounds, too_deep
from hotline.errors import InvalidInput, MalformedBody, NotFound

M = TypeVar("M", bound=BaseModel)


def refused(errors: list[dict[str, str]]) -> InvalidInput:
    return InvalidInput("the request did not validate", {"errors": errors})


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; a clear 400 for anything else, before a deep nesting can
    exhaust the parser's recursion, and a 422 naming any field that holds what no column can."""
    raw = await request.read()
    if not raw:
        return {}
    if too_deep(raw):
        raise MalformedBody(f"the body nests deeper than {MAX_JSON_DEPTH} levels", {"max_depth": MAX_JSON_DEPTH})
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedBody("the body is not valid JSON", {"reason": str(exc)}) from None
    if not isinstance(data, dict):
        raise MalformedBody("the body must be a JSON object", {"got": type(data).__name__})
    if errors := out_of_bounds(data):
        raise refused(errors)
    return data


async def parse(request: web.Request, model: type[M]) -> M:
    return model.model_validate(await json_object(request))


def parse_query(request: web.Request, model: type[M], *, lists: tuple[str, ...] = ()) -> M:
    """Query parameters into a model; names in ``lists`` may repeat or be comma-separated."""
    data: dict[str, Any] = {}
    for key in set(request.query.keys()):
        values = request.query.getall(key)
        if key in lists:
            data[key] = [v for value in values for v in value.split(",") if v]
        else:
            data[key] = values[-1]
    return model.model_validate(data)


def check_text(request: web.Request) -> None:
    """Path and query parameters with a control character are refused (422 naming them)
    before any handler reads them."""
    errors = [
        {
            "field": f"{where}.{name}",
            "message": f"control character {bad} is not allowed",
            "type": "string_control_character",
        }
        for where, params in (("path", request.match_info.items()), ("query", request.query.items()))
        for name, value in params
        if (bad := control_character(name) or control_character(value))
    ]
    if errors:
        raise refused(errors)


def path_id(request: web.Request, name: str) -> int:
    """A numeric id from the path (``order_id`` …); anything that is not ASCII digits a bigint
    can hold (``²``, ``١٢``, 20 digits) names no record, so it is a 404 (``no such order``)."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > INT64_MAX:
        raise NotFound(f"no such {name.removesuffix('_id')}", {name: raw})
    return int(raw)


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON for answers outside the route contracts (middleware refusals); routes use ``contract.respond``."""
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False, default=str))

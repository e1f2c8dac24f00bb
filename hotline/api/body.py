"""Reading request bodies and query strings into pydantic models."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from hotline.errors import MalformedBody, NotFound

M = TypeVar("M", bound=BaseModel)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; a clear 400 for anything else."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedBody("the body is not valid JSON", {"reason": str(exc)}) from None
    if not isinstance(data, dict):
        raise MalformedBody("the body must be a JSON object", {"got": type(data).__name__})
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


def path_id(request: web.Request, name: str) -> int:
    """A numeric id from the path (``order_id`` …); anything that is not one a bigint can hold
    names no record, so it is a 404 (``no such order``), never a 500 from the database."""
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"no such {name.removesuffix('_id')}", {name: raw})
    return int(raw)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False, default=str))

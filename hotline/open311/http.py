"""The GeoReport v2 endpoints, a sub-application with the spec's error format.

Services are public. Requests and tokens need the client's ``api_key`` (issued by
``hotline open311 add-client`` or ``POST /api/admin/open311/clients``), also for reading:
a client reads the requests it submitted and nobody else's, since descriptions and
addresses are citizens' data.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from hotline.api.keys import POOL, SERVICES
from hotline.errors import ApiError
from hotline.intake import keys
from hotline.intake.service import Submission, request_hash, take_in
from hotline.open311 import views
from hotline.open311.formats import Open311Error, error, fmt_of, render
from hotline.open311.submission import new_order

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
FMT = "{fmt:(json|xml)}"
MAX_RESULTS = 1000
DEFAULT_WINDOW = timedelta(days=90)  # the spec's default when no start_date is given


@web.middleware
async def spec_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    fmt = fmt_of(request)
    try:
        return await handler(request)
    except Open311Error as exc:
        return error(exc.status, exc.description, fmt)
    except ApiError as exc:
        return error(400 if exc.status == 422 else exc.status, exc.message, fmt)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return error(400, f"{field}: {first['msg']}", fmt)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error(exc.status, exc.reason, fmt)
    except Exception:
        log.exception("open311 error", extra={"path": request.path})
        return error(500, "internal error; it has been logged", fmt)


def create() -> web.Application:
    app = web.Application(middlewares=[spec_errors])
    app.add_routes(routes)
    return app


@routes.get(f"/services.{FMT}")
async def list_services(request: web.Request) -> web.Response:
    async with request.config_dict[POOL].acquire() as conn:
        return render(await views.services(conn), request.match_info["fmt"], "services")


@routes.get(f"/services/{{code}}.{FMT}")
async def service_definition(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    async with request.config_dict[POOL].acquire() as conn:
        if not await views.is_service(conn, code):
            raise Open311Error(404, f"service_code {code} not found")
    return render(views.definition(code), request.match_info["fmt"], "service_definition")


async def _client(request: web.Request, params: Any) -> int:
    api_key = params.get("api_key") or request.query.get("api_key")
    if not api_key:
        raise Open311Error(403, "api_key is required")
    async with request.config_dict[POOL].acquire() as conn:
        client = await keys.open311_client(conn, api_key)
    if client is None:
        raise Open311Error(403, "api_key is not valid")
    return client


async def _form(request: web.Request) -> dict[str, str]:
    """The POST parameters (form-encoded as the spec says, or multipart, or a JSON object)."""
    try:
        if request.content_type == "application/json":
            data = await request.json()
            if not isinstance(data, dict):
                raise Open311Error(400, "the body must be an object of parameters")
            return {str(k): "" if v is None else str(v) for k, v in data.items()}
        return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    except (ValueError, UnicodeDecodeError):
        raise Open311Error(400, "the body could not be read as form parameters") from None


@routes.post(f"/requests.{FMT}")
async def post_request(request: web.Request) -> web.Response:
    form = await _form(request)
    client = await _client(request, form)
    async with request.config_dict[POOL].acquire() as conn:
        if not form.get("service_code") or not await views.is_service(conn, form["service_code"]):
            raise Open311Error(400, f"service_code {form.get('service_code', '')!r} is missing or not a service")
    data, extra = new_order(form)
    sub = Submission(
        order=data, source=f"open311:{client}", request_hash=request_hash(form),
        idempotency_key=request.headers.get("Idempotency-Key"), open311_client=client, **extra,
    )  # fmt: skip
    taken = await take_in(request.config_dict[POOL], request.config_dict[SERVICES], sub)
    body = [{"service_request_id": taken.order["number"], "token": taken.intake["token"],
             "service_notice": "", "account_id": form.get("account_id") or None}]  # fmt: skip
    return render(body, request.match_info["fmt"], "service_requests")


@routes.get(f"/requests.{FMT}")
async def get_requests(request: web.Request) -> web.Response:
    client = await _client(request, {})
    q = request.query
    where, args = ["i.open311_client = $1"], [client]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if q.get("service_request_id"):
        where.append(f"o.number = ANY({arg(_list(q['service_request_id']))}::text[])")  # the spec: ids win
    else:
        now = request.config_dict[SERVICES].clock()
        end = _date(q, "end_date") or now
        start = _date(q, "start_date") or end - DEFAULT_WINDOW
        where.append(f"o.created_at >= {arg(start)} AND o.created_at <= {arg(end)}")
        if q.get("service_code"):
            where.append(f"o.category_code = ANY({arg(_list(q['service_code']))}::text[])")
        if q.get("status"):
            wanted = set(_list(q["status"]))
            if not wanted <= {"open", "closed"}:
                raise Open311Error(400, "status must be open, closed or both")
            if wanted == {"open"}:
                where.append(f"NOT (o.status = ANY({arg(sorted(views.CLOSED))}::text[]))")
            elif wanted == {"closed"}:
                where.append(f"o.status = ANY({arg(sorted(views.CLOSED))}::text[])")
    sql = (
        f"{views.REQUEST_SELECT} WHERE {' AND '.join(where)} ORDER BY o.created_at DESC, o.id DESC LIMIT {MAX_RESULTS}"
    )
    async with request.config_dict[POOL].acquire() as conn:
        rows = await conn.fetch(sql, *args)
    return render([views.service_request(r) for r in rows], request.match_info["fmt"], "service_requests")


@routes.get(f"/requests/{{number:[^/.]+}}.{FMT}")
async def get_request(request: web.Request) -> web.Response:
    client = await _client(request, {})
    async with request.config_dict[POOL].acquire() as conn:
        row = await conn.fetchrow(
            f"{views.REQUEST_SELECT} WHERE o.number = $1 AND i.open311_client = $2",
            request.match_info["number"],
            client,
        )
    if row is None:
        raise Open311Error(404, f"service_request_id {request.match_info['number']} not found")
    return render([views.service_request(row)], request.match_info["fmt"], "service_requests")


@routes.get(f"/tokens/{{token:[^/.]+}}.{FMT}")
async def get_token(request: web.Request) -> web.Response:
    client = await _client(request, {})
    async with request.config_dict[POOL].acquire() as conn:
        row = await conn.fetchrow(
            """SELECT o.number, i.token FROM channel_intakes i JOIN work_orders o ON o.id = i.order_id
               WHERE i.token = $1 AND i.open311_client = $2""",
            request.match_info["token"], client,
        )  # fmt: skip
    if row is None:
        raise Open311Error(404, "token not found")
    return render([{"service_request_id": row["number"], "token": row["token"]}], request.match_info["fmt"],
                  "service_requests")  # fmt: skip


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _date(q: Any, name: str) -> datetime | None:
    if not q.get(name):
        return None
    try:
        value = datetime.fromisoformat(q[name])
    except ValueError:
        raise Open311Error(400, f"{name} must be a w3 date-time (ISO 8601)") from None
    if value.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone offset")
    return value

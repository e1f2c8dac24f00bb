"""The citizen's own status lookup: ``GET /api/public/orders/{number}?phone_tail=NNNN``.

No login: the order number and the last four digits of the number the citizen gave are
the key. The answer is the order's status, dates and — once the centre has accepted it —
the reply; never a name, a number, an address or what other people said. A wrong tail and
a missing order give the same 404 from the same single query. Lookups are throttled per
client address in Redis (shared by every process); with Redis down the lookup is a 503
rather than unthrottled.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from hotline import bus
from hotline.api import channel_schemas as cs
from hotline.api.contract import operation, respond
from hotline.api.keys import POOL, REDIS
from hotline.errors import ApiError, InvalidInput, NotFound, ServiceUnavailable

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

LIMIT, WINDOW_SECONDS = 10, 60
_TAIL = re.compile(r"^[0-9]{4}$")
STATUS_TEXT = {
    "received": "已受理", "dispatched": "办理中", "signed": "办理中", "returned": "办理中", "reopened": "重新办理中",
    "suspended": "暂停办理", "replied": "办理中", "awaiting_visit": "已答复", "visited": "已答复",
    "closed": "已办结", "resolved_directly": "已办结", "merged": "已合并办理",
}  # fmt: skip
REPLY_SHOWN = frozenset({"awaiting_visit", "visited", "closed"})


class TooManyLookups(ApiError):
    status, code = 429, "too_many_requests"


async def _throttle(request: web.Request) -> None:
    try:
        name = bus.key(request.app[REDIS], f"public-lookup:{request.remote or 'unknown'}")
        async with request.app[REDIS].pipeline(transaction=True) as pipe:
            # The window starts with the first lookup (SET NX EX; EXPIRE NX needs Redis 7).
            _, count = await pipe.set(name, 0, ex=WINDOW_SECONDS, nx=True).incr(name).execute()
    except Exception as exc:
        log.error("lookup throttle unreachable", extra={"error": type(exc).__name__})
        raise ServiceUnavailable("the lookup is unavailable; retry shortly", {"retry_after_seconds": 5}) from None
    if count > LIMIT:
        raise TooManyLookups(
            f"at most {LIMIT} lookups a minute from one address", {"retry_after_seconds": WINDOW_SECONDS}
        )


@routes.get("/api/public/orders/{number}")
@operation(
    "The citizen's own status lookup (?phone_tail=NNNN); a wrong tail looks like a missing order",
    "public",
    response=cs.PublicStatus,
    public=True,
)
async def lookup(request: web.Request) -> web.Response:
    await _throttle(request)
    tail = request.query.get("phone_tail", "")
    if not _TAIL.match(tail):
        raise InvalidInput("phone_tail must be the last four digits of your phone number")
    async with request.app[POOL].acquire() as conn:
        row = await conn.fetchrow(
            """SELECT o.number, o.status, o.created_at, o.closed_at, a.replied_at, a.reply_text, a.reply_due_at
               FROM work_orders o
               LEFT JOIN LATERAL (
                   SELECT x.replied_at, x.reply_text, x.reply_due_at FROM assignments x
                   WHERE x.order_id = o.id AND x.role = 'lead' AND x.dispatcher_unit_id IS NULL
                     AND x.status <> 'cancelled'
                   ORDER BY x.id DESC LIMIT 1) a ON true
               WHERE o.number = $1 AND o.caller_number IS NOT NULL AND right(o.caller_number, 4) = $2""",
            request.match_info["number"], tail,
        )  # fmt: skip
    if row is None:
        raise NotFound("no order with that number and phone tail")
    shown = row["status"] in REPLY_SHOWN
    return respond(
        request,
        {
            "number": row["number"],
            "status": STATUS_TEXT.get(row["status"], "办理中"),
            "received_at": row["created_at"].isoformat(),
            "reply_due_at": row["reply_due_at"].isoformat() if row["reply_due_at"] and not shown else None,
            "replied_at": row["replied_at"].isoformat() if shown and row["replied_at"] else None,
            "reply_text": row["reply_text"] if shown else None,
            "closed_at": row["closed_at"].isoformat() if row["closed_at"] else None,
        },
    )

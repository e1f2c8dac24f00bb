"""A real server with the callback, key, outbox and OpenAPI routes; a client that signs its
requests like an agency system; units with keys; orders walked to a state."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
from yarl import URL

from adapters.webhook import signing
from hotline.agency import keystore
from hotline.orders.states import Action
from tests.api_helpers import running_server
from tests.orders_helpers import SERVICES, do, new_order, unit_id

AUTO = "auto"


# The server with every route, as create_app builds it (API only: tests start the relays they need).
callback_server = running_server


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class SignedClient:
    """Signs like an agency system; every knob can be bent to make a request a test wants refused."""

    def __init__(self, session: aiohttp.ClientSession, base: str, key_id: str, secret: str) -> None:
        self.session, self.base, self.key_id, self.secret = session, base, key_id, secret
        self._n = 0

    def new_key(self) -> str:
        self._n += 1
        return f"idem-{id(self)}-{self._n}"

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        idempotency_key: str | None = AUTO,
        sign_path: str | None = None,
        sign_body: bytes | None = None,
        now: float | None = None,
        nonce: str | None = None,
        secret: str | None = None,
        key_id: str | None = None,
        headers: dict[str, str] | None = None,
        unsigned: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
    ) -> Reply:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body, ensure_ascii=False).encode())
        h = {"Content-Type": "application/json", **(headers or {})}
        if method == "POST" and idempotency_key is not None:
            h["Idempotency-Key"] = self.new_key() if idempotency_key == AUTO else idempotency_key
        signed = signing.sign_headers(
            key_id or self.key_id, secret or self.secret, method, sign_path or path,
            data if sign_body is None else sign_body, now=now, nonce=nonce,
            content_type=h["Content-Type"], idempotency_key=h.get("Idempotency-Key", ""),
        )  # fmt: skip
        h = {**h, **signed, **(unsigned or {})}  # unsigned: changed after signing, as a tamperer would
        for name in drop:
            h.pop(name, None)
        url = URL(self.base + path, encoded=True)
        async with self.session.request(method, url, data=data, headers=h) as r:
            payload = await r.json(content_type=None) if r.content_type == "application/json" else await r.text()
            return Reply(r.status, payload, dict(r.headers))

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return await self.request("POST", path, {} if body is None else body, **kw)


@dataclass(frozen=True)
class UnitKey:
    code: str
    unit_id: int
    key_id: str
    secret: str


async def issue_key(pool: asyncpg.Pool, code: str) -> UnitKey:
    uid = await unit_id(pool, code)
    async with pool.acquire() as conn:
        issued = await keystore.create_key(conn, uid)
    return UnitKey(code, uid, issued.key_id, issued.secret)


async def dispatched(pool: asyncpg.Pool, lead: str = "city.cgj", **order_fields: Any) -> tuple[int, int]:
    """(order_id, assignment_id) of a new order the centre dispatched to ``lead``."""
    order = await new_order(pool, **order_fields)
    await do(pool, "agent1001", order["id"], Action.DISPATCH, unit_id=await unit_id(pool, lead))
    aid = await pool.fetchval(
        "SELECT id FROM assignments WHERE order_id = $1 AND unit_id = $2 ORDER BY id DESC LIMIT 1",
        order["id"],
        await unit_id(pool, lead),
    )
    return order["id"], aid


async def down_to_street(pool: asyncpg.Pool) -> tuple[int, int, int]:
    """(order_id, hub assignment, street assignment): the centre to 鼓楼区's hub, the hub to 黄楼街道."""
    oid, hub_aid = await dispatched(pool, "hub.320302")
    await do(pool, "gulou", oid, Action.SIGN)
    await do(pool, "gulou", oid, Action.REDISPATCH, unit_id=await unit_id(pool, "street.320302001"))
    street_aid = await pool.fetchval("SELECT id FROM assignments WHERE order_id = $1 AND parent_id = $2", oid, hub_aid)
    return oid, hub_aid, street_aid


def assert_error(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, (reply.status, reply.body)
    assert isinstance(reply.body, dict) and set(reply.body) == {"error"}, reply.body
    assert set(reply.body["error"]) == {"code", "message", "details"}, reply.body
    assert reply.body["error"]["code"] == code, reply.body
    return reply.body["error"]


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], within: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``condition`` (sync or async) every 20 ms until true; fail the test after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


__all__ = ["SERVICES", "SignedClient", "assert_error", "callback_server", "dispatched", "issue_key"]

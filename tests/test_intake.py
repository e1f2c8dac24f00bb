"""Signed intake from our own channels: HMAC per channel key, idempotency, replay refusal,
the agents' review queue and auto-dispatch categories, against the real server."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from adapters.webhook import signing
from tests.api_helpers import Client, running_server


@dataclass
class Channel:
    """A channel's back end (the web form's server, the WeChat mini-program's back end …)."""

    session: aiohttp.ClientSession
    base: str
    name: str
    key_id: str
    secret: str

    async def send(
        self, body: Any, *, key: str | None = "k-1", headers: dict[str, str] | None = None, path: str | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        path = path or f"/api/intake/{self.name}"
        signed = headers or self.sign(path, raw, key)
        async with self.session.post(self.base + path, data=raw, headers={"Content-Type": JSON, **signed}) as r:
            return r.status, await r.json(), signed

    def sign(self, path: str, raw: bytes, key: str | None, **kw: Any) -> dict[str, str]:
        """The scheme signs Content-Type and Idempotency-Key too; the headers carry both."""
        return signing.sign_headers(
            self.key_id, self.secret, "POST", path, raw, content_type=JSON, idempotency_key=key or "", **kw
        )


JSON = "application/json"


@dataclass
class Env:
    pool: asyncpg.Pool
    base: str
    session: aiohttp.ClientSession
    admin: Client
    agent: Client

    async def channel(self, name: str) -> Channel:
        status, body = await self.admin.request("POST", "/api/admin/intake/keys", json={"channel": name})
        assert status == 201, body
        return Channel(self.session, self.base, name, body["key_id"], body["secret"])


@pytest.fixture
async def env(seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis) -> AsyncIterator[Env]:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        admin = await Client(session, base).login("admin")
        agent = await Client(session, base).login("agent1001")
        yield Env(seeded_pool, base, session, admin, agent)


FORM = {
    "kind": "complaint",
    "content": "小区门口占道经营，晚上噪声大",
    "category_code": "010101",
    "address": "鼓楼区黄楼街道中山北路88号",
    "caller_number": "13912341234",
    "caller_name": "张三",
    "photo_urls": ["https://img.example.org/a.jpg", "https://img.example.org/b.jpg"],
    "lat": 34.27,
    "long": 117.19,
}


async def test_a_signed_web_intake_waits_in_the_review_queue_with_its_suggestion(env: Env) -> None:
    web = await env.channel("web")
    status, body, _ = await web.send(FORM)
    assert status == 201 and body["status"] == "received" and body["channel"] == "web", body
    order = await env.pool.fetchrow("SELECT * FROM work_orders WHERE id = $1", body["order_id"])
    assert order["channel"] == "web" and order["status"] == "received" and order["created_by"] is None
    status, queue = await env.agent.request("GET", "/api/intake/review")
    assert status == 200
    [item] = queue["items"]
    assert item["number"] == body["number"] and item["media_urls"] == FORM["photo_urls"]
    # Routed to the street office, reached through its district hub.
    assert item["suggestion"]["suggested_unit_id"] == await env.pool.fetchval(
        "SELECT id FROM units WHERE code = 'hub.320302'"
    )
    assert item["suggestion"]["decision"]["outcome"] == "rule"
    audit = await env.pool.fetchrow("SELECT * FROM audit_events WHERE order_id = $1", order["id"])
    assert audit["action"] == "create" and audit["actor_user_id"] is None
    # An agent dispatches it as any order; then it leaves the queue.
    cgj = item["suggestion"]["suggested_unit_id"]
    status, _ = await env.agent.request("POST", f"/api/orders/{order['id']}/actions/dispatch", json={"unit_id": cgj})
    assert status == 200
    assert (await env.agent.request("GET", "/api/intake/review"))[1]["items"] == []


async def test_a_replay_is_refused_and_a_retry_gets_the_first_order(env: Env) -> None:
    web = await env.channel("web")
    status, first, headers = await web.send(FORM)
    assert status == 201
    status, body, _ = await web.send(FORM, headers=headers)  # the same signed request again
    assert status == 401 and body["error"]["details"]["reason"] == "nonce_reused"
    status, again, _ = await web.send(FORM)  # a retry: new nonce, same Idempotency-Key and body
    assert status == 200 and again["number"] == first["number"] and again["replayed"] is True
    status, body, _ = await web.send({**FORM, "content": "另一件事"})
    assert status == 409 and body["error"]["code"] == "idempotency_key_reused"
    assert await env.pool.fetchval("SELECT count(*) FROM work_orders") == 1


async def test_signatures_keys_and_bodies_refused(env: Env) -> None:
    web, app = await env.channel("web"), await env.channel("app")

    async def reason(status_body: tuple[int, Any, Any]) -> str:
        status, body, _ = status_body
        assert status == 401, body
        return body["error"]["details"]["reason"]

    raw = json.dumps(FORM).encode()
    forged = Channel(web.session, web.base, "web", web.key_id, "x" * 43).sign("/api/intake/web", raw, "k-1")
    assert await reason(await web.send(FORM, headers=forged)) == "bad_signature"
    stale = web.sign("/api/intake/web", raw, "k-1", now=time.time() - 3600)
    assert await reason(await web.send(FORM, headers=stale)) == "stale_timestamp"
    # An app key does not open the web channel.
    assert await reason(await app.send(FORM, path="/api/intake/web")) == "unknown_key"
    assert await reason(await web.send(FORM, headers={"X-Hotline-Key": web.key_id})) == "missing_header"
    status, body, _ = await web.send(FORM, key=None)
    assert status == 400 and body["error"]["code"] == "malformed_body"
    status, body, _ = await web.send(b"{not json")
    assert status == 400 and body["error"]["code"] == "malformed_body"
    status, body, _ = await web.send({**FORM, "kind": "rant", "photo_urls": ["nope"]})
    assert status == 422 and body["error"]["code"] == "invalid_input"
    status, body, _ = await web.send({**FORM, "category_code": "999999"}, key="k-2")
    assert status == 422 and body["error"]["message"] == "unknown category_code"
    status, _ = await env.admin.request("DELETE", f"/api/admin/intake/keys/{web.key_id}")
    assert status == 204
    assert await reason(await web.send(FORM, key="k-3")) == "revoked_key"
    assert await env.pool.fetchval("SELECT count(*) FROM work_orders") == 0


async def test_an_auto_dispatch_category_goes_out_without_review(env: Env) -> None:
    await env.pool.execute("UPDATE categories SET auto_dispatch = true WHERE code = '0101'")
    wechat = await env.channel("wechat")
    status, body, _ = await wechat.send(FORM)
    assert status == 201 and body["status"] == "dispatched", body
    unit = await env.pool.fetchval(
        "SELECT u.code FROM assignments a JOIN units u ON u.id = a.unit_id WHERE a.order_id = $1", body["order_id"]
    )
    assert unit == "hub.320302"
    assert (await env.agent.request("GET", "/api/intake/review"))[1]["items"] == []
    other = {**FORM, "category_code": "010201", "content": "路面塌陷"}
    status, body, _ = await wechat.send(other, key="k-2")
    assert status == 201 and body["status"] == "received"


async def test_the_review_queue_is_for_the_centre(env: Env) -> None:
    handler = await Client(env.session, env.base).login("cgj")
    assert (await handler.request("GET", "/api/intake/review"))[0] == 403
    assert (await env.agent.request("GET", "/api/intake/review?limit=0"))[0] == 422
    assert (await env.agent.request("POST", "/api/admin/intake/keys", json={"channel": "web"}))[0] == 403
    assert (await env.admin.request("POST", "/api/admin/intake/keys", json={"channel": "fax"}))[0] == 422

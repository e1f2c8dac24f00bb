"""Open311 GeoReport v2 against the real server, through a client that knows only the spec:
form-encoded POSTs, the spec's field names, its error list and its XML element names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree as ET

import aiohttp
import asyncpg
import pytest

from hotline.orders.states import Action
from tests.api_helpers import Client, running_server
from tests.orders_helpers import do, unit_id

V2 = "/open311/v2"


@dataclass
class GeoReport:
    """A GeoReport v2 client: endpoint, api_key, nothing of ours."""

    session: aiohttp.ClientSession
    endpoint: str
    api_key: str

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any, str]:
        async with self.session.request(method, self.endpoint + path, **kw) as r:
            text = await r.text()
            body: Any = ET.fromstring(text) if path.endswith(".xml") else (await r.json(content_type=None))
            return r.status, body, r.content_type

    async def post_request(self, **fields: str) -> tuple[int, Any, str]:
        return await self.call("POST", "/requests.json", data={"api_key": self.api_key, **fields})

    async def get(self, path: str, **params: str) -> tuple[int, Any, str]:
        return await self.call("GET", path, params={"api_key": self.api_key, **params})


@dataclass
class Env:
    pool: asyncpg.Pool
    client: GeoReport
    admin: Client


@pytest.fixture
async def env(seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis) -> AsyncIterator[Env]:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        admin = await Client(session, base).login("admin")
        status, body = await admin.request("POST", "/api/admin/open311/clients", json={"name": "city-app"})
        assert status == 201, body
        yield Env(seeded_pool, GeoReport(session, base + V2, body["api_key"]), admin)


REPORT = {
    "service_code": "010101",
    "address_string": "鼓楼区黄楼街道中山北路88号",
    "lat": "34.2706",
    "long": "117.1950",
    "description": "小区门口占道经营，晚上噪声大",
    "media_url": "https://img.example.org/p/1.jpg",
    "first_name": "三",
    "last_name": "张",
    "phone": "13912341234",
    "email": "zhang@example.org",
}


def assert_spec_error(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert isinstance(body, list) and body and set(body[0]) == {"code", "description"}, body
    assert body[0]["code"] == expected and body[0]["description"]


async def test_services_are_the_category_leaves_grouped_by_the_tree(env: Env) -> None:
    status, services, ctype = await env.client.call("GET", "/services.json")
    assert status == 200 and ctype == "application/json"
    by_code = {s["service_code"]: s for s in services}
    assert by_code["010101"]["service_name"] == "占道经营" and by_code["010101"]["group"] == "城乡建设"
    assert "01" not in by_code and "0101" not in by_code  # groups, not services
    assert {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"} <= set(
        by_code["010101"]
    )
    status, root, ctype = await env.client.call("GET", "/services.xml")
    assert status == 200 and ctype == "text/xml" and root.tag == "services"
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert codes == list(by_code) and root.find("service/metadata").text == "true"


async def test_service_definition_and_unknown_service(env: Env) -> None:
    status, d, _ = await env.client.call("GET", "/services/010101.json")
    assert status == 200 and d["service_code"] == "010101"
    kind = next(a for a in d["attributes"] if a["code"] == "kind")
    assert kind["datatype"] == "singlevaluelist" and {"key": "complaint", "name": "投诉"} in kind["values"]
    status, root, _ = await env.client.call("GET", "/services/010101.xml")
    assert root.tag == "service_definition" and root.find("attributes/attribute/values/value/key") is not None
    assert_spec_error(*(await env.client.call("GET", "/services/999999.json"))[:2], 404)
    status, root, _ = await env.client.call("GET", "/services/999999.xml")
    assert status == 404 and root.tag == "errors" and root.findtext("error/code") == "404"


async def test_a_request_created_listed_and_followed_through_dispatch_reply_and_visit(env: Env) -> None:
    c, pool = env.client, env.pool
    status, created, _ = await c.post_request(**REPORT)
    assert status == 200, created
    number, token = created[0]["service_request_id"], created[0]["token"]
    status, found, _ = await c.get(f"/tokens/{token}.json")
    assert status == 200 and found == [{"service_request_id": number, "token": token}]

    status, [req], _ = await c.get(f"/requests/{number}.json")
    assert status == 200
    assert req["status"] == "open" and req["service_code"] == "010101" and req["agency_responsible"] is None
    assert req["description"] == REPORT["description"] and req["media_url"] == REPORT["media_url"]
    assert (req["lat"], req["long"]) == (34.2706, 117.195) and req["address"] == REPORT["address_string"]
    assert "phone" not in req and "13912341234" not in str(req)  # the spec's request carries no contact

    order = await pool.fetchrow("SELECT * FROM work_orders WHERE number = $1", number)
    assert order["channel"] == "open311" and order["status"] == "received"
    assert (order["caller_name"], order["caller_number"], order["anonymous"]) == ("张三", "13912341234", False)
    oid, cgj = order["id"], await unit_id(pool, "city.cgj")

    await do(pool, "agent1001", oid, Action.DISPATCH, unit_id=cgj)
    _, [req], _ = await c.get(f"/requests/{number}.json")
    assert req["agency_responsible"] == "徐州市城市管理局" and req["status"] == "open"
    assert req["expected_datetime"] is not None and req["status_notes"] == "已派至承办单位"
    await do(pool, "cgj", oid, Action.SIGN)
    await do(pool, "cgj", oid, Action.REPLY, text="已清理占道摊点，并安排每日巡查")
    _, [req], _ = await c.get(f"/requests/{number}.json")
    assert req["status_notes"] == "承办单位已答复，热线审核中"  # not shown before the centre accepts it
    await do(pool, "agent1001", oid, Action.REVIEW, accept=True)
    _, [req], _ = await c.get(f"/requests/{number}.json")
    assert req["status"] == "open" and req["status_notes"] == "已清理占道摊点，并安排每日巡查"
    await do(pool, "agent1002", oid, Action.VISIT, reached=True, satisfaction="satisfied", resolved=True)
    _, [req], _ = await c.get(f"/requests/{number}.json")
    assert req["status"] == "closed"

    created_at = await pool.fetchval("SELECT created_at FROM work_orders WHERE id = $1", oid)
    window = {"start_date": (created_at - timedelta(hours=1)).isoformat(),
              "end_date": (created_at + timedelta(hours=1)).isoformat()}  # fmt: skip
    _, closed, _ = await c.get("/requests.json", status="closed", **window)
    _, still_open, _ = await c.get("/requests.json", status="open", **window)
    assert [r["service_request_id"] for r in closed] == [number] and still_open == []
    _, other_service, _ = await c.get("/requests.json", service_code="010202", **window)
    assert other_service == []
    before = {"start_date": (created_at - timedelta(days=2)).isoformat(),
              "end_date": (created_at - timedelta(days=1)).isoformat()}  # fmt: skip
    assert (await c.get("/requests.json", **before))[1] == []
    _, by_id, _ = await c.get("/requests.json", service_request_id=f"{number},20000101-000001")
    assert [r["service_request_id"] for r in by_id] == [number]
    status, root, _ = await c.get("/requests.xml", service_request_id=number)
    assert status == 200 and root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == number and root.findtext("request/status") == "closed"


async def test_anonymous_attribute_hides_the_citizen_from_units(env: Env) -> None:
    status, created, _ = await env.client.post_request(**REPORT, **{"attribute[anonymous]": "true"})
    assert status == 200, created
    order = await env.pool.fetchrow(
        "SELECT anonymous, contact_allowed FROM work_orders WHERE number = $1", created[0]["service_request_id"]
    )
    assert order["anonymous"] is True and order["contact_allowed"] is False


async def test_xml_post_and_a_retry_with_the_same_idempotency_key(env: Env) -> None:
    form = {"api_key": env.client.api_key, **REPORT}
    headers = {"Idempotency-Key": "app-req-1"}
    s1, first, _ = await env.client.call("POST", "/requests.xml", data=form, headers=headers)
    s2, again, _ = await env.client.call("POST", "/requests.xml", data=form, headers=headers)
    assert s1 == s2 == 200 and first.tag == "service_requests"
    assert first.findtext("request/service_request_id") == again.findtext("request/service_request_id")
    assert await env.pool.fetchval("SELECT count(*) FROM work_orders WHERE channel = 'open311'") == 1


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"service_code": "999999"}, 400),
        ({"service_code": ""}, 400),
        ({"address_string": "", "lat": "", "long": ""}, 400),
        ({"lat": "north", "address_string": ""}, 400),
        ({"lat": "95", "address_string": ""}, 400),
        ({"long": "", "address_string": ""}, 400),
        ({"description": ""}, 400),
        ({"phone": "call me"}, 400),
        ({"media_url": "not a url"}, 400),
        ({"attribute[kind]": "rant"}, 400),
    ],
)
async def test_bad_bodies_get_the_spec_error_list(env: Env, fields: dict[str, str], expected: int) -> None:
    status, body, _ = await env.client.post_request(**{**REPORT, **fields})
    assert_spec_error(status, body, expected)
    assert await env.pool.fetchval("SELECT count(*) FROM work_orders") == 0


async def test_api_keys_and_malformed_requests(env: Env) -> None:
    c = env.client
    no_key = await c.call("POST", "/requests.json", data=REPORT)
    assert_spec_error(*no_key[:2], 403)
    bad_key = await c.call("POST", "/requests.json", data={**REPORT, "api_key": "o311_nope"})
    assert_spec_error(*bad_key[:2], 403)
    assert_spec_error(*(await c.call("GET", "/requests.json", params={"api_key": "o311_nope"}))[:2], 403)
    not_object = await c.call("POST", "/requests.json", data=b"[1,2]", headers={"Content-Type": "application/json"})
    assert_spec_error(*not_object[:2], 400)
    broken = await c.call("POST", "/requests.json", data=b"{", headers={"Content-Type": "application/json"})
    assert_spec_error(*broken[:2], 400)
    assert_spec_error(*(await c.get("/requests.json", start_date="yesterday"))[:2], 400)
    assert_spec_error(*(await c.get("/requests.json", start_date="2026-01-01T00:00:00"))[:2], 400)
    assert_spec_error(*(await c.get("/requests.json", status="pending"))[:2], 400)
    assert_spec_error(*(await c.get("/requests/20000101-000001.json"))[:2], 404)
    assert_spec_error(*(await c.get("/tokens/nope.json"))[:2], 404)
    assert_spec_error(*(await c.call("GET", "/nothing.json"))[:2], 404)
    assert_spec_error(*(await c.call("DELETE", "/services.json"))[:2], 405)


async def test_a_client_reads_only_its_own_requests_and_a_revoked_key_stops(env: Env) -> None:
    _, created, _ = await env.client.post_request(**REPORT)
    number = created[0]["service_request_id"]
    status, other = await env.admin.request("POST", "/api/admin/open311/clients", json={"name": "other"})
    snoop = GeoReport(env.client.session, env.client.endpoint, other["api_key"])
    assert_spec_error(*(await snoop.get(f"/requests/{number}.json"))[:2], 404)
    assert (await snoop.get("/requests.json", service_request_id=number))[1] == []
    dup = await env.admin.request("POST", "/api/admin/open311/clients", json={"name": "other"})
    assert dup[0] == 409
    status, _ = await env.admin.request("DELETE", f"/api/admin/open311/clients/{other['id']}")
    assert status == 204
    assert_spec_error(*(await snoop.post_request(**REPORT))[:2], 403)
    agent = await Client(env.client.session, env.admin.base).login("agent1001")
    assert (await agent.request("POST", "/api/admin/open311/clients", json={"name": "x"}))[0] == 403

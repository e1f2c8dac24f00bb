"""Every route × every audience: no citizen identity where it is masked, and whatever a unit
may not see answers exactly as a missing thing does.

Four orders (masked, anonymous, contact allowed, and one a unit returned and a hub
re-dispatched down) and seven readers (agent, supervisor, admin, the lead unit, an assisting
unit, the hub, the street office). Every GET route of the app is called with every order,
assignment and call id it can take (and a missing one); every POST on an order or an
assignment is called by the units that have no part in it. Each answer is searched for the
identity strings its reader may not see; hidden answers are compared with the missing ones.
Pushes (outbox payloads), live bus events, the CSV export and the access log are checked too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from hotline import bus, users
from hotline.agency.callbacks import OPERATIONS
from hotline.api.app import create_app
from hotline.config import Settings
from hotline.orders import actions
from hotline.orders import models as m
from hotline.orders.states import Action
from tests.api_helpers import Client, running_server
from tests.orders_helpers import who
from tests.webhook_helpers import SignedClient, issue_key

MISSING = 987654321
ORDERS = {
    "masked": {"caller_number": "13900001111", "caller_name": "王小明", "contact_allowed": False},
    "anonymous": {"caller_number": "13900002222", "caller_name": "李匿名", "anonymous": True},
    "contact": {"caller_number": "13900003333", "caller_name": "赵可联", "contact_allowed": True},
    "returned": {"caller_number": "13900004444", "caller_name": "钱退单", "contact_allowed": True},
}
STAFF = ("agent1001", "supervisor", "admin")
UNITS = ("cgj", "zjj", "gulou", "huanglou")
SYSTEM = "cgj-system"  # city.cgj's own software, signing with its HMAC key
# What each unit is on each order (None: no part in it).
PART: dict[str, dict[str, str | None]] = {
    "masked": {"cgj": "lead", "zjj": "assist", "gulou": None, "huanglou": None},
    "anonymous": {"cgj": "lead", "zjj": "assist", "gulou": None, "huanglou": None},
    "contact": {"cgj": "lead", "zjj": "assist", "gulou": None, "huanglou": None},
    "returned": {"cgj": "former", "zjj": None, "gulou": "former", "huanglou": "lead"},
}


def masked_number(n: str) -> str:
    return n[:3] + "****" + n[-4:]


def forbidden(order: str, part: str | None) -> list[str]:
    """The identity strings of ``order`` a reader with ``part`` may not see (staff: part 'staff')."""
    o = ORDERS[order]
    full = [o["caller_number"], o["caller_name"]]
    partial = [masked_number(o["caller_number"]), o["caller_name"][0] + "*"]
    if part == "staff":
        return []
    if part is None or part == "former" or o.get("anonymous"):
        return full + partial
    if part == "lead" and o.get("contact_allowed"):
        return []
    return full


@dataclass
class World:
    orders: dict[str, dict[str, Any]]  # name -> order row as dict
    assignments: list[asyncpg.Record]
    call_id: int
    unit_of: dict[str, int]


async def _build(pool: asyncpg.Pool, redis: aioredis.Redis) -> World:
    services = actions.Services(redis=redis)
    async with pool.acquire() as conn:
        await users.add_user(conn, "zjj", "zjj-password", "handler", unit_code="city.zjj")
    unit_of = {u: await pool.fetchval("SELECT unit_id FROM users WHERE username = $1", u) for u in UNITS}
    await pool.execute("UPDATE units SET webhook_url = 'http://127.0.0.1:9/hook' WHERE id = ANY($1::bigint[])",
                       list(unit_of.values()))  # fmt: skip

    async def do(user: str, oid: int, action: Action, **body: Any) -> None:
        await actions.act(pool, services, await who(pool, user), oid, action, actions.parse_payload(action, body))

    call_id = await pool.fetchval(
        """INSERT INTO calls (node, linkedid, caller_number, caller_name, queue, entered_at, state)
           VALUES ('pbx1', 'matrix-1', $1, $2, 'hotline', now(), 'ended') RETURNING id""",
        ORDERS["masked"]["caller_number"], ORDERS["masked"]["caller_name"],
    )  # fmt: skip
    agent = await who(pool, "agent1001")
    orders = {}
    for name, fields in ORDERS.items():
        data = m.NewOrder(kind="complaint", content="小区门口占道经营，晚上噪声大", category_code="010101",
                          address="鼓楼区黄楼街道中山北路88号", division_code="320302001", **fields)  # fmt: skip
        oid = (await actions.create_order(pool, services, agent, data, call_id if name == "masked" else None))["id"]
        if name == "returned":
            await do("agent1001", oid, Action.DISPATCH, unit_id=unit_of["cgj"])
            await do("cgj", oid, Action.RETURN, reason="不属于本单位职责")
            await do("agent1001", oid, Action.DISPATCH, unit_id=unit_of["gulou"])
            await do("gulou", oid, Action.SIGN)
            await do("gulou", oid, Action.REDISPATCH, unit_id=unit_of["huanglou"])
            await do("huanglou", oid, Action.SIGN)
            await do("huanglou", oid, Action.CONTACT, note="已电话联系市民")
        else:
            await do("agent1001", oid, Action.DISPATCH, unit_id=unit_of["cgj"], assist_unit_ids=[unit_of["zjj"]])
            await do("cgj", oid, Action.SIGN)
            await do("zjj", oid, Action.SIGN)
            await do("zjj", oid, Action.NOTE, note="协办意见已提交")
            await do("agent1001", oid, Action.REMIND, note="请尽快处理")
        # An event written before creates stopped copying the caller (the whole body, identity included).
        await pool.execute(
            "INSERT INTO audit_events (order_id, action, payload) VALUES ($1, 'create', $2)",
            oid, {"caller_number": fields["caller_number"], "caller_name": fields["caller_name"], "kind": "complaint"},
        )  # fmt: skip
        orders[name] = dict(await pool.fetchrow("SELECT * FROM work_orders WHERE id = $1", oid))
    assignments = await pool.fetch("SELECT * FROM assignments ORDER BY id")
    return World(orders, list(assignments), call_id, unit_of)


def _urls(app_routes: list[tuple[str, str]], world: World) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, what it names) for every route and every id it can take."""
    names = {o["id"]: n for n, o in world.orders.items()}
    fills: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "order_id": [(str(i), {"order": names[i]}) for i in names] + [(str(MISSING), {"missing": "order_id"})],
        "number": [(o["number"], {"order": n}) for n, o in world.orders.items()]
        + [("20000101-999999", {"missing": "number"})],
        "assignment_id": [(str(a["id"]), {"assignment": a}) for a in world.assignments]
        + [(str(MISSING), {"missing": "assignment_id"})],
        "call_id": [(str(world.call_id), {"call": True}), (str(MISSING), {"missing": "call_id"})],
        "unit_id": [(str(u), {}) for u in world.unit_of.values()],
        "action": [(a.value, {"action": a}) for a in Action],
        "operation": [(op, {"operation": op}) for op in OPERATIONS],
        "preset": [("default", {})], "day": [("2026-10-01", {})], "key_id": [("hk_0000000000000000", {})],
        "rule_id": [("1", {})], "alias_id": [("1", {})], "veto_id": [("1", {})], "outbox_id": [("1", {})],
        "article_id": [("1", {})], "hotspot_id": [("1", {})],
        "channel": [("web", {})], "client_id": [("1", {})],
    }  # fmt: skip
    out: list[tuple[str, str, dict[str, Any]]] = []
    for method, pattern in app_routes:
        expanded: list[tuple[str, dict[str, Any]]] = [(pattern, {})]
        for param in re.findall(r"\{(\w+)(?::[^}]*)?\}", pattern):
            expanded = [
                (re.sub(r"\{" + param + r"(?::[^}]*)?\}", value, url), {**meta, **more})
                for url, meta in expanded
                for value, more in fills[param]
            ]
        out += [(method, url, meta) for url, meta in expanded]
    extra = ["/api/orders?limit=200", "/api/orders?q=中山北路&limit=200", "/api/figures.csv",
             "/api/figures/orders?metric=received&side=denominator&limit=200", "/api/deadlines/overdue",
             "/api/deadlines/due-soon?within_hours=744", "/api/figures?group=unit"]  # fmt: skip
    out += [("GET", url, {}) for url in extra]
    out += [("GET", f"/api/orders?caller_number={o['caller_number']}", {"by_number": n}) for n, o in ORDERS.items()]
    return out


def _routes() -> list[tuple[str, str]]:
    app = create_app(Settings(database_url="postgresql://x/y", redis_url="redis://x", roles=["api"]))
    skip = {"/api/desktop/ws", "/api/auth/login", "/api/auth/logout", "/healthz", "/metrics", "/api/openapi.json"}
    seen = []
    for r in app.router.routes():
        pattern = r.resource.canonical if r.resource else ""
        # Open311 answers in the spec's own format and only to its clients' api_keys (tests/test_open311.py);
        # the public lookup needs no login, is throttled per address and shows no one (test_public_lookup.py).
        if (
            r.method in ("HEAD", "OPTIONS")
            or pattern in skip
            or pattern.startswith(("/open311/", "/api/public/"))
            or ((r.method, pattern) in seen)
        ):
            continue
        seen.append((r.method, pattern))
    return seen


class SystemClient:
    """A unit's system (HMAC-signed) behind the same interface as the bearer Client; it may call
    only the unit API, so everything else is a signed refusal (401) alike for any id."""

    def __init__(self, signed: SignedClient) -> None:
        self.signed = signed

    async def request(self, method: str, url: str, json: Any = None) -> tuple[int, Any]:
        reply = await self.signed.request(method, url, json if method != "GET" else None)
        return reply.status, reply.body


def _part(world: World, reader: str, meta: dict[str, Any]) -> str | bool | None:
    """The reader's part in what the URL names: a part name, None (hidden), or True (nothing order-bound)."""
    reader = "cgj" if reader == SYSTEM else reader
    if reader in STAFF:
        return "staff"
    if "order" in meta:
        return PART[meta["order"]][reader]
    if "assignment" in meta:
        a = meta["assignment"]
        mine = world.unit_of[reader]
        under = a["unit_id"] == mine or (reader == "gulou" and a["unit_id"] == world.unit_of["huanglou"])
        return "visible" if under else None
    return True


def _as_missing(url: str, meta: dict[str, Any], world: World) -> str:
    """The URL's shape with the id or number it names as X, to find the missing twin's answer."""
    if "order" in meta:
        o = world.orders[meta["order"]]
        url = re.sub(rf"/({o['id']}|{re.escape(o['number'])})(?=/|$)", "/X", url)
    if "assignment" in meta:
        url = re.sub(rf"/{meta['assignment']['id']}(?=/|$)", "/X", url)
    return url


def _normal(body: Any, meta: dict[str, Any], world: World) -> str:
    """A hidden answer with the id (and number) it names replaced, to compare with the missing one."""
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    row = world.orders[meta["order"]] if "order" in meta else meta.get("assignment")
    if row is not None:
        text = re.sub(rf'(: "?){row["id"]}\b', rf"\g<1>{MISSING}", text)
    if "order" in meta:
        text = text.replace(row["number"], "20000101-999999")
    return text


async def test_every_route_for_every_audience(
    seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis: aioredis.Redis
) -> None:
    listener = redis.pubsub()
    await listener.psubscribe(bus.channel(redis, "*"))
    assert (await listener.get_message(timeout=2))["type"] == "psubscribe"
    world = await _build(seeded_pool, redis)
    live = []
    while (msg := await listener.get_message(timeout=0.2)) is not None:
        live.append(msg["data"])
    await listener.aclose()
    urls = _urls(_routes(), world)
    cells = 0
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        readers: dict[str, Any] = {
            u: await Client(session, base).login(u) for u in (*STAFF, "cgj", "gulou", "huanglou")
        }
        readers["zjj"] = await Client(session, base).login("zjj", "zjj-password")
        key = await issue_key(seeded_pool, "city.cgj")
        readers[SYSTEM] = SystemClient(SignedClient(session, base, key.key_id, key.secret))
        for reader, client in readers.items():
            missing: dict[tuple[str, str], str] = {}
            for method, url, meta in urls:
                if "missing" in meta:
                    status, body = await client.request(method, url, json={})
                    shape = re.sub(rf"/({MISSING}|20000101-999999)(?=/|$)", "/X", url)
                    missing[(method, shape)] = json.dumps(body, ensure_ascii=False, sort_keys=True)
                    assert status in (400, 401, 403, 404, 422), (reader, method, url, status, body)
                    cells += 1
            for method, url, meta in urls:
                if "missing" in meta:
                    continue
                part = _part(world, reader, meta)
                if method != "GET" and part is not None:
                    continue  # visible writes change the world; their own tests cover them
                status, body = await client.request(method, url, json={})
                cells += 1
                assert status != 500, (reader, method, url, body)
                text = json.dumps(body, ensure_ascii=False) if not isinstance(body, str) else body
                unit = "cgj" if reader == SYSTEM else reader
                for order in ORDERS:
                    seen_as = "staff" if reader in STAFF else PART[order][unit]
                    for s in forbidden(order, seen_as):
                        assert s not in text, (reader, method, url, order, s)
                if part is None:
                    # 401/403/422: refused before any lookup, for every id alike (checked next).
                    assert status in (401, 403, 404, 422), (reader, method, url, status)
                    assert _normal(body, meta, world) == missing[(method, _as_missing(url, meta, world))], (reader, url)
                if "by_number" in meta and reader in UNITS:
                    assert status == 403, (reader, url, body)
                if reader == SYSTEM and url.startswith("/api/units/me") and part is not None:
                    assert status == 200, (url, body)
        # Not vacuous: each reader sees what it may.
        o = world.orders
        assert (await readers["cgj"].request("GET", f"/api/orders/{o['contact']['id']}"))[1]["caller_number"] == \
            "13900003333"  # fmt: skip
        assert (await readers["cgj"].request("GET", f"/api/orders/{o['masked']['id']}"))[1]["caller_name"] == "王**"
        assert (await readers["zjj"].request("GET", f"/api/orders/{o['contact']['id']}"))[1]["caller_number"] == \
            "139****3333"  # fmt: skip
        assert (await readers["cgj"].request("GET", f"/api/orders/{o['returned']['id']}"))[1]["caller_number"] is None
        assert (await readers["huanglou"].request("GET", f"/api/orders/{o['returned']['id']}"))[1]["caller_name"] == \
            "钱退单"  # fmt: skip
        assert (await readers["supervisor"].request("GET", f"/api/orders/{o['anonymous']['id']}"))[1][
            "caller_number"] == "13900002222"  # fmt: skip
        status, log = await readers["supervisor"].request(
            "GET", f"/api/audit/personal-data?order_id={o['masked']['id']}&limit=500"
        )
        assert status == 200
        lookers = {r["username"] for r in log["items"]}
        assert {"agent1001", "supervisor", "admin"} <= lookers and not lookers & {"cgj", "zjj", "gulou", "huanglou"}
        assert (await readers["cgj"].request("GET", "/api/audit/personal-data"))[0] == 403

    # Pushes: each unit's system hears the order as its assignment's role allows.
    pushes = await seeded_pool.fetch("SELECT order_id, unit_id, payload FROM outbox")
    assert len(pushes) >= 12
    names = {v["id"]: k for k, v in world.orders.items()}
    role = {a["id"]: a["role"] for a in world.assignments}
    for p in pushes:
        payload = p["payload"] if isinstance(p["payload"], dict) else json.loads(p["payload"])
        text = json.dumps(payload, ensure_ascii=False)
        for s in forbidden(names[p["order_id"]], role[payload["assignment_id"]]):
            assert s not in text, (p["unit_id"], payload, s)
        cells += 1
    # Live bus events (unit channels, order changes) carry no identity at all.
    assert live
    for event in live:
        for order in ORDERS:
            for s in forbidden(order, None):
                assert s not in event, event
        cells += 1
    print(f"privacy matrix: {len(urls)} urls × {len(readers)} readers, {cells} cells checked")
    assert cells > 1000

"""The deadline API over real HTTP: overdue and due-soon for supervisors, policies for admins,
calendar overrides, the preview, and who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
import pytest

from hotline.orders import actions
from hotline.orders.states import Action
from tests.api_helpers import Client, running_server
from tests.orders_helpers import new_order, unit_id, who

# The server's clock, pinned: "overdue now" and "due soon" are read at it, not at the day the tests run.
AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Shanghai


@pytest.fixture
async def server(seeded_database_url, redis_url):
    running = running_server(seeded_database_url, redis_url, clock=lambda: AT)
    async with running as base, aiohttp.ClientSession() as session:
        yield Client(session, base)


async def dispatch_at(pool: asyncpg.Pool, when: datetime, unit: str = "city.cgj", **fields) -> int:
    services = actions.Services(clock=lambda: when)
    order = await new_order(pool, **fields)
    body = actions.parse_payload(Action.DISPATCH, {"unit_id": await unit_id(pool, unit)})
    await actions.act(pool, services, await who(pool, "agent1001"), order["id"], Action.DISPATCH, body)
    return order["id"]


async def test_overdue_now_per_unit_oldest_first(server: Client, seeded_pool) -> None:
    now = AT
    oldest = await dispatch_at(seeded_pool, now - timedelta(days=40), kind="consult")
    older = await dispatch_at(seeded_pool, now - timedelta(days=30), unit="hub.320302", kind="consult")
    suspended = await dispatch_at(seeded_pool, now - timedelta(days=50), kind="consult")
    await actions.act(
        seeded_pool, actions.Services(clock=lambda: AT), await who(seeded_pool, "supervisor"), suspended, Action.SUSPEND,
        actions.parse_payload(Action.SUSPEND, {"reason": "等待司法裁定"}),
    )  # fmt: skip
    fresh = await dispatch_at(seeded_pool, now, kind="complaint")
    sup = await server.login("supervisor")
    status, body = await sup.request("GET", "/api/deadlines/overdue")
    assert status == 200, body
    listed = [(i["order_id"], i["clock"]) for i in body["items"]]
    # each late order twice (sign and reply), oldest deadline first; suspended and fresh ones not at all
    assert listed == [(oldest, "sign"), (oldest, "reply"), (older, "sign"), (older, "reply")]
    assert fresh not in {o for o, _ in listed} and suspended not in {o for o, _ in listed}
    assert body["total"] == 4
    assert [(u["unit_code"], u["count"]) for u in body["units"]] == [("city.cgj", 2), ("hub.320302", 2)]
    assert all(i["late_seconds"] > 0 for i in body["items"])

    cgj = await unit_id(seeded_pool, "city.cgj")
    status, body = await sup.request("GET", f"/api/deadlines/overdue?unit_id={cgj}&clock=reply")
    assert [(i["order_id"], i["clock"]) for i in body["items"]] == [(oldest, "reply")]


async def test_due_soon(server: Client, seeded_pool) -> None:
    now = AT
    urgent = await dispatch_at(seeded_pool, now, kind="help", urgency="urgent")  # sign 30 min, reply 24 h
    await dispatch_at(seeded_pool, now - timedelta(days=40), kind="consult")  # already late: not "soon"
    sup = await server.login("supervisor")
    status, body = await sup.request("GET", "/api/deadlines/due-soon?within_hours=1")
    assert status == 200
    assert [(i["order_id"], i["clock"]) for i in body["items"]] == [(urgent, "sign")]
    status, body = await sup.request("GET", "/api/deadlines/due-soon?within_hours=25")
    assert [(i["order_id"], i["clock"]) for i in body["items"]] == [(urgent, "sign"), (urgent, "reply")]
    assert all(i["late_seconds"] < 0 for i in body["items"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/deadlines/overdue"),
        ("GET", "/api/deadlines/due-soon"),
        ("GET", "/api/deadlines/policies"),
        ("GET", "/api/deadlines/calendar"),
    ],
)
async def test_supervisor_views_refuse_agents_and_handlers(server: Client, method: str, path: str) -> None:
    for user in ("agent1001", "cgj"):
        status, body = await (await server.login(user)).request(method, path)
        assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await server.request(method, path)
    assert status == 401


async def test_bad_queries_are_422(server: Client) -> None:
    sup = await server.login("supervisor")
    for path in (
        "/api/deadlines/overdue?limit=0",
        "/api/deadlines/overdue?clock=visit",
        "/api/deadlines/due-soon?within_hours=-1",
        "/api/deadlines/overdue?unit_id=abc",
        "/api/deadlines/overdue?colour=red",
    ):
        status, body = await sup.request("GET", path)
        assert status == 422, path
        assert body["error"]["code"] == "invalid_input"


async def test_admin_edits_a_policy_and_dispatches_follow(server: Client, seeded_pool) -> None:
    admin = await server.login("admin")
    rule = {"clock": "reply", "amount": 5, "unit": "working_days", "category_prefix": "01", "note": "城建类 5 日"}
    status, created = await admin.request("POST", "/api/deadlines/policies/default/rules", json=rule)
    assert status == 201, created
    status, body = await admin.request("POST", "/api/deadlines/policies/default/rules", json=rule)
    assert status == 409 and body["error"]["code"] == "conflict"

    agent = await server.login("agent1001")
    at = "2026-11-24T10:00:00+08:00"
    status, preview = await agent.request(
        "GET", f"/api/deadlines/preview?kind=complaint&category_code=010101&at={at.replace('+', '%2B')}"
    )
    assert status == 200, preview
    assert preview["reply_rule"]["id"] == created["id"]
    assert datetime.fromisoformat(preview["reply_due_at"]) == datetime.fromisoformat("2026-11-30T17:30:00+08:00")
    assert datetime.fromisoformat(preview["sign_due_at"]) == datetime.fromisoformat("2026-11-24T12:00:00+08:00")
    assert preview["extension_limit"] == {"amount": 15, "unit": "working_days"}

    status, _ = await admin.request("DELETE", f"/api/deadlines/policies/default/rules/{created['id']}")
    assert status == 200
    status, preview = await agent.request(
        "GET", f"/api/deadlines/preview?kind=complaint&category_code=010101&at={at.replace('+', '%2B')}"
    )
    assert preview["reply_rule"]["amount"] == 15


async def test_policy_edits_that_would_leave_a_clock_without_a_rule_are_refused(server: Client) -> None:
    admin = await server.login("admin")
    status, body = await admin.request("GET", "/api/deadlines/policies")
    default = next(p for p in body["items"] if p["name"] == "default")
    assert default["active"] is True
    catch_all = next(
        r for r in default["rules"] if r["clock"] == "sign" and not (r["kind"] or r["category_prefix"] or r["urgency"])
    )
    status, body = await admin.request("DELETE", f"/api/deadlines/policies/default/rules/{catch_all['id']}")
    assert status == 409 and body["error"]["details"]["missing"] == ["sign"]
    status, body = await admin.request("GET", "/api/deadlines/policies")
    assert any(r["id"] == catch_all["id"] for p in body["items"] for r in p["rules"])  # still there


async def test_activate_the_beijing_preset(server: Client) -> None:
    admin = await server.login("admin")
    status, body = await admin.request("POST", "/api/deadlines/policies/beijing/activate")
    assert status == 200
    status, body = await admin.request("GET", "/api/deadlines/policies")
    assert [p["name"] for p in body["items"] if p["active"]] == ["beijing"]
    agent = await server.login("agent1001")
    status, preview = await agent.request("GET", "/api/deadlines/preview?kind=consult&at=2026-09-29T10:00:00Z")
    assert datetime.fromisoformat(preview["reply_due_at"]) == datetime.fromisoformat("2026-10-06T10:00:00+00:00")
    status, body = await admin.request("POST", "/api/deadlines/policies/shanghai/activate")
    assert status == 404


@pytest.mark.parametrize(
    ("user", "method", "path", "body"),
    [
        (
            "supervisor",
            "POST",
            "/api/deadlines/policies/default/rules",
            {"clock": "sign", "amount": 1, "unit": "hours"},
        ),
        ("supervisor", "POST", "/api/deadlines/policies/beijing/activate", None),
        ("cgj", "DELETE", "/api/deadlines/policies/default/rules/1", None),
        ("agent1001", "PUT", "/api/deadlines/calendar/2027-01-01", {"workday": False}),
    ],
)
async def test_only_admins_change_policies(server: Client, user: str, method: str, path: str, body) -> None:
    status, resp = await (await server.login(user)).request(method, path, json=body)
    assert status == 403, resp


@pytest.mark.parametrize(
    "rule",
    [
        {"clock": "lunch", "amount": 1, "unit": "hours"},
        {"clock": "sign", "amount": 0, "unit": "hours"},
        {"clock": "sign", "amount": 1, "unit": "fortnights"},
        {"clock": "sign", "amount": 1, "unit": "hours", "category_prefix": "1"},
        {"clock": "sign", "amount": 1, "unit": "hours", "urgency": "whenever"},
        {"clock": "sign", "amount": 1, "unit": "hours", "colour": "red"},
        {"clock": "sign", "amount": 1, "unit": "hours", "category_prefix": "99"},  # no such category
    ],
)
async def test_bad_rules_are_422(server: Client, rule: dict) -> None:
    status, body = await (await server.login("admin")).request(
        "POST", "/api/deadlines/policies/default/rules", json=rule
    )
    assert status == 422, body


async def test_malformed_body_is_400(server: Client) -> None:
    status, body = await (await server.login("admin")).request(
        "POST", "/api/deadlines/policies/default/rules", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and body["error"]["code"] == "malformed_body"


async def test_calendar_overrides_for_a_year_the_package_does_not_know(server: Client) -> None:
    """The 2027 notice comes out in November 2026; a centre loads it before chinesecalendar does."""
    admin = await server.login("admin")
    status, body = await admin.request("GET", "/api/deadlines/calendar?year=2031")
    assert status == 200 and body == {"year": 2031, "covered": False, "overrides": []}
    status, _ = await admin.request(
        "PUT", "/api/deadlines/calendar/2031-01-01", json={"workday": False, "note": "元旦"}
    )
    assert status == 200
    status, _ = await admin.request("PUT", "/api/deadlines/calendar/2031-01-04", json={"workday": True, "note": "调休"})
    status, body = await admin.request("GET", "/api/deadlines/calendar?year=2031")
    assert body["covered"] is True and [o["day"] for o in body["overrides"]] == ["2031-01-01", "2031-01-04"]
    agent = await server.login("agent1001")
    # Tue 31 Dec 2030 18:00, 2 working days: 1 Jan off, Thu 2 and Fri 3 Jan
    status, preview = await agent.request("GET", "/api/deadlines/preview?kind=consult&at=2030-12-31T10:00:00Z")
    assert datetime.fromisoformat(preview["reply_due_at"]) == datetime.fromisoformat("2031-01-03T17:30:00+08:00")
    status, _ = await admin.request("DELETE", "/api/deadlines/calendar/2031-01-01")
    assert status == 200
    status, body = await admin.request("DELETE", "/api/deadlines/calendar/2031-01-01")
    assert status == 404
    status, body = await admin.request("PUT", "/api/deadlines/calendar/2031-02-30", json={"workday": True})
    assert status == 422

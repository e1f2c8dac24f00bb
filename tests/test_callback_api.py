"""The unit callback API: listing and reading assignments, every callback, idempotency,
masking, hubs over their units, and JSON errors for bad input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
import asyncpg
import pytest

from hotline.agency import idempotency
from hotline.orders.states import Action
from tests.api_helpers import Client
from tests.orders_helpers import do
from tests.webhook_helpers import (
    SignedClient,
    UnitKey,
    assert_error,
    callback_server,
    dispatched,
    down_to_street,
    issue_key,
)

A = "/api/units/me/assignments"


@dataclass
class Env:
    pool: asyncpg.Pool
    base: str
    session: aiohttp.ClientSession
    keys: dict[str, UnitKey]

    def signed(self, code: str) -> SignedClient:
        k = self.keys[code]
        return SignedClient(self.session, self.base, k.key_id, k.secret)


@pytest.fixture
async def env(seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis) -> AsyncIterator[Env]:
    keys = {c: await issue_key(seeded_pool, c) for c in ("city.cgj", "hub.320302", "street.320302001", "city.zjj")}
    async with callback_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        yield Env(seeded_pool, base, session, keys)


async def test_sign_contact_note_reply_walk_an_assignment(env: Env) -> None:
    oid, aid = await dispatched(env.pool)
    cgj = env.signed("city.cgj")
    r = await cgj.post(f"{A}/{aid}/sign")
    assert r.status == 200 and r.body["status"] == "signed" and r.body["order"]["status"] == "signed", r.body
    r = await cgj.post(f"{A}/{aid}/contact", {"note": "已电话联系诉求人"})
    assert r.status == 200 and r.body["first_contact_at"] is not None
    r = await cgj.post(f"{A}/{aid}/notes", {"note": "已安排执法队员现场查看"})
    assert r.status == 200
    r = await cgj.post(f"{A}/{aid}/extension", {"days": 5, "reason": "需要协调多个部门"})
    assert r.status == 200 and r.body["extension_status"] == "requested" and r.body["extension_days"] == 5
    reply = {
        "text": "已清理占道摊点，并安排每日巡查",
        "result": "resolved",
        "attachments": ["https://cgj.example/p/1.jpg"],
    }
    r = await cgj.post(f"{A}/{aid}/reply", reply)
    assert r.status == 200, r.body
    assert r.body["status"] == "replied" and r.body["reply_text"] == reply["text"]
    assert r.body["reply_attachments"] == reply["attachments"] and r.body["order"]["status"] == "replied"
    r = await cgj.get(f"{A}/{aid}")
    assert [e["action"] for e in r.body["events"]] == ["sign", "contact", "note", "request_extension", "reply"]
    assert await env.pool.fetchval("SELECT status FROM work_orders WHERE id = $1", oid) == "replied"


async def test_return_goes_back_to_the_centre_and_closes_the_assignment(env: Env) -> None:
    _, aid = await dispatched(env.pool)
    cgj = env.signed("city.cgj")
    r = await cgj.post(f"{A}/{aid}/return", {"reason": "不属于本单位职责，应由住建局处理"})
    assert r.status == 200 and r.body["status"] == "returned" and r.body["order"]["status"] == "returned"
    r = await cgj.post(f"{A}/{aid}/sign")
    assert_error(r, 409, "assignment_closed")


async def test_state_refusals_are_409_with_the_state(env: Env) -> None:
    _, aid = await dispatched(env.pool)
    r = await env.signed("city.cgj").post(f"{A}/{aid}/reply", {"text": "已处理"})
    err = assert_error(r, 409, "invalid_transition")
    assert err["details"]["status"] == "dispatched"


async def test_a_repeat_with_the_same_key_returns_the_first_answer_and_changes_nothing(env: Env) -> None:
    oid, aid = await dispatched(env.pool)
    cgj = env.signed("city.cgj")
    await cgj.post(f"{A}/{aid}/sign")
    reply = {"text": "已处理完毕", "result": "explained"}
    first = await cgj.post(f"{A}/{aid}/reply", reply, idempotency_key="reply-1")
    assert first.status == 200 and "Idempotent-Replayed" not in first.headers
    # Key order and whitespace aside, the same body is the same request.
    again = await cgj.post(f"{A}/{aid}/reply", {"result": "explained", "text": "已处理完毕"}, idempotency_key="reply-1")
    assert again.status == first.status and again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (
        await env.pool.fetchval("SELECT count(*) FROM audit_events WHERE order_id = $1 AND action = 'reply'", oid) == 1
    )
    other = await cgj.post(f"{A}/{aid}/reply", {"text": "另一个答复"}, idempotency_key="reply-1")
    err = assert_error(other, 422, "idempotency_key_reused")
    assert err["details"]["idempotency_key"] == "reply-1"
    elsewhere = await cgj.post(f"{A}/{aid}/notes", {"note": "已处理完毕"}, idempotency_key="reply-1")
    assert_error(elsewhere, 422, "idempotency_key_reused")
    assert await env.pool.fetchval("SELECT count(*) FROM callback_idempotency") == 2  # the sign and the reply
    # Keys are per unit: another unit's same key is its own.
    _, zjj_aid = await dispatched(env.pool, "city.zjj")
    theirs = await env.signed("city.zjj").post(f"{A}/{zjj_aid}/sign", idempotency_key="reply-1")
    assert theirs.status == 200 and theirs.body["id"] == zjj_aid and "Idempotent-Replayed" not in theirs.headers


async def test_old_idempotency_keys_are_pruned(env: Env) -> None:
    _, aid = await dispatched(env.pool)
    cgj = env.signed("city.cgj")
    await cgj.post(f"{A}/{aid}/sign", idempotency_key="old")
    await cgj.post(f"{A}/{aid}/notes", {"note": "新的进展"}, idempotency_key="new")
    await env.pool.execute("UPDATE callback_idempotency SET created_at = now() - interval '4 days' WHERE key = 'old'")
    async with env.pool.acquire() as conn:
        assert await idempotency.prune(conn, timedelta(days=3)) == 1
    assert [r["key"] for r in await env.pool.fetch("SELECT key FROM callback_idempotency")] == ["new"]


async def test_concurrent_repeats_of_one_key_apply_once(env: Env) -> None:
    oid, aid = await dispatched(env.pool)
    cgj = env.signed("city.cgj")
    replies = await asyncio.gather(*(cgj.post(f"{A}/{aid}/sign", idempotency_key="sign-once") for _ in range(6)))
    assert {r.status for r in replies} == {200}
    assert len({json.dumps(r.body, sort_keys=True) for r in replies}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in replies) == 5
    assert (
        await env.pool.fetchval("SELECT count(*) FROM audit_events WHERE order_id = $1 AND action = 'sign'", oid) == 1
    )


async def test_a_failed_call_stores_nothing_so_its_key_can_be_retried(env: Env) -> None:
    _, aid = await dispatched(env.pool)
    cgj = env.signed("city.cgj")
    early = await cgj.post(f"{A}/{aid}/reply", {"text": "已处理"}, idempotency_key="r")
    assert_error(early, 409, "invalid_transition")
    await cgj.post(f"{A}/{aid}/sign")
    later = await cgj.post(f"{A}/{aid}/reply", {"text": "已处理"}, idempotency_key="r")
    assert later.status == 200 and later.body["status"] == "replied"


LOOKS = """SELECT unit_id, user_id, username, fields, method, route FROM personal_data_access
           WHERE order_id = $1 ORDER BY id"""
ACT_ROUTE = "/api/units/me/assignments/{assignment_id}/{operation}"


async def test_a_callback_showing_the_caller_logs_the_look_once_and_a_replay_again(env: Env) -> None:
    oid, aid = await dispatched(env.pool, contact_allowed=True)
    cgj, unit = env.signed("city.cgj"), env.keys["city.cgj"].unit_id
    first = await cgj.post(f"{A}/{aid}/sign", idempotency_key="look-1")
    assert first.status == 200 and first.body["order"]["caller_number"] == "13912341234"
    look = {"unit_id": unit, "user_id": None, "username": "unit:city.cgj", "fields": ["caller_number", "caller_name"],
            "method": "POST", "route": ACT_ROUTE}  # fmt: skip
    assert [dict(r) for r in await env.pool.fetch(LOOKS, oid)] == [look]
    again = await cgj.post(f"{A}/{aid}/sign", idempotency_key="look-1")  # the stored answer, shown once more
    assert again.headers.get("Idempotent-Replayed") == "true" and again.body == first.body
    assert [dict(r) for r in await env.pool.fetch(LOOKS, oid)] == [look, look]
    refused = await cgj.post(f"{A}/{aid}/sign", idempotency_key="look-2")  # already signed: nothing shown
    assert_error(refused, 409, "invalid_transition")
    handler = await Client(env.session, env.base).login("cgj")
    status, body = await handler.request("POST", f"{A}/{aid}/notes", json={"note": "已联系"})  # no key: still logged
    assert status == 200 and body["order"]["caller_name"] == "张三"
    rows = await env.pool.fetch(LOOKS, oid)
    assert len(rows) == 3 and rows[-1]["username"] == "cgj" and rows[-1]["user_id"] is not None
    masked_oid, masked = await dispatched(env.pool)
    assert (await cgj.post(f"{A}/{masked}/sign")).body["order"]["caller_number"] == "139****1234"
    assert await env.pool.fetch(LOOKS, masked_oid) == []


async def test_listing_filters_and_keyset_pages_by_last_change(env: Env) -> None:
    made = [(await dispatched(env.pool))[1] for _ in range(5)]
    other_unit = (await dispatched(env.pool, "city.zjj"))[1]
    cgj = env.signed("city.cgj")
    for aid in made[:2]:
        await cgj.post(f"{A}/{aid}/sign")
    seen, cursor = [], None
    while True:
        r = await cgj.get(f"{A}?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200 and len(r.body["items"]) <= 2
        seen += [a["id"] for a in r.body["items"]]
        cursor = r.body["next_cursor"]
        if not cursor:
            break
    assert seen == [*made[2:], *made[:2]]  # oldest change first: the two signed ones changed last
    assert other_unit not in seen
    r = await cgj.get(f"{A}?status=signed")
    assert [a["id"] for a in r.body["items"]] == made[:2]
    r = await cgj.get(f"{A}?status=dispatched,signed&limit=200")
    assert len(r.body["items"]) == 5
    last_change = r.body["items"][-1]["updated_at"]
    r = await cgj.get(f"{A}?since={aiohttp.helpers.quote(last_change, safe='')}")
    assert [a["id"] for a in r.body["items"]] == [made[1]]


async def test_bad_listing_queries_are_json_errors(env: Env) -> None:
    for query in ("limit=1000", "limit=0", "cursor=garbage", "status=nonsense", "since=yesterday", "colour=red"):
        assert_error(await env.signed("city.cgj").get(f"{A}?{query}"), 422, "invalid_input")


async def test_units_see_caller_numbers_masked_and_anonymous_callers_not_at_all(env: Env) -> None:
    cgj = env.signed("city.cgj")
    _, masked = await dispatched(env.pool)
    _, allowed = await dispatched(env.pool, contact_allowed=True)
    _, anonymous = await dispatched(env.pool, anonymous=True, contact_allowed=True)
    got = {aid: (await cgj.get(f"{A}/{aid}")).body["order"] for aid in (masked, allowed, anonymous)}
    assert got[masked]["caller_number"] == "139****1234"
    assert got[allowed]["caller_number"] == "13912341234"
    assert got[anonymous]["caller_number"] is None and got[anonymous]["caller_name"] is None
    listed = {a["id"]: a["order"] for a in (await cgj.get(A)).body["items"]}
    assert listed[masked]["caller_number"] == "139****1234" and listed[anonymous]["caller_number"] is None
    r = await cgj.post(f"{A}/{masked}/sign")
    assert r.body["order"]["caller_number"] == "139****1234"


async def test_a_hub_reads_its_units_assignments_reviews_them_but_does_not_act_for_them(env: Env) -> None:
    _, hub_aid, street_aid = await down_to_street(env.pool)
    hub, street = env.signed("hub.320302"), env.signed("street.320302001")
    listed = [a["id"] for a in (await hub.get(A)).body["items"]]
    assert street_aid in listed and hub_aid in listed
    assert (await hub.get(f"{A}/{street_aid}")).status == 200
    assert_error(await hub.post(f"{A}/{street_aid}/sign"), 403, "not_your_assignment")
    assert_error(await street.get(f"{A}/{hub_aid}"), 404, "not_found")
    assert [a["id"] for a in (await street.get(A)).body["items"]] == [street_aid]
    assert (await street.post(f"{A}/{street_aid}/sign")).status == 200
    assert (await street.post(f"{A}/{street_aid}/extension", {"days": 3, "reason": "需要现场勘查"})).status == 200
    assert_error(
        await street.post(f"{A}/{street_aid}/extension-decision", {"approve": True}), 403, "not_your_assignment"
    )
    r = await hub.post(f"{A}/{street_aid}/extension-decision", {"approve": False, "note": "时限内可以办完"})
    assert r.status == 200 and r.body["extension_status"] == "denied", r.body
    assert (await street.post(f"{A}/{street_aid}/reply", {"text": "已处理"})).status == 200
    assert_error(await street.post(f"{A}/{street_aid}/review", {"accept": True}), 403, "not_your_assignment")
    r = await hub.post(f"{A}/{street_aid}/review", {"accept": True})
    assert r.status == 200 and r.body["status"] == "done", r.body
    hub_view = (await hub.get(f"{A}/{hub_aid}")).body
    assert hub_view["status"] == "replied" and hub_view["reply_text"] == "已处理"


# Every unit endpoint, as another unit: nothing readable, nothing done.
ENDPOINTS = [
    ("GET", "", None),
    ("POST", "/sign", {}),
    ("POST", "/reply", {"text": "越权答复"}),
    ("POST", "/return", {"reason": "越权退单"}),
    ("POST", "/extension", {"days": 3, "reason": "越权延期"}),
    ("POST", "/notes", {"note": "越权备注"}),
    ("POST", "/contact", {"note": "越权联系"}),
    ("POST", "/review", {"accept": True}),
    ("POST", "/extension-decision", {"approve": True}),
]


@pytest.mark.parametrize("intruder", ["city.zjj", "street.320302001", "hub.320302"])
async def test_one_unit_cannot_read_or_act_on_anothers_assignment(env: Env, intruder: str) -> None:
    oid, aid = await dispatched(env.pool)  # city.cgj's
    await do(env.pool, "cgj", oid, Action.SIGN)
    await do(env.pool, "cgj", oid, Action.REQUEST_EXTENSION, days=2, reason="等待材料")
    before = dict(await env.pool.fetchrow("SELECT * FROM assignments WHERE id = $1", aid))
    events = await env.pool.fetchval("SELECT count(*) FROM audit_events WHERE order_id = $1", oid)
    client = env.signed(intruder)
    for method, suffix, body in ENDPOINTS:
        r = await client.request(method, f"{A}/{aid}{suffix}", body)
        err = assert_error(r, 404, "not_found")
        assert err["details"] == {"assignment_id": aid}, (suffix, err)
        # A missing assignment gets the very same answer.
        missing = await client.request(method, f"{A}/{aid + 1000}{suffix}", body)
        assert missing.status == 404 and missing.body["error"]["message"] == err["message"], suffix
    assert dict(await env.pool.fetchrow("SELECT * FROM assignments WHERE id = $1", aid)) == before
    assert await env.pool.fetchval("SELECT count(*) FROM audit_events WHERE order_id = $1", oid) == events
    assert await env.pool.fetchval("SELECT count(*) FROM callback_idempotency") == 0
    assert aid not in [a["id"] for a in (await client.get(A)).body["items"]]
    assert (await env.signed("city.cgj").get(f"{A}/{aid}")).status == 200  # while its own unit reads it


async def test_centre_staff_are_sent_to_the_orders_api(env: Env) -> None:
    agent = await Client(env.session, env.base).login("agent1001")
    status, body = await agent.request("GET", A)
    assert status == 403 and body["error"]["code"] == "units_only"


MALFORMED = [
    ("/reply", b"{not json", 400, "malformed_body"),
    ("/reply", b"[1, 2]", 400, "malformed_body"),
    ("/reply", b'"text"', 400, "malformed_body"),
    ("/reply", b"\xff\xfe", 400, "malformed_body"),
    ("/reply", b"{}", 422, "invalid_input"),
    ("/reply", b'{"text": "   "}', 422, "invalid_input"),
    ("/reply", b'{"text": "ok", "result": "done-ish"}', 422, "invalid_input"),
    ("/reply", b'{"text": "ok", "attachments": ["not a url"]}', 422, "invalid_input"),
    ("/reply", b'{"text": "ok", "attachments": "https://x.example/a.jpg"}', 422, "invalid_input"),
    ("/reply", b'{"text": "ok", "evil": 1}', 422, "invalid_input"),
    ("/reply", b'{"text": "ok", "version": 0}', 422, "invalid_input"),
    ("/return", b'{"reason": "x"}', 422, "invalid_input"),
    ("/extension", b'{"days": 99, "reason": "too long"}', 422, "invalid_input"),
    ("/extension", b'{"days": "five", "reason": "not a number"}', 422, "invalid_input"),
    ("/contact", b'{"contacted_at": "noon"}', 422, "invalid_input"),
    ("/notes", b'{"note": null}', 422, "invalid_input"),
    ("/review", b'{"accept": false}', 422, "invalid_input"),
    ("/extension-decision", b'{"approve": true, "assignment_id": 999999}', 422, "invalid_input"),
    ("/fly", b"{}", 404, "not_found"),
]


async def test_malformed_callbacks_get_json_errors_never_500(env: Env) -> None:
    _, aid = await dispatched(env.pool)
    cgj = env.signed("city.cgj")
    for suffix, raw, status, code in MALFORMED:
        r = await cgj.request("POST", f"{A}/{aid}{suffix}", raw=raw)
        assert r.status == status and r.body["error"]["code"] == code, (suffix, raw, r.status, r.body)
        assert set(r.body["error"]) == {"code", "message", "details"}
    assert await env.pool.fetchval("SELECT status FROM assignments WHERE id = $1", aid) == "dispatched"
    assert await env.pool.fetchval("SELECT count(*) FROM callback_idempotency") == 0


async def test_bad_paths_and_keys_are_json_errors(env: Env) -> None:
    cases = [
        (f"{A}/abc/sign", {}, 404, "not_found"),
        (f"{A}/99999999999999999999/sign", {}, 404, "not_found"),
        (f"{A}/1/sign", {"Idempotency-Key": "has spaces in it"}, 400, "idempotency_key_invalid"),
        (f"{A}/1/sign", {"Idempotency-Key": "x" * 201}, 400, "idempotency_key_invalid"),
    ]
    for path, headers, status, code in cases:
        r = await env.signed("city.cgj").post(path, {}, headers=headers, idempotency_key=None if headers else "k")
        assert_error(r, status, code)

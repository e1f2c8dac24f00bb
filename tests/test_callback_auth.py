"""HMAC-signed callbacks: what verifies, every way a request is refused (401 + reason), key
rotation, the admin key routes, and bearer tokens on the same endpoints."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import asyncpg
import pytest

from adapters.webhook import signing
from hotline.agency import keystore
from tests.api_helpers import Client
from tests.redis_server import RedisServer
from tests.webhook_helpers import SignedClient, UnitKey, assert_error, callback_server, dispatched, issue_key


@dataclass
class Env:
    pool: asyncpg.Pool
    base: str
    session: aiohttp.ClientSession
    cgj: UnitKey
    client: SignedClient
    database_url: str
    redis_url: str


@pytest.fixture
async def env(seeded_pool: asyncpg.Pool, seeded_database_url: str, redis_url: str, redis) -> AsyncIterator[Env]:
    cgj = await issue_key(seeded_pool, "city.cgj")
    async with callback_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        client = SignedClient(session, base, cgj.key_id, cgj.secret)
        yield Env(seeded_pool, base, session, cgj, client, seeded_database_url, redis_url)


async def test_a_signed_request_is_the_unit_without_a_user(env: Env) -> None:
    r = await env.client.get("/api/units/me")
    assert r.status == 200, r.body
    assert r.body["code"] == "city.cgj" and r.body["id"] == env.cgj.unit_id
    assert r.body["auth"] == "hmac" and r.body["key_id"] == env.cgj.key_id
    used = await env.pool.fetchval("SELECT last_used_at FROM unit_keys WHERE key_id = $1", env.cgj.key_id)
    assert used is not None


async def test_a_signed_action_is_audited_to_the_unit_with_no_user(env: Env) -> None:
    oid, aid = await dispatched(env.pool)
    r = await env.client.post(f"/api/units/me/assignments/{aid}/sign")
    assert r.status == 200 and r.body["status"] == "signed", r.body
    event = await env.pool.fetchrow("SELECT * FROM audit_events WHERE order_id = $1 AND action = 'sign'", oid)
    assert event["actor_user_id"] is None and event["actor_unit_id"] == env.cgj.unit_id


async def test_the_query_string_is_signed_too(env: Env) -> None:
    r = await env.client.get("/api/units/me/assignments?status=signed&limit=5")
    assert r.status == 200, r.body
    r = await env.client.get(
        "/api/units/me/assignments?status=dispatched&limit=5",
        sign_path="/api/units/me/assignments?status=signed&limit=5",
    )
    assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "bad_signature"


REFUSALS = [
    # (what the test bends, expected reason)
    ({"skew": -signing.WINDOW_SECONDS - 5}, "stale_timestamp"),
    ({"skew": signing.WINDOW_SECONDS + 5}, "future_timestamp"),
    ({"sign_body": b'{"text": "something else"}'}, "bad_signature"),
    ({"sign_path": "/api/units/me/assignments/1/sign"}, "bad_signature"),
    ({"secret": keystore.new_secret()}, "bad_signature"),
    ({"key_id": "hk_00000000000000ff"}, "unknown_key"),
    ({"drop": (signing.NONCE_HEADER,)}, "missing_header"),
    ({"drop": (signing.SIGNATURE_HEADER,)}, "missing_header"),
    ({"unsigned": {signing.TIMESTAMP_HEADER: "yesterday"}}, "bad_timestamp"),
    ({"nonce": "short"}, "bad_nonce"),
    ({"unsigned": {signing.SIGNATURE_HEADER: "not-hex"}}, "bad_signature"),
    ({"unsigned": {"Idempotency-Key": "another-key-for-the-same-request"}}, "bad_signature"),
    ({"unsigned": {"Content-Type": "text/plain"}}, "bad_signature"),
]


@pytest.mark.parametrize(("bend", "reason"), REFUSALS, ids=[r for _, r in REFUSALS])
async def test_a_bent_callback_is_refused_with_its_reason_and_changes_nothing(
    env: Env, bend: dict, reason: str
) -> None:
    oid, aid = await dispatched(env.pool)
    path = f"/api/units/me/assignments/{aid}/reply"
    if bend.get("sign_path"):
        bend = {**bend, "sign_path": f"/api/units/me/assignments/{aid}/sign"}
    if "skew" in bend:  # relative to now, not to when the tests were collected
        bend = {"now": time.time() + bend["skew"]}
    before = await env.pool.fetchval("SELECT count(*) FROM audit_events WHERE order_id = $1", oid)
    await env.pool.execute("UPDATE assignments SET status = 'signed' WHERE id = $1", aid)
    await env.pool.execute("UPDATE work_orders SET status = 'signed' WHERE id = $1", oid)
    r = await env.client.post(path, {"text": "已处理完毕"}, **bend)
    err = assert_error(r, 401, "signature_rejected")
    assert err["details"]["reason"] == reason, err
    assert await env.pool.fetchval("SELECT status FROM assignments WHERE id = $1", aid) == "signed"
    assert await env.pool.fetchval("SELECT count(*) FROM audit_events WHERE order_id = $1", oid) == before


async def test_clocks_a_little_apart_are_fine(env: Env) -> None:
    for skew in (-signing.WINDOW_SECONDS + 10, signing.WINDOW_SECONDS - 10):
        r = await env.client.get("/api/units/me", now=time.time() + skew)
        assert r.status == 200, (skew, r.body)


async def test_a_replayed_nonce_is_refused_even_with_a_valid_signature(env: Env) -> None:
    nonce = signing.new_nonce()
    first = await env.client.get("/api/units/me", nonce=nonce)
    assert first.status == 200
    again = await env.client.get("/api/units/me", nonce=nonce)
    assert assert_error(again, 401, "signature_rejected")["details"]["reason"] == "nonce_reused"
    # The nonce is claimed in PostgreSQL: a second server process refuses it as well.
    async with callback_server(env.database_url, env.redis_url) as other_base:
        other = SignedClient(env.session, other_base, env.cgj.key_id, env.cgj.secret)
        r = await other.get("/api/units/me", nonce=nonce)
        assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "nonce_reused"


async def test_a_callback_claims_its_nonce_even_when_it_fails(env: Env) -> None:
    """A callback claims its nonce in its own transaction (one commit); one that fails there or
    before it still has it claimed, so its replay is refused as a replay, not failed again."""
    _, aid = await dispatched(env.pool)
    at = f"/api/units/me/assignments/{aid}"
    tries = [
        ("reply", {"text": "已处理"}, 409),  # refused in the transaction: not signed yet
        ("reply", {"text": ["已处理"]}, 422),  # refused before it: the body does not validate
        ("nope", {}, 404),  # no such callback
        ("sign", {}, 200),
    ]
    for op, body, status in tries:
        captured = {"nonce": signing.new_nonce(), "idempotency_key": f"claim-{op}-{status}"}
        first = await env.client.post(f"{at}/{op}", body, **captured)
        assert first.status == status, first.body
        again = await env.client.post(f"{at}/{op}", body, **captured)
        assert assert_error(again, 401, "signature_rejected")["details"]["reason"] == "nonce_reused", (op, again.body)
    assert await env.pool.fetchval("SELECT count(*) FROM signed_nonces WHERE key_id = $1", env.cgj.key_id) == 4
    assert (
        await env.pool.fetchval("SELECT count(*) FROM audit_events WHERE assignment_id = $1 AND action = 'sign'", aid)
        == 1
    )


async def test_signed_requests_are_only_for_the_unit_api(env: Env) -> None:
    r = await env.client.get("/api/orders")
    assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "path_not_signable"


async def test_signed_callbacks_must_carry_an_idempotency_key(env: Env) -> None:
    _, aid = await dispatched(env.pool)
    r = await env.client.post(f"/api/units/me/assignments/{aid}/sign", idempotency_key=None)
    assert_error(r, 400, "idempotency_key_required")
    assert await env.pool.fetchval("SELECT status FROM assignments WHERE id = $1", aid) == "dispatched"


async def test_rotation_keeps_two_keys_active_and_revokes_the_oldest(env: Env) -> None:
    second = await issue_key(env.pool, "city.cgj")
    old, new = env.client, SignedClient(env.session, env.base, second.key_id, second.secret)
    assert (await old.get("/api/units/me")).status == 200
    assert (await new.get("/api/units/me")).status == 200
    third = await issue_key(env.pool, "city.cgj")
    r = await old.get("/api/units/me")
    assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "revoked_key"
    assert (await new.get("/api/units/me")).status == 200
    newest = SignedClient(env.session, env.base, third.key_id, third.secret)
    assert (await newest.get("/api/units/me")).status == 200
    active = await env.pool.fetch(
        "SELECT key_id FROM unit_keys WHERE unit_id = $1 AND revoked_at IS NULL", env.cgj.unit_id
    )
    assert {r["key_id"] for r in active} == {second.key_id, third.key_id}


async def test_a_key_verified_before_is_still_checked_as_stored_on_every_request(env: Env) -> None:
    """The process keeps a verified key's secret; the key's and its unit's state are read every time."""
    assert (await env.client.get("/api/units/me")).status == 200
    wrong = "w" * 43
    r = await env.client.get("/api/units/me", secret=wrong)
    assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "bad_signature"
    await env.pool.execute("UPDATE units SET active = false WHERE id = $1", env.cgj.unit_id)
    r = await env.client.get("/api/units/me")
    assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "revoked_key"
    assert "inactive" in r.body["error"]["message"]
    r = await env.client.get("/api/units/me", secret=wrong)  # the key's state is checked before the signature
    assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "revoked_key"
    await env.pool.execute("UPDATE units SET active = true WHERE id = $1", env.cgj.unit_id)
    assert (await env.client.get("/api/units/me")).status == 200
    claimed = await env.pool.fetchval("SELECT count(*) FROM signed_nonces WHERE key_id = $1", env.cgj.key_id)
    assert claimed == 2  # the two accepted requests: a refused one claims no nonce


async def test_a_key_of_one_unit_never_signs_for_another(env: Env) -> None:
    street = await issue_key(env.pool, "street.320302001")
    r = await env.client.get("/api/units/me", key_id=street.key_id)  # cgj's secret under the street's key id
    assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "bad_signature"


async def test_admin_issues_lists_and_revokes_keys_over_http(env: Env) -> None:
    anon = Client(env.session, env.base)
    admin, supervisor, handler = await anon.login("admin"), await anon.login("supervisor"), await anon.login("cgj")
    uid = env.cgj.unit_id
    for who in (supervisor, handler):
        status, body = await who.request("POST", f"/api/admin/units/{uid}/keys")
        assert status == 403 and body["error"]["code"] == "forbidden"
    status, issued = await admin.request("POST", f"/api/admin/units/{uid}/keys")
    assert status == 201 and issued["key_id"].startswith("hk_") and len(issued["secret"]) >= 32, issued
    fresh = SignedClient(env.session, env.base, issued["key_id"], issued["secret"])
    assert (await fresh.get("/api/units/me")).status == 200
    status, listing = await admin.request("GET", f"/api/admin/units/{uid}/keys")
    assert status == 200 and [k["key_id"] for k in listing["items"]] == [issued["key_id"], env.cgj.key_id]
    assert all("secret" not in k for k in listing["items"])
    status, _ = await admin.request("DELETE", f"/api/admin/units/{uid}/keys/{issued['key_id']}")
    assert status == 204
    r = await fresh.get("/api/units/me")
    assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "revoked_key"
    status, body = await admin.request("POST", "/api/admin/units/999999/keys")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await admin.request("DELETE", f"/api/admin/units/{uid}/keys/hk_nope")
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_bearer_tokens_of_handlers_work_on_the_same_endpoints(env: Env) -> None:
    _, aid = await dispatched(env.pool)
    cgj = await Client(env.session, env.base).login("cgj")
    status, me = await cgj.request("GET", "/api/units/me")
    assert status == 200 and me["auth"] == "bearer" and me["key_id"] is None
    status, body = await cgj.request("POST", f"/api/units/me/assignments/{aid}/sign", json={})
    assert status == 200 and body["status"] == "signed", body
    status, body = await Client(env.session, env.base).request("GET", "/api/units/me")
    assert status == 401 and body["error"]["code"] == "unauthenticated"


async def test_a_replay_after_redis_restarted_empty_is_refused(seeded_pool: asyncpg.Pool, seeded_database_url: str,
                                                             own_redis: RedisServer) -> None:  # fmt: skip
    key = await issue_key(seeded_pool, "city.cgj")
    oid, aid = await dispatched(seeded_pool)
    path = f"/api/units/me/assignments/{aid}/notes"
    captured = {"nonce": signing.new_nonce(), "now": time.time(), "idempotency_key": "captured-key-1"}
    async with callback_server(seeded_database_url, own_redis.url) as base, aiohttp.ClientSession() as session:
        client = SignedClient(session, base, key.key_id, key.secret)
        first = await client.post(path, {"note": "已联系"}, **captured)
        assert first.status == 200, first.body
        own_redis.restart()  # the fast path has forgotten every nonce
        again = await client.post(path, {"note": "已联系"}, **captured)
        assert assert_error(again, 401, "signature_rejected")["details"]["reason"] == "nonce_reused"
        # The same capture under a fresh key: the key is signed, so it no longer verifies.
        rekeyed = await client.post(path, {"note": "已联系"}, **captured, unsigned={"Idempotency-Key": "fresh-key-2"})
        assert assert_error(rekeyed, 401, "signature_rejected")["details"]["reason"] == "bad_signature"
    notes = await seeded_pool.fetchval("SELECT count(*) FROM audit_events WHERE order_id = $1 AND action = 'note'", oid)
    assert notes == 1


async def test_with_redis_down_postgres_still_refuses_replays(
    seeded_pool: asyncpg.Pool, seeded_database_url: str
) -> None:
    key = await issue_key(seeded_pool, "city.cgj")
    async with (
        callback_server(seeded_database_url, "redis://127.0.0.1:1/0") as base,
        aiohttp.ClientSession() as session,
    ):
        client = SignedClient(session, base, key.key_id, key.secret)
        nonce = signing.new_nonce()
        assert (await client.get("/api/units/me", nonce=nonce)).status == 200
        r = await client.get("/api/units/me", nonce=nonce)
    assert assert_error(r, 401, "signature_rejected")["details"]["reason"] == "nonce_reused"
    assert await seeded_pool.fetchval("SELECT count(*) FROM signed_nonces WHERE key_id = $1", key.key_id) == 1

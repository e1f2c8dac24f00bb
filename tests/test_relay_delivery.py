"""The outbox relay against a real HTTP receiver that fails, hangs and recovers: every push
reaches the receiver's deduplicated view exactly once — through failures, timeouts, a relay
killed mid-delivery, and two relays at once — and what cannot be delivered ends up dead,
for a supervisor to see and send again."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import pytest

from adapters.webhook import signing
from adapters.webhook.config import RelayConfig
from adapters.webhook.receiver import Mode, Receiver, serve
from adapters.webhook.relay import ORIGINAL_URL_HEADER, Attempt, OutboxRelay, backoff
from tests.api_helpers import Client
from tests.webhook_helpers import UnitKey, callback_server, dispatched, issue_key, wait_until


def fast(**overrides: Any) -> RelayConfig:
    values: dict[str, Any] = {
        "name": "relay-test",
        "poll_seconds": 0.05,
        "timeout_seconds": 0.5,
        "lease_seconds": 2.0,
        "backoff_base_seconds": 0.05,
        "backoff_cap_seconds": 0.2,
        "max_attempts": 50,
        "concurrency": 4,
        "stop_grace_seconds": 0.5,
    }
    return RelayConfig(**{**values, **overrides})


@dataclass
class Env:
    pool: asyncpg.Pool
    receiver: Receiver
    url: str
    key: UnitKey


@pytest.fixture
async def env(seeded_pool: asyncpg.Pool) -> AsyncIterator[Env]:
    key = await issue_key(seeded_pool, "city.cgj")
    receiver = Receiver({key.key_id: key.secret})
    async with serve(receiver) as base:
        url = base + "/hooks/cgj?token=abc"  # a query string, signed like the path
        await seeded_pool.execute("UPDATE units SET webhook_url = $1 WHERE id = $2", url, key.unit_id)
        yield Env(seeded_pool, receiver, url, key)


async def delivery_ids(pool: asyncpg.Pool) -> set[str]:
    return {str(r["delivery_id"]) for r in await pool.fetch("SELECT delivery_id FROM outbox")}


async def all_delivered(pool: asyncpg.Pool) -> bool:
    return await pool.fetchval("SELECT bool_and(status = 'delivered') AND count(*) > 0 FROM outbox")


async def crash(relay: OutboxRelay) -> None:
    """What a killed process looks like to the outbox: the loop and its deliveries cancelled, nothing marked."""
    task = relay.task
    assert task is not None
    task.cancel()
    await asyncio.wait({task})
    await relay.stop()  # closes the HTTP session; the task is already gone


async def test_every_push_arrives_once_through_failures_timeouts_and_recovery(env: Env) -> None:
    env.receiver.mode = Mode.FAIL
    made = [await dispatched(env.pool) for _ in range(6)]
    expected = await delivery_ids(env.pool)
    assert len(expected) == 6
    relay = OutboxRelay(env.pool, fast())
    await relay.start()
    try:
        await wait_until(lambda: sum(env.receiver.arrivals.values()) >= 12, what="two failed rounds")
        env.receiver.mode = Mode.HANG
        await wait_until(
            lambda: env.pool.fetchval("SELECT count(*) >= 3 FROM outbox WHERE last_error LIKE 'timed out%'"),
            what="timeouts recorded",
        )
        assert not env.receiver.stored
        env.receiver.mode = Mode.OK
        await wait_until(lambda: all_delivered(env.pool), what="all delivered")
    finally:
        await relay.stop()
    assert set(env.receiver.stored) == expected
    assert env.receiver.refused == []  # every attempt verified
    by_assignment = {r.body["assignment_id"]: r for r in env.receiver.stored.values()}
    assert set(by_assignment) == {aid for _, aid in made}
    for oid, aid in made:
        push = by_assignment[aid].body
        assert push["topic"] == "order.dispatched" and push["unit_code"] == "city.cgj"
        assert push["order"]["id"] == oid and push["order"]["caller_number"] == "139****1234"
        assert by_assignment[aid].headers[signing.DELIVERY_HEADER] == push["delivery_id"]
    stats = await env.pool.fetchrow("SELECT * FROM webhook_unit_stats WHERE unit_id = $1", env.key.unit_id)
    assert stats["delivered"] == 6 and stats["failures"] >= 15 and stats["consecutive_failures"] == 0
    assert stats["dead"] == 0 and stats["last_error"]


async def test_a_relay_killed_after_the_receiver_stored_but_before_it_answered(env: Env) -> None:
    env.receiver.mode = Mode.HANG_AFTER_STORE
    await dispatched(env.pool)
    (delivery,) = await delivery_ids(env.pool)
    first = OutboxRelay(env.pool, fast(timeout_seconds=1.0, lease_seconds=2.1))
    await first.start()
    await wait_until(lambda: delivery in env.receiver.stored, what="stored by the receiver")
    await crash(first)
    row = await env.pool.fetchrow("SELECT status, attempts, lease_token FROM outbox")
    assert row["status"] == "pending" and row["attempts"] == 1 and row["lease_token"] is not None
    env.receiver.mode = Mode.OK
    env.receiver.release()
    second = OutboxRelay(env.pool, fast(name="relay-restarted"))
    await second.start()
    try:
        await wait_until(lambda: all_delivered(env.pool), what="delivered after the lease ran out")
    finally:
        await second.stop()
    assert env.receiver.arrivals[delivery] == 2  # sent again: the relay could not know
    assert list(env.receiver.stored) == [delivery]  # but stored once
    assert await env.pool.fetchval("SELECT attempts FROM outbox") == 2


class DiesBeforeMarking(OutboxRelay):
    """A relay whose process dies right after the receiver answered 200, before the row is marked."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.answered: list[Attempt] = []

    async def _mark(self, row: asyncpg.Record, attempt: Attempt) -> str:
        self.answered.append(attempt)
        await asyncio.Event().wait()  # killed here
        raise AssertionError("unreachable")


async def test_a_relay_killed_after_a_successful_post_before_marking_it(env: Env) -> None:
    await dispatched(env.pool)
    await dispatched(env.pool)
    expected = await delivery_ids(env.pool)
    doomed = DiesBeforeMarking(env.pool, fast(lease_seconds=1.6, timeout_seconds=0.5))
    await doomed.start()
    await wait_until(lambda: len(doomed.answered) == 2, what="both posted")
    assert all(a.ok and a.status == 200 for a in doomed.answered)
    await crash(doomed)
    assert await env.pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'pending'") == 2
    restarted = OutboxRelay(env.pool, fast(name="relay-restarted"))
    await restarted.start()
    try:
        await wait_until(lambda: all_delivered(env.pool), what="delivered by the restarted relay")
    finally:
        await restarted.stop()
    assert set(env.receiver.stored) == expected
    assert all(env.receiver.arrivals[d] == 2 for d in expected)


async def test_a_relay_killed_while_the_post_is_in_flight(env: Env) -> None:
    env.receiver.mode = Mode.HANG
    await dispatched(env.pool)
    (delivery,) = await delivery_ids(env.pool)
    first = OutboxRelay(env.pool, fast(timeout_seconds=1.0, lease_seconds=2.1))
    await first.start()
    await wait_until(lambda: env.receiver.arrivals[delivery] == 1, what="the POST in flight")
    await crash(first)
    env.receiver.mode = Mode.OK
    env.receiver.release()
    second = OutboxRelay(env.pool, fast(name="relay-restarted"))
    await second.start()
    try:
        await wait_until(lambda: all_delivered(env.pool), what="delivered after restart")
    finally:
        await second.stop()
    assert list(env.receiver.stored) == [delivery]


class Counting(OutboxRelay):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.marked = 0

    async def _mark(self, row: asyncpg.Record, attempt: Attempt) -> str:
        self.marked += 1
        return await super()._mark(row, attempt)


async def test_two_relays_at_once_never_send_one_row_twice(env: Env) -> None:
    # Each POST outlasts several polls: a row not held by its lease would be claimed again meanwhile.
    env.receiver.delay = 0.15
    for _ in range(24):
        await dispatched(env.pool)
    expected = await delivery_ids(env.pool)
    relays = [
        Counting(env.pool, fast(name=f"relay-{i}", concurrency=4, batch_size=2, poll_seconds=0.02)) for i in range(2)
    ]
    await asyncio.gather(*(r.start() for r in relays))
    try:
        await wait_until(lambda: all_delivered(env.pool), what="all delivered")
    finally:
        await asyncio.gather(*(r.stop() for r in relays))
    assert set(env.receiver.stored) == expected
    assert set(env.receiver.arrivals.values()) == {1}  # no row was ever sent twice
    assert env.receiver.max_in_flight_per_delivery == 1
    assert all(r.marked > 0 for r in relays) and sum(r.marked for r in relays) == 24


async def test_undeliverable_pushes_die_and_a_supervisor_sends_them_again(
    env: Env, seeded_database_url: str, redis_url: str, redis
) -> None:
    env.receiver.mode = Mode.FAIL
    await dispatched(env.pool)
    await dispatched(env.pool)
    relay = OutboxRelay(env.pool, fast(max_attempts=3))
    await relay.start()
    try:
        await wait_until(
            lambda: env.pool.fetchval("SELECT count(*) = 2 FROM outbox WHERE status = 'dead'"), what="both dead"
        )
        stats = await env.pool.fetchrow("SELECT * FROM webhook_unit_stats WHERE unit_id = $1", env.key.unit_id)
        assert (stats["failures"], stats["consecutive_failures"], stats["dead"], stats["delivered"]) == (6, 6, 2, 0)
        async with callback_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
            anon = Client(session, base)
            supervisor, handler = await anon.login("supervisor"), await anon.login("cgj")
            status, body = await handler.request("GET", "/api/outbox/dead")
            assert status == 403 and body["error"]["code"] == "forbidden"
            status, dead = await supervisor.request("GET", f"/api/outbox/dead?unit_id={env.key.unit_id}&limit=1")
            assert status == 200 and len(dead["items"]) == 1 and dead["next_cursor"], dead
            item = dead["items"][0]
            assert item["attempts"] == 3 and item["last_status"] == 500 and item["last_error"].startswith("HTTP 500")
            assert item["unit_code"] == "city.cgj" and item["target_url"] == env.url
            status, page2 = await supervisor.request("GET", f"/api/outbox/dead?limit=1&cursor={dead['next_cursor']}")
            assert status == 200 and len(page2["items"]) == 1 and page2["items"][0]["id"] != item["id"]
            status, health = await supervisor.request("GET", "/api/outbox/units")
            row = next(u for u in health["items"] if u["unit_code"] == "city.cgj")
            assert row["dead_now"] == 2 and row["consecutive_failures"] == 6 and row["pending"] == 0
            env.receiver.mode = Mode.OK
            status, retried = await supervisor.request("POST", f"/api/outbox/{item['id']}/retry")
            assert status == 200 and retried["status"] == "pending" and retried["attempts"] == 0
            await wait_until(
                lambda: env.pool.fetchval("SELECT status = 'delivered' FROM outbox WHERE id = $1", item["id"]),
                what="the retried one delivered",
            )
            status, body = await supervisor.request("POST", f"/api/outbox/{item['id']}/retry")
            assert status == 409 and body["error"]["code"] == "conflict"
            status, body = await supervisor.request("POST", "/api/outbox/999999/retry")
            assert status == 404 and body["error"]["code"] == "not_found"
            status, bulk = await supervisor.request("POST", "/api/outbox/retry", json={"unit_id": env.key.unit_id})
            assert status == 200 and bulk == {"unit_id": env.key.unit_id, "retried": 1}
            await wait_until(lambda: all_delivered(env.pool), what="all delivered after the bulk retry")
    finally:
        await relay.stop()
    assert len(env.receiver.stored) == 2
    stats = await env.pool.fetchrow("SELECT * FROM webhook_unit_stats WHERE unit_id = $1", env.key.unit_id)
    assert stats["consecutive_failures"] == 0 and stats["delivered"] == 2


async def test_the_staging_switch_sends_everything_to_one_test_receiver(env: Env) -> None:
    staging = Receiver(dict(env.receiver.keys))
    async with serve(staging) as staging_base:
        await dispatched(env.pool)
        await dispatched(env.pool)
        relay = OutboxRelay(env.pool, fast(staging_url=staging_base + "/staging/inbox?env=test"))
        await relay.start()
        try:
            await wait_until(lambda: all_delivered(env.pool), what="delivered to staging")
        finally:
            await relay.stop()
    assert not env.receiver.arrivals  # the unit's own system heard nothing
    assert len(staging.stored) == 2 and not staging.refused
    assert {r.headers[ORIGINAL_URL_HEADER] for r in staging.stored.values()} == {env.url}
    assert await env.pool.fetchval("SELECT bool_and(target_url LIKE '%/staging/inbox?env=test') FROM outbox")


async def test_pushes_are_signed_with_the_units_newest_key(env: Env) -> None:
    relay = OutboxRelay(env.pool, fast())
    await relay.start()
    try:
        await dispatched(env.pool)
        await wait_until(lambda: len(env.receiver.stored) == 1, what="first push")
        (first,) = env.receiver.stored.values()
        assert first.headers[signing.KEY_HEADER] == env.key.key_id
        rotated = await issue_key(env.pool, "city.cgj")  # the receiver does not know it yet
        await dispatched(env.pool)
        await wait_until(lambda: "unknown_key" in env.receiver.refused, what="a push under the unknown new key")
        await wait_until(
            lambda: env.pool.fetchval("SELECT count(*) = 1 FROM outbox WHERE status = 'pending' AND last_status = 401"),
            what="the refusal recorded as a failed attempt",
        )
        env.receiver.keys[rotated.key_id] = rotated.secret
        await wait_until(lambda: all_delivered(env.pool), what="delivered once the receiver has the new key")
    finally:
        await relay.stop()
    second = [r for r in env.receiver.stored.values() if r is not first]
    assert [r.headers[signing.KEY_HEADER] for r in second] == [rotated.key_id]


async def test_a_unit_without_a_key_is_not_sent_unsigned_pushes(env: Env) -> None:
    await env.pool.execute("UPDATE unit_keys SET revoked_at = now()")
    await dispatched(env.pool)
    relay = OutboxRelay(env.pool, fast())
    await relay.start()
    try:
        await wait_until(
            lambda: env.pool.fetchval("SELECT last_error LIKE '%no active signing key%' FROM outbox"),
            what="the failure recorded",
        )
        assert not env.receiver.arrivals
        fresh = await issue_key(env.pool, "city.cgj")
        env.receiver.keys[fresh.key_id] = fresh.secret
        await wait_until(lambda: all_delivered(env.pool), what="delivered once a key exists")
    finally:
        await relay.stop()


async def test_a_unit_unhooked_after_the_change_is_skipped_not_retried(env: Env) -> None:
    await dispatched(env.pool)
    await env.pool.execute("UPDATE units SET webhook_url = NULL WHERE id = $1", env.key.unit_id)
    relay = OutboxRelay(env.pool, fast())
    await relay.start()
    try:
        await wait_until(lambda: env.pool.fetchval("SELECT status = 'skipped' FROM outbox"), what="skipped")
    finally:
        await relay.stop()
    assert not env.receiver.arrivals
    assert await env.pool.fetchval("SELECT attempts FROM outbox") == 1


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    config = fast(backoff_base_seconds=1.0, backoff_cap_seconds=60.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (40, 60.0)]:
        delays = [backoff(config, attempt, rng) for _ in range(200)]
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays), (attempt, min(delays), max(delays))
        assert max(delays) - min(delays) > ceiling * 0.3  # jittered, not a fixed step


def test_a_lease_shorter_than_the_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="lease_seconds"):
        fast(timeout_seconds=10.0, lease_seconds=5.0)

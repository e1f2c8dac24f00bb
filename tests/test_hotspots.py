"""Hotspot alerts: once on a replayed burst, never on steady load, once with two watches, and
again only after cooling down. Every tick is given its time."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import redis.asyncio as aioredis

from hotline import bus
from hotline.hotspots import queries
from hotline.hotspots.watch import HotspotRules, HotspotWatch
from tests.assist_helpers import taken

T = datetime(2026, 7, 15, 6, 0, tzinfo=UTC)  # a Wednesday, 14:00 in Shanghai
STREET, OTHER_STREET, CATEGORY = "320302001", "320302002", "020101"


async def burst(pool: asyncpg.Pool, start: datetime, n: int, division: str = STREET) -> list[tuple[datetime, int]]:
    """``n`` orders about one street's water, one every 8 minutes from ``start``."""
    out = []
    for i in range(n):
        at = start + timedelta(minutes=8 * i)
        out.append((at, await taken(pool, at, f"停水第{i}户", division_code=division, caller_number=f"1390000{i:04d}")))
    return out


async def test_a_replayed_burst_raises_one_alert_with_its_orders(seeded_pool: asyncpg.Pool, redis: aioredis.Redis):
    pubsub = redis.pubsub()
    await pubsub.subscribe(bus.channel(redis, "supervisors"))
    await pubsub.get_message(timeout=1)
    watch = HotspotWatch(seeded_pool, redis)
    orders = await burst(seeded_pool, T, 8)
    await burst(seeded_pool, T, 3, OTHER_STREET)  # below the floor: never an alert
    events = []
    for at, _ in orders:  # the watch ticks as the orders arrive
        events += await watch.tick(at + timedelta(seconds=30))
    events += await watch.tick(orders[-1][0] + timedelta(minutes=1))  # and once more: nothing new
    assert [e["type"] for e in events] == ["hotspot.alert"]
    alert = events[0]
    assert alert["division_code"] == STREET and alert["count"] == 5 and alert["baseline"] == 0
    assert alert["order_ids"] == [oid for _, oid in orders[:5]]
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert message and json.loads(message["data"])["hotspot_id"] == alert["hotspot_id"]
    assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2) is None
    await pubsub.aclose()
    async with seeded_pool.acquire() as conn:
        listed = await queries.list_hotspots(conn, queries.HotspotFilter(status="active"))
        one = await queries.get_hotspot(conn, alert["hotspot_id"])
    assert len(listed["items"]) == 1 and listed["items"][0]["division_name"] == "黄楼街道"
    assert one["peak_count"] == 8 and [o["id"] for o in one["orders"]] == [oid for _, oid in orders]


async def test_steady_load_at_the_usual_level_raises_nothing(seeded_pool: asyncpg.Pool) -> None:
    for week in range(1, 5):  # the same Wednesday afternoon window, four weeks running: 6 orders each
        await burst(seeded_pool, T - timedelta(weeks=week), 6)
    await burst(seeded_pool, T, 6)
    watch = HotspotWatch(seeded_pool)
    assert await watch.tick(T + timedelta(minutes=50)) == []
    # Three times the usual level would: 18 orders in the window.
    await burst(seeded_pool, T + timedelta(minutes=1), 12)
    events = await watch.tick(T + timedelta(minutes=100))
    assert [(e["type"], e["count"], e["baseline"]) for e in events] == [("hotspot.alert", 18, 6.0)]


async def test_two_watches_at_once_raise_one_alert(seeded_pool: asyncpg.Pool) -> None:
    await burst(seeded_pool, T, 6)
    a, b = HotspotWatch(seeded_pool), HotspotWatch(seeded_pool)
    at = T + timedelta(hours=1)
    results = await asyncio.gather(a.tick(at), b.tick(at), a.tick(at), b.tick(at))
    assert sum(len(r) for r in results) == 1
    assert await seeded_pool.fetchval("SELECT count(*) FROM hotspots") == 1


async def test_restarted_watch_and_cooling_down_then_a_new_burst(seeded_pool: asyncpg.Pool) -> None:
    rules = HotspotRules(window=timedelta(hours=1), floor=4, multiple=2.0)
    await burst(seeded_pool, T, 5)
    first = await HotspotWatch(seeded_pool, rules=rules).tick(T + timedelta(minutes=40))
    assert [e["type"] for e in first] == ["hotspot.alert"]
    restarted = HotspotWatch(seeded_pool, rules=rules)  # a new process: state is in the database
    assert await restarted.tick(T + timedelta(minutes=45)) == []
    cooled = await restarted.tick(T + timedelta(hours=3))
    assert [e["type"] for e in cooled] == ["hotspot.cooled"]
    assert await restarted.tick(T + timedelta(hours=3, minutes=1)) == []
    await burst(seeded_pool, T + timedelta(hours=4), 4)
    again = await restarted.tick(T + timedelta(hours=4, minutes=30))
    assert [e["type"] for e in again] == ["hotspot.alert"]
    rows = await seeded_pool.fetch("SELECT status, cooled_at FROM hotspots ORDER BY id")
    assert [(r["status"], r["cooled_at"]) for r in rows] == [("cooled", T + timedelta(hours=3)), ("active", None)]


async def test_the_worker_runs_and_stops(seeded_pool: asyncpg.Pool) -> None:
    await burst(seeded_pool, T, 5)
    watch = HotspotWatch(seeded_pool, interval=0.05, clock=lambda: T + timedelta(hours=1))
    await watch.start()
    for _ in range(100):
        if await seeded_pool.fetchval("SELECT count(*) FROM hotspots"):
            break
        await asyncio.sleep(0.05)
    await watch.stop()
    assert await seeded_pool.fetchval("SELECT count(*) FROM hotspots") == 1

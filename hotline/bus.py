"""The live bus: Redis pub/sub fan-out of events across processes.

Only for live views (screen-pop, wallboard, order updates). Nothing durable
goes here: PostgreSQL holds the truth, so a lost message only delays a view.
Publish only *after* the transaction that made the change has committed; a request's
events go through :func:`publish_soon`, so its response never waits for Redis.

Pub/sub channels are shared by every Redis database number, so every channel and
key is prefixed with the deployment's name (``HOTLINE_INSTANCE``, by default the
database's name): two deployments, or a server and a test run, on one Redis never
hear each other. A client made by :func:`connect` carries that name.

Channels (all prefixed ``hotline:{instance}:``):
- ``desktop:{user_id}``  one agent's desktop (screen-pop)
- ``unit:{unit_id}``     a unit's handlers
- ``supervisors``        wallboards and supervisors
- ``orders``             every order change
- ``sessions``           a token was logged out (sockets holding it close)
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

# Events handed to publish_soon and not yet sent, per client, in order: (channel, JSON text).
_queued: dict[aioredis.Redis, list[tuple[str, str]]] = {}
# The one task per client sending them; held so none is collected before it ran, awaited by drain().
_senders: dict[aioredis.Redis, asyncio.Task[None]] = {}

PREFIX = "hotline:"
DEFAULT_INSTANCE = "default"
_INSTANCE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Redis(aioredis.Redis):
    """A Redis client that knows the deployment it serves; channels and keys go under its name."""

    instance: str = DEFAULT_INSTANCE


def connect(url: str, instance: str) -> Redis:
    if not _INSTANCE.match(instance):
        raise ValueError(f"instance name must be 1–64 characters of [A-Za-z0-9_.-], got {instance!r}")
    client = Redis.from_url(url, decode_responses=True)
    client.instance = instance
    return client


def instance_of(redis: aioredis.Redis) -> str:
    # A plain client (a script's, a benchmark's) speaks for the default deployment.
    return getattr(redis, "instance", DEFAULT_INSTANCE)


def channel(redis: aioredis.Redis, name: str) -> str:
    return f"{PREFIX}{instance_of(redis)}:{name}"


def key(redis: aioredis.Redis, name: str) -> str:
    """A Redis key of this deployment (nonces, throttles)."""
    return f"{PREFIX}{instance_of(redis)}:{name}"


async def publish(redis: aioredis.Redis | None, name: str, event: dict[str, Any]) -> int:
    """Publish one event; returns receivers reached. Never raises: a live view is best-effort."""
    if redis is None:
        return 0
    try:
        return int(await redis.publish(channel(redis, name), json.dumps(event, ensure_ascii=False, default=str)))
    except Exception:
        log.warning("bus publish failed", extra={"channel": name, "event_type": event.get("type")}, exc_info=True)
        return 0


def publish_soon(redis: aioredis.Redis | None, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Publish (channel name, event) pairs in the background, in order: the caller's response
    never waits for Redis. One sender per client sends, in one pipelined round trip, everything
    queued while its previous round trip was out, so under load many requests' events share one
    (a task and a pipeline per request cost more than the publish itself). A failure is logged
    with its channels, never silent; a lost live event only delays a view (the database and the
    outbox are the durable path)."""
    if redis is None or not events:
        return
    texts: dict[int, str] = {}  # one encoding per event, however many channels it goes to
    queue = _queued.setdefault(redis, [])
    for name, event in events:
        text = texts.get(id(event))
        if text is None:
            text = texts[id(event)] = json.dumps(event, ensure_ascii=False, default=str)
        queue.append((channel(redis, name), text))
    loop, sender = asyncio.get_running_loop(), _senders.get(redis)
    # A sender left behind by a closed loop (tests run one per test) is replaced, not waited for.
    if sender is None or sender.done() or sender.get_loop() is not loop:
        _senders[redis] = loop.create_task(_send_queued(redis), name="bus-publish")


async def _send_queued(redis: aioredis.Redis) -> None:
    try:
        while batch := _queued.pop(redis, None):
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for name, text in batch:
                        pipe.publish(name, text)
                    await pipe.execute()
            except Exception:
                log.warning(
                    "bus publish failed",
                    extra={"channels": list(dict.fromkeys(name for name, _ in batch)), "events": len(batch)},
                    exc_info=True,
                )
    finally:
        if _senders.get(redis) is asyncio.current_task():
            del _senders[redis]


DRAIN_SECONDS = 5.0


async def drain() -> None:
    """Wait for background publications (at shutdown, before the client closes), a few seconds at most."""
    if _senders:
        await asyncio.wait(list(_senders.values()), timeout=DRAIN_SECONDS)

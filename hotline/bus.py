"""The live bus: Redis pub/sub fan-out of events across processes.

Only for live views (screen-pop, wallboard, order updates). Nothing durable
goes here: PostgreSQL holds the truth, so a lost message only delays a view.
Publish only *after* the transaction that made the change has committed.

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

import json
import logging
import re
from typing import Any

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

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

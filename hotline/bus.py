"""The live bus: Redis pub/sub fan-out of events across processes.

Only for live views (screen-pop, wallboard, order updates). Nothing durable
goes here: PostgreSQL holds the truth, so a lost message only delays a view.
Publish only *after* the transaction that made the change has committed.

Channels (all prefixed ``hotline:``):
- ``desktop:{user_id}``  one agent's desktop (screen-pop)
- ``unit:{unit_id}``     a unit's handlers
- ``supervisors``        wallboards and supervisors
- ``orders``             every order change
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

PREFIX = "hotline:"


def channel(name: str) -> str:
    return PREFIX + name


async def publish(redis: aioredis.Redis | None, name: str, event: dict[str, Any]) -> int:
    """Publish one event; returns receivers reached. Never raises: a live view is best-effort."""
    if redis is None:
        return 0
    try:
        return int(await redis.publish(channel(name), json.dumps(event, ensure_ascii=False, default=str)))
    except Exception:
        log.warning("bus publish failed", extra={"channel": name, "event_type": event.get("type")}, exc_info=True)
        return 0

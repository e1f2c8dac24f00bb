"""What an order action works with (``Services``) and what it gathers while it runs (``Change``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis

from dispatch.engine import GENERATION_SQL, Router
from hotline.auth import Principal
from hotline.deadlines.service import TOKEN_SQL, Deadlines
from hotline.orders import models as m
from hotline.orders.states import Action, Status


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Fresh:
    """The routing data's generation and the deadline policy's token, as one transaction read them:
    whether the Router's and the Deadlines' in-process copies still hold (``Router.refresh``,
    ``Deadlines.policy``)."""

    routing: int
    deadlines: UUID


async def fresh(conn: asyncpg.Connection) -> Fresh:
    """Both in one round trip, for an action that routes and counts deadlines (intake, dispatch)."""
    row = await conn.fetchrow(f"SELECT ({GENERATION_SQL}) AS routing, ({TOKEN_SQL}) AS deadlines")
    return Fresh(row["routing"], row["deadlines"])


@dataclass
class Services:
    """What actions need besides the database; the app builds one."""

    redis: aioredis.Redis | None = None
    # Sign-by, reply-by and visit-by from the active deadline policy, on the working calendar.
    deadlines: Deadlines = field(default_factory=Deadlines)
    # What time it is; tests pin it to walk an order across holidays.
    clock: Callable[[], datetime] = _utc_now
    # The routing engine; when set, a dispatch that departs from its suggestion needs a reason.
    router: Router | None = None


@dataclass
class Change:
    """What one action did, gathered while it runs and written at its end."""

    order: asyncpg.Record
    principal: Principal
    action: Action
    to_status: Status
    services: Services
    assignment_id: int | None = None
    audit: dict[str, Any] = field(default_factory=dict)
    outbox: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # topic, unit_id, payload
    live_units: set[int] = field(default_factory=set)
    order_updates: dict[str, Any] = field(default_factory=dict)
    # An action the system takes next in the same transaction (a reopened order goes back to its unit).
    follow_up: tuple[Action, m.ActionBody] | None = None
    # One moment for everything the action stamps.
    now: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.now = self.services.clock()

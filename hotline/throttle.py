"""Login throttling: a sliding window of failed logins per username and per client address.

Each failure is a member of a Redis sorted set scored by its time; the window's count is
the set's size once older members are trimmed. Too many failures in the window is a 429
whose ``Retry-After`` says when the oldest one leaves it. Separately, failures per
username since the last success are counted for a day: at ``lockout`` the account is
locked in PostgreSQL and stays locked until an admin unlocks it (``hotline users unlock``).
If Redis is down, logins are refused with 503 rather than let guessing run unchecked.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from hotline import bus
from hotline.errors import ServiceUnavailable, TooManyRequests

log = logging.getLogger(__name__)
STREAK_TTL_SECONDS = 24 * 3600


class ThrottleUnavailable(ServiceUnavailable):
    code = "throttle_unavailable"


@dataclass(frozen=True)
class Limits:
    window_seconds: int = 300
    per_username: int = 5
    per_address: int = 30
    lockout: int = 20


@dataclass(frozen=True)
class Failure:
    """What one failed login added up to."""

    in_window: int
    streak: int  # failures of this username since its last successful login
    lock: bool  # the streak has reached the lockout


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, limits: Limits, clock: Callable[[], float] = time.time) -> None:
        self.redis, self.limits, self.clock = redis, limits, clock

    def _window(self, kind: str, value: str) -> str:
        return bus.key(self.redis, f"login:{kind}:{value}")

    def _streak(self, username: str) -> str:
        return bus.key(self.redis, f"login:streak:{username}")

    async def check(self, username: str, address: str) -> None:
        """Refuse (429) before the password is even checked when either window is full."""
        now = self.clock()
        for kind, value, limit in (("user", username, self.limits.per_username),
                                   ("addr", address, self.limits.per_address)):  # fmt: skip
            name = self._window(kind, value)
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.zremrangebyscore(name, "-inf", now - self.limits.window_seconds)
                    pipe.zcard(name)
                    pipe.zrange(name, 0, 0, withscores=True)
                    _, count, oldest = await pipe.execute()
            except aioredis.RedisError as exc:
                raise ThrottleUnavailable(
                    "login throttle unavailable; retry shortly", {"error": type(exc).__name__}
                ) from None
            if count >= limit:
                retry = max(1, math.ceil(oldest[0][1] + self.limits.window_seconds - now)) if oldest else 1
                raise TooManyRequests(
                    "too many failed logins; wait before trying again",
                    retry,
                    {"by": "username" if kind == "user" else "address"},
                )

    async def failed(self, username: str, address: str) -> Failure:
        now = self.clock()
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        window = self.limits.window_seconds
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for name in (self._window("user", username), self._window("addr", address)):
                    pipe.zadd(name, {member: now})
                    pipe.zremrangebyscore(name, "-inf", now - window)
                    pipe.expire(name, window)
                pipe.zcard(self._window("user", username))
                pipe.incr(self._streak(username))
                pipe.expire(self._streak(username), STREAK_TTL_SECONDS)
                results = await pipe.execute()
        except aioredis.RedisError as exc:
            raise ThrottleUnavailable(
                "login throttle unavailable; retry shortly", {"error": type(exc).__name__}
            ) from None
        in_window, streak = int(results[-4]), int(results[-2])
        return Failure(in_window, streak, streak >= self.limits.lockout)

    async def reset_streak(self, username: str) -> None:
        """A right password (or a lock) ends the username's streak; its window keeps counting."""
        try:
            await self.redis.delete(self._streak(username))
        except aioredis.RedisError:
            log.warning("login streak not reset", extra={"username": username}, exc_info=True)

"""Bearer tokens checked once every few seconds per process, with revocation still immediate.

Every API request with a bearer token used to cost a pooled connection and a query before its
handler ran. This cache keeps a token's principal in process for ``HOTLINE_TOKEN_CACHE_SECONDS``
(0 disables it), keyed by the token's SHA-256, and never past the token's own expiry.

Revocation stays immediate across processes because PostgreSQL announces it: triggers on
``auth_tokens`` and ``users`` (sql/030_auth_notify.sql) NOTIFY ``hotline_auth`` at the revoker's
commit, whoever the revoker is (a logout on another process, the CLI, plain SQL), and each
process LISTENs on one dedicated connection (not a pooled one: a pooled connection is released
and its listeners dropped) and evicts. While that connection is down the cache is emptied and
bypassed — every request reads the database, as without a cache — until it is back.

A read that raced a revocation is not cached: ``generation`` moves on every eviction, and an
entry read before an eviction is refused (``put`` compares the generation the read began at).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from hotline.auth import Principal

log = logging.getLogger(__name__)

CHANNEL = "hotline_auth"
# How often the listener connection is checked (a silent network loss closes no socket) and,
# when it is down, how soon it is tried again.
CHECK_SECONDS = 2.0
APPLICATION_NAME = "hotline-token-cache"  # how an operator (or a test) finds the listeners in pg_stat_activity
CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    good_until: float  # monotonic: the earlier of the cache's TTL and the token's expiry


class TokenCache:
    def __init__(self, dsn: str, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.dsn, self.ttl, self.clock = dsn, ttl_seconds, clock
        self.generation = 0
        self._entries: dict[bytes, _Entry] = {}
        self._by_user: dict[int, set[bytes]] = {}
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    # ------------------------------------------------------------ lookups

    def get(self, token_hash: bytes) -> Principal | None:
        if not self.enabled or not self.listening:
            return None
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if self.clock() >= entry.good_until:
            self._drop(token_hash)
            return None
        return entry.principal

    def put(self, token_hash: bytes, principal: Principal, token_ttl_seconds: float, read_at_generation: int) -> None:
        """Keep a principal read from the database, unless an eviction came since the read began."""
        if not self.enabled or not self.listening or read_at_generation != self.generation:
            return
        self._entries[token_hash] = _Entry(principal, self.clock() + min(self.ttl, token_ttl_seconds))
        if principal.user_id is not None:
            self._by_user.setdefault(principal.user_id, set()).add(token_hash)

    # ------------------------------------------------------------ evictions

    def evict_token(self, token_hash: bytes) -> None:
        self.generation += 1
        self._drop(token_hash)

    def evict_user(self, user_id: int) -> None:
        self.generation += 1
        for token_hash in self._by_user.pop(user_id, set()):
            self._entries.pop(token_hash, None)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._by_user.clear()

    def _drop(self, token_hash: bytes) -> None:
        entry = self._entries.pop(token_hash, None)
        if entry is not None and entry.principal.user_id is not None:
            self._by_user.get(entry.principal.user_id, set()).discard(token_hash)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        kind, _, value = payload.partition(":")
        try:
            if kind == "token":
                self.evict_token(bytes.fromhex(value))
            elif kind == "user":
                self.evict_user(int(value))
            else:
                self.clear()
        except ValueError:
            self.clear()  # a payload we cannot read: forget everything rather than guess

    # ------------------------------------------------------------ the listener

    async def start(self) -> None:
        if not self.enabled:
            return
        await self._connect()
        self._task = asyncio.create_task(self._watch(), name="token-cache-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    async def _connect(self) -> None:
        try:
            conn = await asyncpg.connect(self.dsn, timeout=CHECK_TIMEOUT_SECONDS,
                                         server_settings={"application_name": APPLICATION_NAME})  # fmt: skip
            await conn.add_listener(CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("token cache listener unavailable; tokens are checked in the database",
                        extra={"error": type(exc).__name__})  # fmt: skip
            return
        conn.add_termination_listener(self._lost)
        self.clear()  # whatever happened while we were not listening is unknown
        self._conn = conn

    def _lost(self, _conn: object) -> None:
        """The listener connection closed: bypass the cache at once (``listening`` is False)."""
        log.warning("token cache listener lost; tokens are checked in the database until it is back")
        self._conn = None
        self.clear()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.remove_termination_listener(self._lost)
            await conn.close()
        self.clear()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            if not self.listening:
                await self._connect()
                continue
            try:
                await self._conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT_SECONDS)  # type: ignore[union-attr]
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("token cache listener not answering; reconnecting")
                conn, self._conn = self._conn, None
                self.clear()
                if conn is not None:
                    conn.terminate()

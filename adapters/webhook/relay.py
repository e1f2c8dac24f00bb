"""The outbox relay: delivers outbox rows to agency systems, signed, at least once.

Each round claims due rows in one short transaction (``FOR UPDATE SKIP LOCKED``, so
relays in several processes never take the same row) and leases them: the claim moves
``next_attempt_at`` a lease ahead and stamps a ``lease_token``. The POST happens outside
any transaction; then the row is marked delivered, or failed with the next attempt
after an exponential backoff with jitter, or dead after ``max_attempts``. Only the lease
holder may mark a row. A relay killed mid-delivery leaves its rows pending, and they are
claimed again when the lease runs out — so a receiver may see a delivery twice and must
deduplicate on ``X-Hotline-Delivery`` (stable across attempts); nothing is lost.

Failures are counted per unit (``webhook_unit_stats``); dead rows wait for a supervisor
(``GET /api/outbox/dead``, ``POST /api/outbox/{id}/retry``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
from yarl import URL

from adapters.webhook import signing
from adapters.webhook.config import RelayConfig
from hotline.agency import idempotency
from hotline.agency.keystore import CLEAR
from hotline.secretbox import SecretBox

log = logging.getLogger(__name__)
PUSH_CONTENT_TYPE = "application/json; charset=utf-8"

ORIGINAL_URL_HEADER = "X-Hotline-Original-Url"
_ERROR_TEXT = 500  # characters of an error kept in the row


@dataclass(frozen=True)
class Target:
    url: str | None
    key_id: str | None
    secret: str | None
    unit_code: str


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None
    error: str | None
    url: str
    skip: bool = False  # nothing to send to: the row is closed as skipped, not retried


def backoff(config: RelayConfig, attempt: int, rng: random.Random) -> float:
    """Seconds before attempt ``attempt + 1``: base·2^(attempt−1), capped, times a jitter in [0.5, 1]
    so units that failed together do not all come back at once."""
    exp = min(config.backoff_cap_seconds, config.backoff_base_seconds * 2 ** min(attempt - 1, 32))
    return exp * rng.uniform(0.5, 1.0)


class OutboxRelay:
    """A worker: ``await start()`` runs it in the background, ``await stop()`` ends it."""

    def __init__(
        self, pool: asyncpg.Pool, config: RelayConfig, *, rng: random.Random | None = None, box: SecretBox = CLEAR
    ) -> None:
        self.pool = pool
        self.box = box  # opens the units' sealed secrets
        self.config = config
        self._rng = rng or random.Random()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    # ------------------------------------------------------------ lifetime

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("relay already started")
        self._stopping.clear()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
            headers={"User-Agent": "hotline12345-webhook/1"},
        )
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay:{self.config.name}")
        log.info("outbox relay started", extra={"relay": self.config.name, "staging_url": self.config.staging_url})

    async def stop(self) -> None:
        """Stop claiming, give deliveries in flight ``stop_grace_seconds``, then cancel the rest
        (their rows are claimed again once their lease runs out)."""
        task = self._task
        if task is None:
            return
        self._stopping.set()
        self._wake.set()
        try:
            # asyncio.wait neither raises the task's error nor passes on its cancellation.
            if not task.done():
                await asyncio.wait({task}, timeout=self.config.stop_grace_seconds)
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            if not task.cancelled() and task.exception() is not None:
                log.error("outbox relay had failed", extra={"relay": self.config.name}, exc_info=task.exception())
        finally:
            self._task = None
            if self._session is not None:
                await self._session.close()
                self._session = None
        log.info("outbox relay stopped", extra={"relay": self.config.name})

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The running loop; cancelling it is what a crash looks like to the outbox."""
        return self._task

    def wake(self) -> None:
        """Look for due rows now instead of at the next poll."""
        self._wake.set()

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_housekeeping = loop.time()
        try:
            while not self._stopping.is_set():
                if loop.time() >= next_housekeeping:
                    await self._housekeeping()
                    next_housekeeping = loop.time() + self.config.housekeeping_seconds
                free = self.config.concurrency - len(self._inflight)
                claimed = 0
                if free > 0:
                    try:
                        rows = await self._claim(min(free, self.config.batch_size))
                        if rows:
                            await self._spawn(rows)
                        claimed = len(rows)
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                        # Rows claimed but not sent come back when their lease runs out.
                        log.warning("outbox claim failed", extra={"relay": self.config.name, "error": repr(exc)})
                    except Exception:
                        log.exception("outbox relay round failed", extra={"relay": self.config.name})
                if claimed and claimed == free:
                    continue  # more may be due right away
                await self._idle()
            # Stopping: let what is in flight finish (stop() cancels us if it takes too long).
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
        finally:
            for task in list(self._inflight):
                task.cancel()
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _idle(self) -> None:
        self._wake.clear()
        waiters = [asyncio.ensure_future(self._wake.wait())]
        if len(self._inflight) >= self.config.concurrency:
            waiters += list(self._inflight)  # a free slot is worth waking for
        try:
            await asyncio.wait(waiters, timeout=self.config.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiters[0].cancel()

    async def _spawn(self, rows: list[asyncpg.Record]) -> None:
        targets = await self._targets({r["unit_id"] for r in rows})
        for row in rows:
            task = asyncio.create_task(self._deliver(row, targets.get(row["unit_id"])))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def run_once(self) -> int:
        """One claim-and-deliver round, awaited to the end: for tests, scripts and benchmarks."""
        if self._session is None:
            raise RuntimeError("start() the relay, or use it as a worker")
        rows = await self._claim(self.config.batch_size)
        targets = await self._targets({r["unit_id"] for r in rows})
        await asyncio.gather(*(self._deliver(r, targets.get(r["unit_id"])) for r in rows))
        return len(rows)

    # ------------------------------------------------------------ database

    async def _claim(self, limit: int) -> list[asyncpg.Record]:
        token = uuid.uuid4()
        async with self.pool.acquire() as conn:
            return await conn.fetch(
                """WITH due AS (
                       SELECT id FROM outbox
                       WHERE status = 'pending' AND next_attempt_at <= now()
                       ORDER BY next_attempt_at, id
                       LIMIT $1
                       FOR UPDATE SKIP LOCKED)
                   UPDATE outbox o
                      SET next_attempt_at = now() + make_interval(secs => $2), lease_token = $3, locked_by = $4,
                          attempts = o.attempts + 1, last_attempt_at = now()
                     FROM due WHERE o.id = due.id
                   RETURNING o.id, o.topic, o.order_id, o.unit_id, o.payload, o.attempts, o.delivery_id,
                             o.lease_token, o.created_at""",
                limit, self.config.lease_seconds, token, self.config.name,
            )  # fmt: skip

    async def _targets(self, unit_ids: set[int]) -> dict[int, Target]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT u.id, u.code, u.webhook_url, k.key_id, k.secret FROM units u
                   LEFT JOIN LATERAL (SELECT key_id, secret FROM unit_keys
                                      WHERE unit_id = u.id AND revoked_at IS NULL
                                      ORDER BY created_at DESC, key_id LIMIT 1) k ON true
                   WHERE u.id = ANY($1::bigint[])""",
                list(unit_ids),
            )
        return {
            r["id"]: Target(
                r["webhook_url"], r["key_id"], self.box.open(r["secret"]) if r["secret"] else None, r["code"]
            )
            for r in rows
        }

    async def _mark(self, row: asyncpg.Record, attempt: Attempt) -> str:
        """Record an attempt's outcome, if the lease is still ours; returns the row's new status."""
        ids = {"outbox_id": row["id"], "delivery_id": str(row["delivery_id"]), "unit_id": row["unit_id"],
               "order_id": row["order_id"], "attempt": row["attempts"], "relay": self.config.name}  # fmt: skip
        if attempt.ok:
            status, delay = "delivered", 0.0
        elif attempt.skip:
            status, delay = "skipped", 0.0
        elif row["attempts"] >= self.config.max_attempts:
            status, delay = "dead", 0.0
        else:
            status, delay = "pending", backoff(self.config, row["attempts"], self._rng)
        async with self.pool.acquire() as conn, conn.transaction():
            held = await conn.fetchval(
                """UPDATE outbox SET status = $3,
                          delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
                          next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + make_interval(secs => $4)
                                                 ELSE next_attempt_at END,
                          last_status = $5, last_error = $6, target_url = $7, lease_token = NULL, locked_by = NULL
                   WHERE id = $1 AND lease_token = $2 RETURNING id""",
                row["id"], row["lease_token"], status, delay, attempt.status, attempt.error, attempt.url,
            )  # fmt: skip
            if held is None:
                # Our lease ran out and another relay holds the row now; its outcome will count.
                log.warning("outbox lease lost before marking", extra={**ids, "outcome": status})
                return "lost"
            if status == "skipped":
                log.info("webhook skipped", extra={**ids, "reason": attempt.error})
                return status
            await conn.execute(
                """INSERT INTO webhook_unit_stats AS s (unit_id, delivered, failures, consecutive_failures, dead,
                                                       last_success_at, last_failure_at, last_error)
                   VALUES ($1, $2::int, 1 - $2::int, 1 - $2::int, $3::int,
                           CASE WHEN $2 = 1 THEN now() END, CASE WHEN $2 = 0 THEN now() END, $4)
                   ON CONFLICT (unit_id) DO UPDATE SET
                       delivered = s.delivered + $2::int,
                       failures = s.failures + 1 - $2::int,
                       consecutive_failures = CASE WHEN $2 = 1 THEN 0 ELSE s.consecutive_failures + 1 END,
                       dead = s.dead + $3::int,
                       last_success_at = CASE WHEN $2 = 1 THEN now() ELSE s.last_success_at END,
                       last_failure_at = CASE WHEN $2 = 0 THEN now() ELSE s.last_failure_at END,
                       last_error = CASE WHEN $2 = 0 THEN $4 ELSE s.last_error END""",
                row["unit_id"], 1 if attempt.ok else 0, 1 if status == "dead" else 0, attempt.error,
            )  # fmt: skip
        if status == "delivered":
            log.info("webhook delivered", extra={**ids, "http_status": attempt.status})
        elif status == "dead":
            log.error("webhook dead after last attempt", extra={**ids, "error": attempt.error})
        else:
            log.warning(
                "webhook failed; will retry", extra={**ids, "error": attempt.error, "retry_in_s": round(delay, 1)}
            )
        return status

    async def _housekeeping(self) -> None:
        try:
            async with self.pool.acquire() as conn:
                pruned = await idempotency.prune(conn, timedelta(hours=self.config.idempotency_retention_hours))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("housekeeping failed", extra={"relay": self.config.name, "error": repr(exc)})
            return
        if pruned:
            log.info("idempotency keys pruned", extra={"count": pruned})

    # ------------------------------------------------------------ HTTP

    async def _deliver(self, row: asyncpg.Record, target: Target | None) -> None:
        """Send one row and record the outcome. Never raises (but lets cancellation through)."""
        try:
            attempt = await self._post(row, target)
            await self._mark(row, attempt)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug or the database gone: the lease runs out and the row is tried again.
            log.exception("webhook delivery crashed", extra={"outbox_id": row["id"], "unit_id": row["unit_id"]})

    async def _post(self, row: asyncpg.Record, target: Target | None) -> Attempt:
        if target is None or target.url is None:
            # The unit's system was unhooked after the row was written: there is no one to tell.
            return Attempt(False, None, "the unit has no webhook_url any more", "", skip=True)
        if target.key_id is None or target.secret is None:
            return Attempt(False, None, "the unit has no active signing key; issue one", target.url)
        url = self.config.staging_url or target.url
        body = json.dumps(self.envelope(row, target), ensure_ascii=False, default=str).encode()
        parsed = URL(url)
        headers = {
            **signing.sign_headers(
                target.key_id, target.secret, "POST", parsed.raw_path_qs, body, content_type=PUSH_CONTENT_TYPE
            ),
            signing.DELIVERY_HEADER: str(row["delivery_id"]),
            signing.TOPIC_HEADER: row["topic"],
            signing.ATTEMPT_HEADER: str(row["attempts"]),
        }
        if self.config.staging_url:
            headers[ORIGINAL_URL_HEADER] = target.url
        assert self._session is not None
        try:
            async with self._session.post(parsed, data=body, headers=headers, allow_redirects=False) as resp:
                await resp.content.read(4096)  # drain a little; the answer's body is not ours to keep
                if 200 <= resp.status < 300:
                    return Attempt(True, resp.status, None, url)
                return Attempt(False, resp.status, f"HTTP {resp.status} {resp.reason or ''}".strip(), url)
        except TimeoutError:
            return Attempt(False, None, f"timed out after {self.config.timeout_seconds} s", url)
        except aiohttp.ClientError as exc:
            return Attempt(False, None, f"{type(exc).__name__}: {exc}"[:_ERROR_TEXT], url)

    @staticmethod
    def envelope(row: asyncpg.Record, target: Target) -> dict[str, Any]:
        """What the receiver gets: the outbox payload (topic, assignment_id, order) plus who and when."""
        payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
        return {
            "delivery_id": str(row["delivery_id"]),
            "unit_code": target.unit_code,
            "created_at": row["created_at"].isoformat(),
            **payload,
        }

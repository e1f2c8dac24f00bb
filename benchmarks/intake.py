"""Intake under load: ``POST /api/orders`` and the agent's whole path over HTTP, beside the same
SQL run straight on asyncpg and a plain durable single-row insert, in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python benchmarks/intake.py [--clients 1,8,32,64] [--seconds 3]

A scratch database of a new name is created on DATABASE_URL's server (tests/scratch.py),
migrated, seeded with the 徐州 demo data and dropped at the end — nothing else is touched.
The API runs in a child process (the production app, roles ``api``) on loopback. For each
client count, each measure runs for ``--seconds`` with that many concurrent clients:

- ``http_create``: ``POST /api/orders`` as agent1001;
- ``agent_path``: create, ``GET /api/orders/{id}/route``, dispatch to the suggested unit
  (one path counted once);
- ``same_sql``: ``actions.insert_order`` in a transaction on an asyncpg pool of the server's
  size — the intake's own statements (number, order, audit, signature), no HTTP;
- ``plain_insert``: one ``INSERT`` of one row, committed (synchronous_commit as configured);
- ``http_floor``: that same insert behind a bare aiohttp route (JSON in, JSON out, a pool of the
  server's size, the same loop, in a child process of its own): no auth, no validation, no
  order — the most any HTTP intake on this stack can do on this machine. #19's two targets
  together ask ``http_create >= 0.7 * 0.5 * plain_insert``; ``http_floor / plain_insert`` shows
  what a route doing nothing but the insert reaches.

The last line is JSON: client count -> rates per second, e.g. ``{"8": {"http_create": …}}``.
The machine may be shared: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import profiling  # noqa: E402
from dispatch.engine import Router  # noqa: E402
from hotline import db  # noqa: E402
from hotline.cli import DEFAULT_DIVISIONS  # noqa: E402
from hotline.orders import actions, numbers  # noqa: E402
from hotline.orders import models as m  # noqa: E402
from hotline.seed import DEMO_PASSWORD, seed_demo  # noqa: E402
from tests.orders_helpers import who  # noqa: E402
from tests.scratch import scratch_database  # noqa: E402

POOL_MAX = 20
FLOOR_POOL = web.AppKey("floor_pool", asyncpg.Pool)
ORDER = {
    "kind": "complaint",
    "category_code": "010101",
    "content": "中山北路88号小区门口夜市占道经营，噪声扰民",
    "address": "鼓楼区黄楼街道中山北路88号",
    "division_code": "320302001",
    "caller_number": "13912341234",
    "caller_name": "张三",
    "contact_allowed": False,
}


def _serve(database_url: str, redis_url: str, port: int) -> None:
    """The child process: the production app, API role only, on loopback."""
    import logging

    from hotline.api.app import create_app
    from hotline.config import Settings

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(
        database_url=database_url, redis_url=redis_url, roles=["api"], pool_max=POOL_MAX, log_level="WARNING"
    )
    from benchmarks.profiling import run_app

    run_app(create_app(settings), port)


def _serve_floor(database_url: str, port: int) -> None:
    """The child process of ``http_floor``: one bare route doing the plain insert."""
    from hotline.serve import new_event_loop

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        app[FLOOR_POOL] = await asyncpg.create_pool(database_url, min_size=POOL_MAX, max_size=POOL_MAX)
        yield
        await app[FLOOR_POOL].close()

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def insert(request: web.Request) -> web.Response:
        body = await request.json()
        new_id = await request.app[FLOOR_POOL].fetchval(
            "INSERT INTO bench_plain (v) VALUES ($1) RETURNING id", body["content"]
        )
        return web.json_response({"id": new_id}, status=201)

    app = web.Application()
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_post("/floor", insert)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=new_event_loop(profiling.LOOP))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def rate(clients: int, seconds: float, job: Callable[[], Awaitable[None]]) -> float:
    """Completed jobs per second with ``clients`` concurrent loops for ``seconds``."""
    done = 0
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await job()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return done / (time.perf_counter() - started)


class Http:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session, self.base = session, base
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: dict | None = None) -> dict:
        async with self.session.request(method, self.base + path, json=body, headers=self.headers) as r:
            data = await r.json()
            if r.status >= 300:
                raise RuntimeError(f"{method} {path}: HTTP {r.status} {data}")
            return data

    async def create(self) -> None:
        await self.call("POST", "/api/orders", ORDER)

    async def agent_path(self) -> None:
        order = await self.call("POST", "/api/orders", ORDER)
        suggestion = await self.call("GET", f"/api/orders/{order['id']}/route")
        await self.call(
            "POST", f"/api/orders/{order['id']}/actions/dispatch",
            {"unit_id": suggestion["dispatch_to_unit_id"], "version": order["version"]},
        )  # fmt: skip


async def _wait_for(session: aiohttp.ClientSession, base: str) -> None:
    for _ in range(300):
        try:
            async with session.get(base + "/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not come up")


async def bench(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    server_url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    async with scratch_database(server_url, migrate=True, prefix="hotline_bench_intake") as url:
        print(f"scratch database {url.rsplit('/', 1)[-1]}", file=sys.stderr, flush=True)
        conn = await asyncpg.connect(url)
        try:
            await seed_demo(conn, DEFAULT_DIVISIONS)
            await conn.execute("CREATE TABLE bench_plain (id bigserial PRIMARY KEY, v text NOT NULL)")
        finally:
            await conn.close()
        port, floor_port = _free_port(), _free_port()
        spawn = multiprocessing.get_context("spawn")
        server = spawn.Process(target=_serve, args=(url, redis_url, port), daemon=True)
        floor = spawn.Process(target=_serve_floor, args=(url, floor_port), daemon=True)
        server.start()
        floor.start()
        pool = await db.create_pool(url, min_size=POOL_MAX, max_size=POOL_MAX)
        try:
            return await _measure(args, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{floor_port}", pool)
        finally:
            await pool.close()
            for child in (server, floor):
                child.terminate()
                child.join(10)


async def _measure(
    args: argparse.Namespace, base: str, floor_base: str, pool: asyncpg.Pool
) -> dict[str, dict[str, float]]:
    agent = await who(pool, "agent1001")
    data = m.NewOrder.model_validate(ORDER)

    async with pool.acquire() as conn:  # the server's router too: the intake records the order's place
        services = actions.Services(router=await Router.load(conn))

    async def same_sql() -> None:
        await numbers.prepare(pool, services.clock())
        async with pool.acquire() as conn, conn.transaction():
            await actions.insert_order(conn, services, agent, data)

    async def plain_insert() -> None:
        await pool.execute("INSERT INTO bench_plain (v) VALUES ($1)", "压测")

    out: dict[str, dict[str, float]] = {}
    connector = aiohttp.TCPConnector(limit=max(args.clients) + 4)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _wait_for(session, base)
        await _wait_for(session, floor_base)

        async def http_floor() -> None:
            async with session.post(floor_base + "/floor", json=ORDER) as r:
                await r.json()
                if r.status != 201:
                    raise RuntimeError(f"the floor route answered HTTP {r.status}")

        async with session.post(
            base + "/api/auth/login", json={"username": "agent1001", "password": DEMO_PASSWORD}
        ) as r:
            token = (await r.json())["token"]
        http = Http(session, base, token)
        await rate(4, 1.0, http.agent_path)  # warm-up: connections, pools, the router's caches
        for clients in args.clients:
            row = {
                "http_create": await rate(clients, args.seconds, http.create),
                "agent_path": await rate(clients, args.seconds, http.agent_path),
                "same_sql": await rate(clients, args.seconds, same_sql),
                "plain_insert": await rate(clients, args.seconds, plain_insert),
                "http_floor": await rate(clients, args.seconds, http_floor),
            }
            out[str(clients)] = {k: round(v, 1) for k, v in row.items()}
            ratios = (
                f"http/sql {row['http_create'] / row['same_sql']:.2f}  sql/plain {row['same_sql'] / row['plain_insert']:.2f}"
                f"  floor/plain {row['http_floor'] / row['plain_insert']:.2f}"
            )
            print(f"{clients:>3} clients: " + "  ".join(f"{k} {v:7.1f}/s" for k, v in row.items()) + "  " + ratios,
                  file=sys.stderr, flush=True)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32, 64],
                        help="comma-separated client counts (default 1,8,32,64)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per measure and client count")
    print(json.dumps(profiling.run(bench(parser.parse_args()))))


if __name__ == "__main__":
    main()

"""Agency callbacks under load: HMAC-signed replies per second and their p99, beside baselines
measured in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        /tmp/venv/bin/python benchmarks/callbacks.py [--clients 50] [--replies 2000]

A scratch database is created on DATABASE_URL's server, migrated and seeded, and dropped at
the end. ``--units`` agency units are made, each with its HMAC key and its share of signed
assignments (bulk SQL: the setup is not what is measured). The API runs in a child process
(create_app plus the callback routes, as wired in production) on loopback; ``--clients``
concurrent agency clients in this process then send:

1. baseline A: signed ``GET /api/units/me`` — HTTP, signature check, nonce in Redis, key
   lookup: the floor of any signed callback;
2. the measured load: signed ``POST /api/units/me/assignments/{id}/reply`` with an
   Idempotency-Key — the above plus the idempotency row, the lifecycle action and its
   audit row, one transaction each;
3. baseline B: the same replies as bare ``actions.act()`` calls from this process, no
   HTTP and no signature, ``--clients`` at once on a pool the size of the server's.

Printed: requests/s, p50 and p99 latency for each, and the ratios; the last line is JSON with
``signed_reply`` and ``bare_act`` (per second), ``signed_get`` and the p99s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
from yarl import URL

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.webhook import signing  # noqa: E402
from benchmarks import profiling  # noqa: E402
from hotline import db  # noqa: E402
from hotline.agency import keystore  # noqa: E402
from hotline.auth import Principal  # noqa: E402
from hotline.cli import DEFAULT_DIVISIONS  # noqa: E402
from hotline.orders import actions  # noqa: E402
from hotline.orders.states import Action  # noqa: E402
from hotline.seed import seed_demo  # noqa: E402

POOL_MAX = 20


def _serve(database_url: str, redis_url: str, port: int) -> None:
    """The child process: the production app plus the callback routes, on loopback."""
    import logging

    from hotline.api import agency_auth, units
    from hotline.api.app import create_app
    from hotline.config import Settings

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(
        database_url=database_url, redis_url=redis_url, roles=["api"], pool_max=POOL_MAX, log_json=False
    )
    app = create_app(settings)
    present = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    if ("GET", "/api/units/me") not in present:  # until create_app wires the callback API itself
        app.add_routes(units.routes)
        app.add_routes(agency_auth.routes)
    from benchmarks.profiling import run_app

    run_app(app, port)


async def _prepare(url: str, n_units: int, per_unit: int) -> list[tuple[int, str, str, list[int], list[int]]]:
    """Units with keys and, per unit, two lists of signed assignments: for HTTP replies and for bare act()."""
    conn = await asyncpg.connect(url)
    try:
        await db.migrate(conn)
        await seed_demo(conn, DEFAULT_DIVISIONS)
        await db._init_connection(conn)
        out = []
        for i in range(n_units):
            unit_id = await conn.fetchval(
                """INSERT INTO units (code, name, level, kind) VALUES ($1, $2, 'city', 'agency') RETURNING id""",
                f"bench.{i:03d}", f"压测单位{i:03d}",
            )  # fmt: skip
            issued = await keystore.create_key(conn, unit_id)
            rows = await conn.fetch(
                """WITH o AS (
                       INSERT INTO work_orders (number, kind, content, caller_number, status)
                       SELECT '2020' || lpad($1::int::text, 4, '0') || '-' || lpad(g::text, 6, '0'), 'complaint',
                              '压测诉求 ' || g, '13912341234', 'signed'
                       FROM generate_series(1, $2::int) g RETURNING id)
                   INSERT INTO assignments (order_id, unit_id, level, role, status, signed_at)
                   SELECT id, $3, 'city', 'lead', 'signed', now() FROM o RETURNING id, order_id""",
                i, 2 * per_unit, unit_id,
            )  # fmt: skip
            ids = [r["id"] for r in rows]
            out.append(
                (unit_id, issued.key_id, issued.secret, ids[:per_unit], [r["order_id"] for r in rows[per_unit:]])
            )
        return out
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _summary(name: str, latencies: list[float], wall: float) -> dict[str, float]:
    lat = sorted(latencies)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    rate = len(lat) / wall
    print(
        f"  {name:<44} {len(lat):>6} in {wall:6.2f} s  {rate:8.0f} /s   "
        f"p50 {statistics.median(lat) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms"
    )
    return {"rate": rate, "p99": p99}


async def _run_clients(jobs: list[list[Callable[[], Awaitable[None]]]]) -> tuple[list[float], float]:
    latencies: list[float] = []

    async def client(queue: list[Callable[[], Awaitable[None]]]) -> None:
        for job in queue:
            t0 = time.perf_counter()
            await job()
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(client(q) for q in jobs))
    return latencies, time.perf_counter() - started


async def _signed(
    session: aiohttp.ClientSession, base: str, key_id: str, secret: str, method: str, path: str, body: bytes,
    extra: dict[str, str],
) -> None:  # fmt: skip
    signed = signing.sign_headers(
        key_id,
        secret,
        method,
        path,
        body,
        content_type="application/json",
        idempotency_key=extra.get("Idempotency-Key", ""),
    )
    headers = {**signed, **extra}
    async with session.request(method, URL(base + path, encoded=True), data=body, headers=headers) as r:
        await r.read()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {r.status} {await r.text()}")


async def bench(args: argparse.Namespace) -> None:
    admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    name = f"hotline_bench_cb_{uuid.uuid4().hex[:8]}"
    url = await db.create_database(admin_url, name)
    server: multiprocessing.process.BaseProcess | None = None
    try:
        per_unit = max(1, args.replies // args.units)
        t0 = time.perf_counter()
        units = await _prepare(url, args.units, per_unit)
        total = per_unit * args.units
        print(f"setup: {args.units} units, {2 * total} signed assignments in {time.perf_counter() - t0:.1f} s")
        port = args.port or _free_port()
        server = multiprocessing.get_context("spawn").Process(target=_serve, args=(url, redis_url, port), daemon=True)
        server.start()
        base = f"http://127.0.0.1:{port}"
        connector = aiohttp.TCPConnector(limit=args.clients)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(200):
                try:
                    async with session.get(base + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server did not come up")
            print(f"{args.clients} concurrent clients, {total} requests each run, server in a child process\n")

            def spread(make: Callable[[int, int], Callable[[], Awaitable[None]]]) -> list[list]:
                """``total`` jobs over ``clients`` queues; job j of unit u."""
                flat = [make(u, j) for j in range(per_unit) for u in range(args.units)]
                return [flat[i :: args.clients] for i in range(args.clients)]

            def me(u: int, _j: int) -> Callable[[], Awaitable[None]]:
                _, key_id, secret, _, _ = units[u]
                return lambda: _signed(session, base, key_id, secret, "GET", "/api/units/me", b"", {})

            def reply(u: int, j: int) -> Callable[[], Awaitable[None]]:
                _, key_id, secret, assignments, _ = units[u]
                path = f"/api/units/me/assignments/{assignments[j]}/reply"
                body = json.dumps({"text": "已处理完毕，压测答复", "result": "resolved"}).encode()
                return lambda: _signed(
                    session, base, key_id, secret, "POST", path, body, {"Idempotency-Key": f"bench-{u}-{j}"}
                )

            await _run_clients(spread(me))  # warm-up: connections, pools, caches
            lat, wall = await _run_clients(spread(me))
            base_a = _summary("baseline A: signed GET /api/units/me", lat, wall)
            lat, wall = await _run_clients(spread(reply))
            measured = _summary("signed POST .../reply (idempotent)", lat, wall)

        pool = await db.create_pool(url, min_size=POOL_MAX, max_size=POOL_MAX)
        try:
            services = actions.Services()

            def bare(u: int, j: int) -> Callable[[], Awaitable[None]]:
                unit_id, _, _, _, orders = units[u]
                who = Principal(None, f"unit:bench.{u:03d}", "handler", unit_id)
                payload = actions.parse_payload(Action.REPLY, {"text": "已处理完毕，压测答复", "result": "resolved"})

                async def job() -> None:
                    await actions.act(pool, services, who, orders[j], Action.REPLY, payload)

                return job

            lat, wall = await _run_clients(spread(bare))
            base_b = _summary("baseline B: bare actions.act(reply), no HTTP", lat, wall)
        finally:
            await pool.close()
        print()
        print(f"  signed reply vs signed GET:   {measured['rate'] / base_a['rate']:.2f}x throughput, "
              f"p99 {measured['p99'] / base_a['p99']:.2f}x")  # fmt: skip
        print(f"  signed reply vs bare act():   {measured['rate'] / base_b['rate']:.2f}x throughput, "
              f"p99 {measured['p99'] / base_b['p99']:.2f}x")  # fmt: skip
        figures = {
            "clients": args.clients, "signed_reply": round(measured["rate"], 1), "bare_act": round(base_b["rate"], 1),
            "signed_get": round(base_a["rate"], 1), "signed_reply_p99_ms": round(measured["p99"] * 1000, 1),
            "bare_act_p99_ms": round(base_b["p99"] * 1000, 1),
        }  # fmt: skip
        print(json.dumps(figures))
    finally:
        if server is not None:
            server.terminate()
            server.join(10)
        await db.drop_database(admin_url, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--units", type=int, default=50, help="agency units (each its own key)")
    parser.add_argument("--replies", type=int, default=3000, help="requests per run (spread over the units)")
    parser.add_argument("--port", type=int, default=0, help="the server's port; 0: any free one")
    profiling.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()

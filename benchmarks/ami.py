"""AMI adapter throughput: events per second into PostgreSQL, beside panoramisk's bare parse rate;
and the CEL pass: CEL rows per second into call records, beside a bare SELECT of those rows.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/ami.py [--rounds 10]

Runs from a clone: the recordings come from the repository's copy (tests/data/shared) or
../shared, the database server from DATABASE_URL. The last line is JSON.

burst.ami (120 calls in 10 s, ~7,000 events) is repeated ``--rounds`` times with
distinct linkedids per round. Measured in the same run, on the same byte stream:

- bare: panoramisk's own ``AMIProtocol.data_received`` over the bytes in 64 KiB
  reads, dispatching to a no-op (parse only; its lossy decode included);
- guarded: our ``HotlineAMIProtocol`` the same way (incremental decoder, isolation);
- adapter: a bare AMI server in a separate process (benchmarks/ami_blast.py) writes the
  bytes over TCP at once; the adapter parses, interprets and upserts every call into a scratch
  PostgreSQL database (created on DATABASE_URL's server, migrated, dropped after).
  Timed from start() until every event is received and every row committed.

Then benchmarks/cel.py's CEL pass on outage.cel.csv repeated ``--cel-rounds`` times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from panoramisk.ami_protocol import AMIProtocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.ami.adapter import AmiAdapter  # noqa: E402
from adapters.ami.config import AmiNode  # noqa: E402
from adapters.ami.protocol import HotlineAMIProtocol  # noqa: E402
from adapters.ami.trace import load_trace, retagged  # noqa: E402
from benchmarks.cel import cel_rates, recording  # noqa: E402
from hotline import db  # noqa: E402

TRACE = recording(ROOT, "ami-traces/burst.ami")
CEL_EXPORT = recording(ROOT, "asterisk/outage.cel.csv")
READ = 64 * 1024


class _Sink:
    forgetable_actions = ("ping",)

    def __init__(self) -> None:
        self.events = 0
        self.awaiting_actions: list[Any] = []

    def dispatch(self, event: Any) -> None:
        self.events += 1

    def connection_lost(self, exc: Exception | None) -> None:
        pass


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def parse_rate(factory: type[AMIProtocol], data: bytes, expected: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        protocol = factory()
        protocol.connection_made(_Transport())  # type: ignore[arg-type]
        sink = _Sink()
        protocol.factory = sink
        protocol.encoding = "utf8"
        start = time.perf_counter()
        for i in range(0, len(data), READ):
            protocol.data_received(data[i : i + READ])
        best = min(best, time.perf_counter() - start)
        assert sink.events == expected, (factory.__name__, sink.events, expected)
    return expected / best


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_replay(rounds: int) -> tuple[subprocess.Popen[str], int]:
    """A bare AMI server (benchmarks/ami_blast.py) in its own process, so it does not share the
    adapter's event loop, writing the whole stream at once."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "ami_blast.py"), str(TRACE), str(port), str(rounds)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    server.stdout.readline()  # "listening"
    return server, port


async def adapter_rate(
    admin_url: str, port: int, expected_events: int, cel_rounds: int
) -> tuple[float, float, int, tuple[float, float, int, int]]:
    name = f"hotline_bench_ami_{uuid.uuid4().hex[:8]}"
    url = await db.create_database(admin_url, name)
    pool: asyncpg.Pool | None = None
    try:
        conn = await asyncpg.connect(url)
        await db.migrate(conn)
        await conn.close()
        pool = await db.create_pool(url, min_size=2, max_size=4)
        node = AmiNode(name="bench", host="127.0.0.1", port=port, username="bench", secret="bench", action_timeout=30)
        adapter = AmiAdapter([node], pool, None)
        start = time.perf_counter()
        await adapter.start()
        session = adapter.sessions["bench"]
        all_received = asyncio.Event()
        session.manager.register_event(
            "*", lambda _m, _e: all_received.set() if session.stats.events >= expected_events else None
        )
        await all_received.wait()
        received = time.perf_counter() - start
        await adapter.flush()
        stored = time.perf_counter() - start
        await adapter.stop()
        rows = await pool.fetchval("SELECT count(*) FROM calls WHERE state = 'ended'")
        cel = await cel_rates(pool, CEL_EXPORT, cel_rounds)
        return expected_events / received, expected_events / stored, rows, cel
    finally:
        if pool is not None:
            await pool.close()
        await db.drop_database(admin_url, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cel-rounds", type=int, default=50)
    args = parser.parse_args()
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        sys.exit("set DATABASE_URL to a PostgreSQL server (a scratch database is created there and dropped)")
    trace = retagged(load_trace(TRACE), args.rounds)
    data = trace.banner + b"".join(m.raw for m in trace.stream)
    events = len(trace.stream)
    calls = sum(1 for m in trace.stream if m.event == "QueueCallerJoin")
    print(f"burst.ami x {args.rounds} rounds: {events:,} events, {calls:,} calls, {len(data) / 1e6:.1f} MB")

    bare = parse_rate(AMIProtocol, data, events)
    guarded = parse_rate(HotlineAMIProtocol, data, events)
    server, port = start_replay(args.rounds)
    try:
        received, stored, rows, (cel_bare, cel_pass, cel_rows, cel_calls) = asyncio.run(
            adapter_rate(admin_url, port, events, args.cel_rounds)
        )
    finally:
        server.terminate()
        server.wait(10)
    assert rows == calls, f"{rows} call rows stored, {calls} expected"

    print(f"{'panoramisk AMIProtocol, parse only':<48}{bare:>12,.0f} events/s   1.00")
    print(f"{'HotlineAMIProtocol, parse only':<48}{guarded:>12,.0f} events/s   {guarded / bare:.2f}")
    print(f"{'adapter over TCP, events received':<48}{received:>12,.0f} events/s   {received / bare:.2f}")
    label = f"adapter over TCP, all {rows:,} calls committed"
    print(f"{label:<48}{stored:>12,.0f} events/s   {stored / bare:.2f}")
    print(f"{'CEL: bare SELECT of the rows':<48}{cel_bare:>12,.0f} rows/s     1.00")
    label = f"CEL pass, {cel_calls:,} calls written"
    print(f"{label:<48}{cel_pass:>12,.0f} rows/s     {cel_pass / cel_bare:.2f}")
    result = {
        "benchmark": "ami",
        "events": events,
        "ami_events_per_s_into_postgres": round(stored),
        "ami_bare_parse_events_per_s": round(bare),
        "ami_ratio": round(stored / bare, 3),
        "cel_rows": cel_rows,
        "cel_rows_per_s_into_calls": round(cel_pass),
        "cel_bare_select_rows_per_s": round(cel_bare),
        "cel_ratio": round(cel_pass / cel_bare, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

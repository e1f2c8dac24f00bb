"""Run a benchmark's server under pyinstrument when ``HOTLINE_BENCH_PROFILE`` names a file.

    HOTLINE_BENCH_PROFILE=/tmp/intake.txt .venv/bin/python benchmarks/intake.py --clients 32

The child process samples its own main thread (the event loop) for its whole life and writes
pyinstrument's text report there when it is stopped, so the report says where a request's
time went in the server: parsing, the pool, SQL round trips, JSON, logging. Without the
variable the server runs as it always did. pyinstrument is in the ``bench`` extra. Both run on the loop
``hotline serve`` uses (``HOTLINE_EVENT_LOOP``, uvloop by default), and so does ``run``.

    HOTLINE_BENCH_PROFILE=cpu:/tmp/intake.txt .venv/bin/python benchmarks/intake.py --clients 32

counts CPU time instead (cProfile on ``time.process_time``, the functions by their own CPU
and by their callees'): on a shared, busy machine the process waits for a core so often that
wall-time samples land on whatever frame happened to run when it got one back.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

from hotline.config import Settings
from hotline.serve import new_event_loop

T = TypeVar("T")
# The loop production serves on (HOTLINE_EVENT_LOOP), for the server and for the benchmark's own
# side (its in-process baselines run on the same kind of loop as the server they are set against).
LOOP = Settings().event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the production loop."""
    with asyncio.Runner(loop_factory=lambda: new_event_loop(LOOP)) as runner:
        return runner.run(main)


def _serve(app: web.Application, port: int) -> None:
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=new_event_loop(LOOP))


def run_app(app: web.Application, port: int) -> None:
    target = os.environ.get("HOTLINE_BENCH_PROFILE")
    if not target:
        _serve(app, port)
        return
    if target.startswith("cpu:"):
        _run_cpu_profiled(app, port, target.removeprefix("cpu:"))
        return
    from pyinstrument import Profiler

    # async_mode disabled: the loop thread's wall time as a whole, every task's frames in one tree.
    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        _serve(app, port)
    finally:
        profiler.stop()
        with open(target, "w") as out:
            out.write(profiler.output_text(unicode=True, show_all=False))


def _run_cpu_profiled(app: web.Application, port: int, target: str) -> None:
    import cProfile
    import pstats
    import time

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        _serve(app, port)
    finally:
        profiler.disable()
        with open(target, "w") as out:
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(60)
            stats.sort_stats("cumulative").print_stats(120)

"""``hotline serve``: one API process, or ``--workers N`` of them on one port.

With N > 1 the command supervises N processes (spawned, each with its own event loop and
pool), every one listening on the same host:port with ``SO_REUSEPORT`` so the kernel spreads
connections between them. The background roles (``HOTLINE_ROLES`` other than ``api``) run in
process 0 only; the others serve the API alone. ``/metrics`` from any process answers for
all of them: prometheus_client's multiprocess mode, each process writing its counters to a
shared folder the parent creates and removes. If one process dies the command stops the
others and exits non-zero, so a supervisor (systemd, Kubernetes) restarts the whole set.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from multiprocessing.connection import wait
from types import FrameType

from aiohttp import web

from hotline import logs
from hotline.config import Settings

log = logging.getLogger("hotline")
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def serve(settings: Settings, workers: int) -> int:
    if workers == 1:
        _run(settings, 0, reuse_port=False)
        return 0
    if "api" not in settings.roles:
        print("error: --workers needs the api role (HOTLINE_ROLES)", file=sys.stderr)
        return 2
    metrics_dir = tempfile.mkdtemp(prefix="hotline-metrics-")
    os.environ[METRICS_DIR] = metrics_dir  # inherited by the spawned processes before they import prometheus_client
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_child, args=(_roles_of(settings, i), i), name=f"hotline-api-{i}") for i in range(workers)
    ]
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        for p in procs:
            p.start()
        wait([p.sentinel for p in procs])  # returns when the first one ends
        return 0 if all(p.exitcode == 0 for p in procs if p.exitcode is not None) else 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(procs)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _roles_of(settings: Settings, index: int) -> Settings:
    return settings if index == 0 else settings.model_copy(update={"roles": ["api"]})


def _child(settings: Settings, index: int) -> None:
    logs.setup(settings.log_level, settings.log_json)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM, once
    _run(settings, index, reuse_port=True)


def _run(settings: Settings, index: int, *, reuse_port: bool) -> None:
    from hotline.api.app import create_app

    sock = _listen(settings.host, settings.port, reuse_port)
    extra = {"host": settings.host, "port": settings.port, "pid": os.getpid(), "index": index, "roles": settings.roles}
    log.info("serving", extra=extra)
    if index == 0:
        print(f"hotline listening on http://{settings.host}:{settings.port}  (Ctrl-C to stop)", flush=True)
    app = create_app(settings)
    app.on_startup.append(_announce_ready)  # after the cleanup contexts: pool, Redis and workers are up
    web.run_app(app, sock=sock, print=None, loop=new_event_loop(settings.event_loop))


def new_event_loop(kind: str) -> asyncio.AbstractEventLoop:
    """The loop a server runs on (``HOTLINE_EVENT_LOOP``)."""
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


async def _announce_ready(_app: web.Application) -> None:
    # The loop that actually runs (uvloop's is "uvloop.Loop"), so an operator sees which one served.
    loop = type(asyncio.get_running_loop())
    log.info("ready", extra={"pid": os.getpid(), "loop": f"{loop.__module__}.{loop.__qualname__}"})


def _listen(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _stop(procs: list[multiprocessing.process.BaseProcess], grace: float = 10.0) -> None:
    """SIGTERM (aiohttp shuts down cleanly: workers stop, pools close), then SIGKILL stragglers."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(grace)
        if p.is_alive():
            p.kill()
            p.join()

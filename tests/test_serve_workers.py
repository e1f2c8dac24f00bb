"""``hotline serve --workers 2``: two real processes on one port, the background roles in
one of them, /metrics summing both. Bounded in time; every process is stopped at the end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from hotline.config import Settings

DEADLINE = 40.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _records(log: Path) -> list[dict]:
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line from a library that does not log through ours
    return out


def _get(url: str) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return resp.status, resp.read().decode()


@pytest.fixture
def two_workers(database_url: str, redis_url: str, tmp_path: Path):
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "HOTLINE_LOG_LEVEL": "INFO"}
    env.pop("HOTLINE_ROLES", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "serve", "--workers", "2", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        yield port, log, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        if not _exited(proc, within=15):
            proc.kill()
            proc.wait()


def _exited(proc: subprocess.Popen, within: float) -> bool:
    # Popen.wait(timeout) sleeps with time.sleep, which fails under libfaketime (CI's moved-clock run).
    deadline = time.monotonic() + within
    while proc.poll() is None and time.monotonic() < deadline:
        threading.Event().wait(0.05)
    return proc.poll() is not None


def _wait_until_both_listen(port: int, log: Path, proc: subprocess.Popen) -> list[dict]:
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE:
        assert proc.poll() is None, log.read_text()[-2000:]
        records = _records(log)
        serving = [r for r in records if r.get("msg") == "serving"]
        ready = sum(r.get("msg") == "ready" for r in records)
        if len(serving) == 2 and ready == 2:
            return records
        # not time.sleep: under libfaketime (CI's moved-clock run) its clock_nanosleep fails with EINVAL
        threading.Event().wait(0.2)
    raise AssertionError(f"not both listening in {DEADLINE}s: {log.read_text()[-2000:]}")


def test_two_workers_share_one_port_run_the_background_roles_once_and_sum_metrics(two_workers) -> None:
    port, log, proc = two_workers
    records = _wait_until_both_listen(port, log, proc)
    serving = [r for r in records if r.get("msg") == "serving"]
    assert {r["port"] for r in serving} == {port} and len({r["pid"] for r in serving}) == 2
    # Both serve on uvloop (HOTLINE_EVENT_LOOP's default), not on the standard library's loop.
    assert [r["loop"] for r in records if r.get("msg") == "ready"] == ["uvloop.Loop"] * 2
    every = Settings.model_fields["roles"].default_factory()
    assert sorted((r["roles"] for r in serving), key=len) == [["api"], every]  # one api only, one with every role

    for _ in range(30):
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    _, text = _get(f"http://127.0.0.1:{port}/metrics")
    healthz = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("hotline_http_requests_total{") and 'route="/healthz"' in line
    ]
    # 30 new connections spread over two processes: only a sum over both can count all 30.
    assert sum(healthz) == 30

    started = Counter((r["role"], r["worker"]) for r in _records(log) if r.get("msg") == "worker started")
    assert set(started.values()) == {1}  # each background worker once, in one process
    assert {role for role, _ in started} >= {"clock", "outbox", "assist"}


def test_a_second_serve_on_a_taken_port_fails_instead_of_claiming_to_listen(database_url: str, redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
        # No timeout= here (a timed wait sleeps, which fails under libfaketime); pytest-timeout bounds it.
        out = subprocess.run(
            [sys.executable, "-m", "hotline.cli", "serve", "--port", str(port)],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
    assert out.returncode == 1 and "Address already in use" in out.stderr and "listening" not in out.stdout

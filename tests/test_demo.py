"""`hotline demo` end to end: AMI replay → orders → routing → signed agency replies → visits → summary."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg

from hotline.cli import DEFAULT_DIVISIONS, DEFAULT_TRACE
from hotline.config import Settings
from hotline.db import drop_database, with_database
from hotline.demo.runner import Demo
from hotline.embedded import Embedded


async def test_demo_runs_the_whole_centre(servers: Embedded, redis_url: str, shared_dir: Path) -> None:
    trace_text = (shared_dir / "ami-traces" / "basic.ami").read_bytes()
    assert DEFAULT_TRACE.read_bytes() == trace_text  # the bundled copy is the shared recording
    name = f"hotline_demo_{uuid.uuid4().hex[:8]}"
    said: list[str] = []
    settings = Settings(database_url=servers.database_url, redis_url=redis_url, roles=["api", "ami", "clock", "outbox"])
    try:
        result = await Demo(settings, DEFAULT_TRACE, DEFAULT_DIVISIONS, said.append, database=name).run()
        conn = await asyncpg.connect(with_database(servers.database_url, name))
        try:
            unfinished = await conn.fetchval("SELECT count(*) FROM work_orders WHERE status <> 'closed'")
            dead = await conn.fetchval("SELECT count(*) FROM outbox WHERE status = 'dead'")
        finally:
            await conn.close()
    finally:
        await drop_database(servers.database_url, name)
    # counts read from the trace itself
    assert result.calls == {
        "answered": trace_text.count(b"Event: AgentConnect\r\n"),
        "abandoned": trace_text.count(b"Event: QueueCallerAbandon\r\n"),
    }
    assert result.orders == {"closed": 20} and unfinished == 0
    assert result.pushes_delivered >= 17 and dead == 0
    text = "\n".join(result.summary)
    # the README's calls line, on whatever day this runs: the trace's calls count over their own days
    assert text.startswith(
        "calls: offered 20, answered 13 (65%), abandoned 7, service level 15 s 30%, 20 s 45%, "
        "avg speed of answer 14.7 s, avg handle 3.2 s\n"
    )
    assert "orders: received 20, answered directly 3, closed 20 (unreachable 1), reopened (重办) 1" in text
    assert any("returned a misrouted order" in line for line in said)
    # three assignments made late: all three past sign-by (their warnings superseded), two past
    # reply-by, one past 80 % of its reply time only
    assert "deadline clock: deadline_overdue 5, deadline_warning 1" in text

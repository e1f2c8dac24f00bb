"""No input can break the adapter, each case over a real socket: a recorded trace with one field
made bad is replayed into the adapter; the call is still stored (flagged, its value replaced or
clamped), the others are untouched, and the session neither loops nor re-sends actions."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from adapters.ami.adapter import AmiAdapter
from adapters.ami.protocol import AMIConnectionLost
from adapters.ami.replay import Cut, ReplayServer
from adapters.ami.trace import SEPARATOR, Trace, TraceMessage, parse_headers
from tests.ami_helpers import NODE, SECRET, USER, calls, node_for, replay_into, settle, trace, trace_facts, wait_for

Edit = Callable[[bytes], bytes]


def _set(header: str, value: str) -> Edit:
    pattern = re.compile(rb"^" + header.encode() + rb": [^\r]*\r$", re.MULTILINE)
    return lambda raw: pattern.sub(f"{header}: {value}\r".encode(), raw, count=1)


def edited(t: Trace, edits: dict[int, Edit]) -> Trace:
    """The trace with stream messages at these positions rewritten."""
    stream = []
    for i, msg in enumerate(t.stream):
        if i in edits:
            raw = edits[i](msg.raw)
            msg = TraceMessage(raw, parse_headers(raw[: -len(SEPARATOR)]))
        stream.append(msg)
    return Trace(t.banner, stream, t.groups)


def nth(t: Trace, event: str, n: int = 0) -> int:
    return [i for i, m in enumerate(t.stream) if m.event == event][n]


def server(t: Trace, **kw) -> ReplayServer:  # type: ignore[no-untyped-def]
    return ReplayServer(t, username=USER, secret=SECRET, **kw)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "99999999999", "1e400", "soon", "0"])
async def test_an_unbelievable_timestamp_takes_the_receive_time_and_flags_the_call(
    pool: asyncpg.Pool, shared_dir: Path, bad: str
) -> None:
    base = trace(shared_dir, "basic")
    join = nth(base, "QueueCallerJoin", 1)
    victim = base.stream[join].get("Linkedid")
    recorded = float(base.stream[join].get("Timestamp") or 0)
    await replay_into(pool, None, server(edited(base, {join: _set("Timestamp", bad)})))
    rows = await calls(pool)
    assert rows.keys() == trace_facts(base)["joined"]  # not one call lost
    assert rows[victim]["incomplete"] and rows[victim]["state"] == "ended"
    assert abs(rows[victim]["entered_at"].timestamp() - recorded) < 60  # the node clock, not the bad value
    assert [lid for lid, r in rows.items() if r["incomplete"]] == [victim]


async def test_out_of_range_integers_are_clamped_and_flagged(pool: asyncpg.Pool, shared_dir: Path) -> None:
    base = trace(shared_dir, "basic")
    connect, complete = nth(base, "AgentConnect", 0), nth(base, "AgentComplete", 1)
    hold_victim = base.stream[connect].get("Linkedid")
    talk_victim = base.stream[complete].get("Linkedid")
    bad = edited(base, {connect: _set("HoldTime", "-3"), complete: _set("TalkTime", "99999999999")})
    await replay_into(pool, None, server(bad))
    rows = await calls(pool)
    assert rows.keys() == trace_facts(base)["joined"]
    assert rows[hold_victim]["hold_time"] is not None and rows[hold_victim]["incomplete"]
    assert rows[talk_victim]["talk_time"] == 7 * 24 * 3600 and rows[talk_victim]["incomplete"]
    assert all(r["state"] == "ended" for r in rows.values())


async def test_a_repeated_header_takes_its_first_value(pool: asyncpg.Pool, shared_dir: Path) -> None:
    base = trace(shared_dir, "basic")
    join = nth(base, "QueueCallerJoin", 0)
    lid = base.stream[join].get("Linkedid") or ""

    def repeat(raw: bytes) -> bytes:
        return raw.replace(f"Linkedid: {lid}\r\n".encode(), f"Linkedid: {lid}\r\nLinkedid: garbage\r\n".encode(), 1)

    await replay_into(pool, None, server(edited(base, {join: repeat})))
    rows = await calls(pool)
    assert rows.keys() == trace_facts(base)["joined"] and not rows[lid]["incomplete"]


async def test_a_nan_timestamp_before_a_cut_does_not_loop_reconnects(pool: asyncpg.Pool, shared_dir: Path) -> None:
    base = trace(shared_dir, "basic")
    at = len(base.stream) // 2
    bad = edited(base, {at - 1: _set("Timestamp", "nan"), at - 2: _set("Timestamp", "inf")})
    srv = server(bad, cuts=[Cut(after_events=at)])
    adapter = await replay_into(pool, None, srv)
    stats = adapter.sessions[NODE].stats
    assert (srv.connections, srv.logins) == (2, 2)  # one cut, one reconnect: no loop
    assert stats.events >= len(base.stream) and stats.timestamps_replaced == 2
    assert (await calls(pool)).keys() == trace_facts(base)["joined"]


async def test_call_changing_actions_are_never_resent_after_a_reconnect(pool: asyncpg.Pool, shared_dir: Path) -> None:
    srv = server(trace(shared_dir, "basic"), mute_connections={1})  # the first connection goes deaf
    await srv.start()
    adapter = AmiAdapter([node_for(srv, ping_interval=0.2, ping_timeout=0.3)], pool, None)
    await adapter.start()
    session = adapter.sessions[NODE]
    try:
        await asyncio.wait_for(session.logged_in.wait(), 5)
        actions = [
            session.manager.send_action({"Action": name, "Channel": "Local/1001@agents-00000001;1", "Exten": "expert"})
            for name in ("Redirect", "Setvar", "BlindTransfer", "Atxfer", "QueuePause", "Originate")
        ]
        for future in actions:
            with pytest.raises(AMIConnectionLost):
                await asyncio.wait_for(future, 5)
        await wait_for(lambda: srv.logins == 2, 5, "the second login")
        await settle(adapter, srv)
    finally:
        await adapter.stop()
        await srv.close()
    for name in ("Redirect", "Setvar", "BlindTransfer", "Atxfer", "QueuePause", "Originate"):
        assert srv.actions.count(name) == 1, name


async def test_logged_in_again_within_two_seconds_of_asterisk_accepting(pool: asyncpg.Pool, shared_dir: Path) -> None:
    t = trace(shared_dir, "basic")
    first = server(t)
    _, port = await first.start()
    node = node_for(first, reconnect_min=0.25, reconnect_max=1.0)  # the defaults
    assert node.reconnect_max <= 1.5
    adapter = AmiAdapter([node], pool, None)
    await adapter.start()
    second = server(t)
    try:
        await settle(adapter, first)
        await first.close()  # Asterisk gone: connections refused for 4 s
        await asyncio.sleep(4)
        await second.start(port=port)
        accepting = asyncio.get_running_loop().time()
        await wait_for(lambda: second.logins == 1, 5, "the login after the outage")
        assert asyncio.get_running_loop().time() - accepting < 2.0
    finally:
        await adapter.stop()
        await second.close()


def test_the_backoff_cannot_be_configured_past_the_cap() -> None:
    from pydantic import ValidationError

    from adapters.ami.config import AmiNode

    with pytest.raises(ValidationError):
        AmiNode(name="pbx1", host="h", username="u", secret="s", reconnect_max=30)


async def test_the_node_clock_ignores_what_it_cannot_believe() -> None:
    from adapters.ami.session import NodeClock

    clock = NodeClock()
    now = datetime.now(UTC).timestamp()
    assert clock.observe(f"{now:.6f}")[1]
    for bad in ("nan", "inf", "x", f"{now + 10 * 86400:.6f}", "1e20"):
        at, trusted = clock.observe(bad)
        assert not trusted and abs(at.timestamp() - now) < 5
    for _ in range(3):  # the node's clock really was stepped: followed after a few agreeing events
        _, trusted = clock.observe(f"{now + 7200:.6f}")
    assert trusted and abs(clock.now().timestamp() - (now + 7200)) < 5

"""GET /api/calls and /api/calls/{id}: calls with their queue and agent legs, filtered by time,
queue and agent; bad filters are 422s, units are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from adapters.cel.importer import import_csv
from tests.api_helpers import Client, running_server
from tests.cel_helpers import asterisk_dir
from tests.test_api import assert_error

REDIRECTED, ATTENDED = "1796176166.122", "1796176202.142"


@pytest.fixture
async def agent(seeded_database_url: str, redis_url: str, shared_dir: Path) -> AsyncIterator[Client]:
    conn = await asyncpg.connect(seeded_database_url)
    try:
        await import_csv(conn, conn, asterisk_dir(shared_dir) / "transfers.cel.csv", "pbx1",
                         now=datetime(2026, 12, 2, 3, tzinfo=UTC))  # fmt: skip
    finally:
        await conn.close()
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        yield await Client(session, base).login("agent1001")


async def test_a_transferred_call_shows_both_legs(agent: Client) -> None:
    status, page = await agent.request("GET", "/api/calls?queue=expert")
    assert status == 200, page
    by_linkedid = {c["linkedid"]: c for c in page["calls"]}
    assert len(by_linkedid) == 3 and REDIRECTED in by_linkedid
    status, call = await agent.request("GET", f"/api/calls/{by_linkedid[REDIRECTED]['id']}")
    assert status == 200, call
    assert [q["queue"] for q in call["queue_legs"]] == ["hotline", "expert"]
    talked = [a for a in call["agent_legs"] if a["answered_at"]]
    assert [(a["interface"], a["queue"], a["ended_by"]) for a in talked] == [
        ("Local/1003@agents", "hotline", "redirect"),
        ("Local/2001@agents", "expert", "agent"),
    ]
    assert talked[0]["username"] == "agent1003" and talked[1]["username"] is None
    assert [q["answered_by_leg"] for q in call["queue_legs"]] == [a["seq"] for a in talked]
    assert call["orders"] == []


async def test_filters_by_agent_and_time(agent: Client) -> None:
    status, page = await agent.request("GET", "/api/calls?agent=agent1001")
    assert status == 200 and {c["linkedid"] for c in page["calls"]} == {"1796176166.123", ATTENDED}
    status, page = await agent.request("GET", "/api/calls?agent=Local/2001@agents")
    assert status == 200 and len(page["calls"]) == 3
    status, page = await agent.request(
        "GET", "/api/calls", params={"from": "2026-12-02T01:49:40+00:00", "to": "2026-12-02T02:00:00+00:00"}
    )
    assert status == 200 and {c["linkedid"] for c in page["calls"]} == {"1796176187.136", ATTENDED}


async def test_pages_follow_the_cursor(agent: Client) -> None:
    seen: list[str] = []
    path = "/api/calls?limit=2"
    while path:
        status, page = await agent.request("GET", path)
        assert status == 200, page
        seen += [c["linkedid"] for c in page["calls"]]
        path = f"/api/calls?limit=2&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize(
    "query",
    ["from=yesterday", "from=2026-12-02T01:00:00", "from=2026-12-03T00:00:00Z&to=2026-12-02T00:00:00Z",
     "limit=0", "limit=100000", "cursor=nonsense", "colour=blue"],
)  # fmt: skip
async def test_bad_filters_are_422(agent: Client, query: str) -> None:
    status, body = await agent.request("GET", f"/api/calls?{query}")
    assert_error(status, body, 422, "invalid_input")


async def test_unknown_call_and_units(agent: Client) -> None:
    status, body = await agent.request("GET", "/api/calls/99999999999999999999")
    assert_error(status, body, 404, "not_found")
    unit = await Client(agent.session, agent.base).login("cgj")
    status, body = await unit.request("GET", "/api/calls")
    assert_error(status, body, 403, "forbidden")

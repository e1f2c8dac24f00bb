"""The figures API over real HTTP: who may read it, what bad parameters get, and that it
serves the numbers of the hand-computed data sets in test_figures / test_call_kpis."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest

from tests.api_helpers import Client, running_server
from tests.test_api import assert_error
from tests.test_call_kpis import load_calls
from tests.test_figures import Data, load_october


@pytest.fixture
async def anon(seeded_database_url: str, redis_url: str) -> AsyncIterator[Client]:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        yield Client(session, base)


@pytest.fixture
async def data(seeded_pool: asyncpg.Pool) -> Data:
    await load_calls(seeded_pool)
    return await load_october(seeded_pool)


@pytest.fixture
async def supervisor(anon: Client, data: Data) -> Client:
    return await anon.login("supervisor")


OCT = "period=month&date=2026-10-15"


async def test_auth(anon: Client, data: Data) -> None:
    status, body = await anon.request("GET", f"/api/figures?{OCT}")
    assert_error(status, body, 401, "unauthenticated")
    for user in ("agent1001", "cgj"):
        client = await anon.login(user)
        for path in ("/api/figures", "/api/figures.csv", "/api/figures/orders?metric=reply_rate",
                     "/api/figures/trend?metric=reply_rate&from=2026-10-01&to=2026-10-02", "/api/figures/calls"):  # fmt: skip
            status, body = await client.request("GET", path)
            assert_error(status, body, 403, "forbidden")
    admin = await anon.login("admin")
    status, _ = await admin.request("GET", f"/api/figures?{OCT}")
    assert status == 200


@pytest.mark.parametrize(
    "query",
    [
        "group=province",
        "period=year",
        "period=month&date=2026-13-01",
        "from=2026-10-05",  # to missing
        "from=2026-10-05&to=2026-10-01",  # reversed
        "from=2025-01-01&to=2026-06-01",  # longer than a year
        "period=day&from=2026-10-01&to=2026-10-02",  # both ways at once
        "depth=4&group=category",
        "level=planet",
        "period=week&date=0001-01-01",  # week arithmetic would leave the calendar
        "period=month&date=9999-12-31",
        "response_hours=0",
        "colour=blue",
    ],
)
async def test_bad_parameters_are_422(supervisor: Client, query: str) -> None:
    status, body = await supervisor.request("GET", f"/api/figures?{query}")
    assert_error(status, body, 422, "invalid_input")


async def test_bad_drill_trend_and_calls_parameters_are_422(supervisor: Client) -> None:
    for path in (
        "/api/figures/orders?metric=happiness",
        "/api/figures/orders?metric=reply_rate&side=middle",
        "/api/figures/orders?metric=reply_rate&limit=0",
        "/api/figures/orders?metric=direct_rate&group=unit&key=1",  # orders have no unit
        "/api/figures/trend?metric=reply_rate",  # a trend needs a range
        "/api/figures/trend?metric=reply_rate&period=month",
        "/api/figures/calls?by=weekday",
        "/api/figures/orders?metric=dispatched&cursor=garbage",
        "/api/figures/trend?metric=direct_rate&from=2026-10-01&to=2026-10-02&key=1",
        "/api/figures.csv?group=province",
    ):
        status, body = await supervisor.request("GET", path)
        assert_error(status, body, 422, "invalid_input")


async def test_figures_table(supervisor: Client, data: Data) -> None:
    status, body = await supervisor.request("GET", f"/api/figures?group=unit&{OCT}")
    assert status == 200, body
    assert body["period"]["from"] == "2026-10-01" and body["period"]["to"] == "2026-10-31"
    assert body["period"]["start"] == "2026-10-01T00:00:00+08:00"
    rows = {r["code"]: r for r in body["rows"]}
    # See test_figures.test_october_by_unit for the arithmetic.
    assert (rows["city.cgj"]["dispatched"], rows["city.cgj"]["reply_on_time_rate"]) == (5, 0.4)
    assert (rows["street.320302002"]["dispatched"], rows["street.320302002"]["reply_rate"]) == (0, None)
    assert (body["total"]["dispatched"], body["total"]["direct_rate"]) == (9, 0.1429)
    status, body = await supervisor.request("GET", "/api/figures?group=district&from=2026-10-01&to=2026-10-31")
    assert status == 200 and {r["key"]: r["dispatched"] for r in body["rows"]}["320302"] == 7


async def test_drill_down(supervisor: Client, data: Data) -> None:
    c = data.units["C"]
    path = f"/api/figures/orders?metric=reply_on_time_rate&side=numerator&group=unit&key={c}&{OCT}"
    status, body = await supervisor.request("GET", path)
    assert status == 200, body
    assert [i["assignment_id"] for i in body["items"]] == [data.assignments["A4"], data.assignments["A1"]]
    assert body["next_cursor"] is None
    status, body = await supervisor.request("GET", f"/api/figures/orders?metric=dispatched&key={c}&limit=4&{OCT}")
    assert len(body["items"]) == 4 and body["next_cursor"]
    status, body = await supervisor.request(
        "GET", f"/api/figures/orders?metric=dispatched&key={c}&cursor={body['next_cursor']}&{OCT}"
    )
    assert [i["assignment_id"] for i in body["items"]] == [data.assignments["A5"]]


async def test_csv(supervisor: Client, data: Data) -> None:
    async with supervisor.session.get(
        f"{supervisor.base}/api/figures.csv?{OCT}", headers={"Authorization": f"Bearer {supervisor.token}"}
    ) as r:
        assert r.status == 200
        assert r.content_type == "text/csv" and r.charset == "utf-8"
        assert "attachment" in r.headers["Content-Disposition"]
        raw = await r.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["代码", "名称", "派单量"]
    assert rows[-1][1:3] == ["合计", "9"]


async def test_trend(supervisor: Client, data: Data) -> None:
    status, body = await supervisor.request(
        "GET", f"/api/figures/trend?metric=reply_on_time_rate&from=2026-10-14&to=2026-10-17&key={data.units['C']}"
    )
    assert status == 200, body
    assert [(p["date"], p["value"]) for p in body["points"]] == [
        ("2026-10-14", None), ("2026-10-15", 1.0), ("2026-10-16", 0.0), ("2026-10-17", None),
    ]  # fmt: skip
    # The no-place row by district: A4, dispatched 10-08 with no deadline.
    status, body = await supervisor.request(
        "GET", "/api/figures/trend?metric=dispatched&group=district&key=none&from=2026-10-07&to=2026-10-09"
    )
    assert [p["value"] for p in body["points"]] == [0, 1, 0]


async def test_calls(supervisor: Client, data: Data) -> None:
    status, body = await supervisor.request("GET", "/api/figures/calls?by=queue&from=2026-10-01&to=2026-10-31")
    assert status == 200, body
    assert [(r["queue"], r["offered"], r["answered"]) for r in body["rows"]] == [("12345", 5, 4), ("vip", 2, 1)]
    assert (body["total"]["answer_rate"], body["total"]["service_level_15s"], body["total"]["asa_seconds"]) == (
        0.7143, 0.2857, 17.2,
    )  # fmt: skip
    status, body = await supervisor.request("GET", f"/api/figures/calls?by=hour&{OCT}")
    assert status == 200 and len(body["rows"]) == 24
    status, body = await supervisor.request("GET", f"/api/figures/calls?by=agent&{OCT}")
    assert status == 200 and body["rows"][0]["name"] == "话务员1001"


@pytest.mark.parametrize(
    ("at", "month", "day"),
    [
        (datetime(2026, 10, 15, 2, 0, tzinfo=UTC), "2026-10", "2026-10-15"),
        # 16:30 UTC on the 31st is already 00:30 on 1 November in Shanghai: the next month's figures.
        (datetime(2026, 10, 31, 16, 30, tzinfo=UTC), "2026-11", "2026-11-01"),
    ],
)
async def test_without_a_date_the_period_is_today_on_the_servers_clock(
    seeded_database_url: str, redis_url: str, data: Data, at: datetime, month: str, day: str
) -> None:
    async with running_server(seeded_database_url, redis_url, clock=lambda: at) as base, aiohttp.ClientSession() as s:
        supervisor = await Client(s, base).login("supervisor")
        status, body = await supervisor.request("GET", "/api/figures?group=unit")
        assert status == 200, body
        assert body["period"]["from"] == f"{month}-01"
        status, asked = await supervisor.request("GET", f"/api/figures?group=unit&period=month&date={day}")
        assert body == asked
        if month == "2026-10":
            assert body["total"]["dispatched"] == 9  # October's hand-worked set
        status, body = await supervisor.request("GET", "/api/figures/calls?by=queue")
        assert status == 200 and (body["period"]["from"], body["period"]["to"]) == (day, day)

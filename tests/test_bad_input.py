"""Bad input is a 4xx, never a 500: control characters, integers no column holds, times no
calendar counts, JSON nested too deep or too large, ids in other scripts' digits. Each is
refused before it reaches PostgreSQL, with the field named."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.api_helpers import Client, running_server

BIG = 2**63  # one past int64


@pytest.fixture
async def clients(seeded_database_url: str, redis_url: str) -> AsyncIterator[dict[str, Client]]:
    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        anonymous = Client(session, base)
        yield {
            "anonymous": anonymous,
            "agent": await anonymous.login("agent1001"),
            "supervisor": await anonymous.login("supervisor"),
            "admin": await anonymous.login("admin"),
        }


def _fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["error"]["details"]["errors"]}


async def test_a_nul_in_a_body_string_is_a_422_naming_the_field(clients: dict[str, Client]) -> None:
    status, body = await clients["agent"].request("POST", "/api/orders", json={"kind": "help", "content": "a\x00b"})
    assert status == 422 and body["error"]["code"] == "invalid_input" and _fields(body) == {"content"}
    status, body = await clients["anonymous"].request(
        "POST", "/api/auth/login", json={"username": "agent\x001001", "password": "x"}
    )
    assert status == 422 and _fields(body) == {"username"}
    status, body = await clients["admin"].request(
        "POST", "/api/admin/aliases", json={"alias": "老\x1b城", "division_code": "320302"}
    )
    assert status == 422 and _fields(body) == {"alias"}
    status, body = await clients["admin"].request(
        "POST", "/api/deadlines/policies/standard/rules", json={"clock": "sign", "amount": 1, "unit": "hours",
                                                                "note": "x\x7f"}
    )  # fmt: skip
    assert status == 422 and _fields(body) == {"note"}


async def test_a_lone_surrogate_or_a_control_character_in_a_key_is_refused(clients: dict[str, Client]) -> None:
    raw = b'{"kind": "help", "content": "\\ud800"}'
    status, body = await clients["agent"].request(
        "POST", "/api/orders", data=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 422 and _fields(body) == {"content"}
    status, body = await clients["agent"].request(
        "POST", "/api/orders", json={"kind": "help", "content": "x", "\x00": 1}
    )
    assert status == 422 and body["error"]["details"]["errors"][0]["type"] == "key_control_character"


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("agent", "/api/orders?q=a%00b"),
        ("supervisor", "/api/figures/orders?metric=dispatched&group=district&key=32%0003"),
        ("supervisor", "/api/figures?group=unit&%01=x"),
        ("agent", "/api/orders/by-number/2026%00"),
        ("admin", "/api/deadlines/policies/std%00/activate"),
    ],
)
async def test_a_control_character_in_the_query_or_path_is_a_422(
    clients: dict[str, Client], who: str, path: str
) -> None:
    method = "POST" if path.endswith("activate") else "GET"
    status, body = await clients[who].request(method, path)
    assert status == 422, body
    assert body["error"]["code"] == "invalid_input"
    assert all(f.startswith(("query.", "path.")) for f in _fields(body))


async def test_integers_beyond_their_column_are_422(clients: dict[str, Client]) -> None:
    agent = clients["agent"]
    status, created = await agent.request("POST", "/api/orders", json={"kind": "help", "content": "路灯不亮"})
    assert status == 201
    order_id = created["id"]
    for body, field in (
        ({"unit_id": BIG, "override_reason": "x" * 3}, "unit_id"),
        ({"unit_id": 1, "assist_unit_ids": [BIG]}, "assist_unit_ids.0"),
        ({"unit_id": 1, "version": 2**31}, "version"),
        ({"unit_id": 10**30}, "unit_id"),
    ):
        status, reply = await agent.request("POST", f"/api/orders/{order_id}/actions/dispatch", json=body)
        assert status == 422 and field in _fields(reply), (body, reply)
    for path in (f"/api/orders?unit_id={BIG}", f"/api/orders?unit_id=-{BIG * 2}", "/api/orders?unit_id=1" + "0" * 5000):
        status, reply = await agent.request("GET", path)
        assert status == 422, (path, reply)
    status, reply = await clients["supervisor"].request("POST", "/api/outbox/retry", json={"unit_id": BIG})
    assert status == 422 and _fields(reply) == {"unit_id"}


async def test_a_cursor_holding_what_no_column_holds_is_a_422(clients: dict[str, Client]) -> None:
    import base64

    for inner in (f"2026-12-01T00:00:00+00:00|{BIG}", "0001-01-01T00:00:00+01:00|1", "2026-12-01T00:00:00+00:00|١٢"):
        cursor = base64.urlsafe_b64encode(inner.encode()).decode()
        status, reply = await clients["agent"].request("GET", f"/api/orders?cursor={cursor}")
        assert status == 422 and reply["error"]["code"] == "invalid_input", inner


@pytest.mark.parametrize(
    "query",
    [
        "at=9999-12-31T23:59:59%2B14:00",
        "at=0001-01-01T00:00:00-01:00",
        "at=2026-12-01T09:00:00",  # no offset: which 09:00?
    ],
)
async def test_times_outside_2000_to_2100_or_without_an_offset_are_422(clients: dict[str, Client], query: str) -> None:
    status, body = await clients["agent"].request("GET", f"/api/deadlines/preview?kind=help&{query}")
    assert status == 422 and _fields(body) == {"at"}, body


async def test_order_filters_take_aware_plausible_times(clients: dict[str, Client]) -> None:
    for query in ("created_from=0001-01-01T00:00:00-01:00", "created_to=2026-01-01T00:00:00"):
        status, body = await clients["agent"].request("GET", f"/api/orders?{query}")
        assert status == 422, (query, body)
    status, _ = await clients["agent"].request("GET", "/api/orders?created_from=2026-01-01T00:00:00%2B08:00")
    assert status == 200


async def test_deep_json_is_a_400_before_it_is_parsed(clients: dict[str, Client]) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    for client, path in ((clients["agent"], "/api/orders"), (clients["anonymous"], "/api/auth/login")):
        status, body = await client.request("POST", path, data=deep, headers={"Content-Type": "application/json"})
        assert status == 400 and body["error"]["code"] == "malformed_body", body
    nested: Any = "x"
    for _ in range(40):
        nested = {"a": nested}
    status, body = await clients["agent"].request("POST", "/api/orders", json={"kind": "help", "content": nested})
    assert status == 400 and body["error"]["details"] == {"max_depth": 32}
    # Brackets inside strings are text, not nesting.
    status, _ = await clients["agent"].request("POST", "/api/orders", json={"kind": "help", "content": "[" * 100})
    assert status == 201


async def test_a_body_over_the_limit_is_a_413(clients: dict[str, Client]) -> None:
    big = json.dumps({"kind": "help", "content": "x" * (3 * 1024 * 1024)})
    status, body = await clients["agent"].request(
        "POST", "/api/orders", data=big, headers={"Content-Type": "application/json"}
    )
    assert status == 413 and body["error"]["code"] == "too_large"


@pytest.mark.parametrize("raw", ["²", "١٢", "１２", "12a", "9" * 19, "1" + "0" * 5000])
async def test_path_ids_are_ascii_digits_a_bigint_holds(clients: dict[str, Client], raw: str) -> None:
    for who, method, path in (
        ("agent", "GET", f"/api/orders/{raw}"),
        ("agent", "GET", f"/api/calls/{raw}"),
        ("supervisor", "POST", f"/api/outbox/{raw}/retry"),
        ("admin", "DELETE", f"/api/admin/rules/{raw}"),
    ):
        status, body = await clients[who].request(method, path)
        assert status == 404 and body["error"]["code"] == "not_found", (path, body)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "２０３１-01-01", "2031-13-01"])
async def test_a_calendar_day_outside_2000_to_2100_is_a_422(clients: dict[str, Client], day: str) -> None:
    status, body = await clients["admin"].request("PUT", f"/api/deadlines/calendar/{day}", json={"workday": False})
    assert status == 422 and body["error"]["details"] == {"day": day}

"""Click-to-call through the whole server: the Originate reaches a real TCP AMI server built from
the ``originate`` recording, the outcomes match its facts file, a cut between request and answer
still places the call exactly once, and units never see the number."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg

from adapters.ami.outcomes import UNSEEN_END, NodeOutcomes, Outcome
from tests.api_helpers import Client, running_server
from tests.c2c_helpers import centre, facts, node_url, replay, until
from tests.orders_helpers import new_order, order_at, who

CALLS = "/api/orders/{}/outbound-calls"


async def _order(pool: asyncpg.Pool, number: str) -> dict:
    return await new_order(pool, caller_number=number)


def _settled(body: list) -> bool:
    """Every attempt has its outcome and its response (the two are stored independently)."""
    return bool(body) and all(c["outcome"] and c["state"] not in ("pending", "sent") for c in body)


async def test_replaying_originate_yields_the_facts_outcomes(
    seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir)
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        for n, fact in enumerate(facts(shared_dir)):
            ami = fact["ami"]
            order = await _order(seeded_pool, ami["citizen"])
            agent = await Client(session, base).login(f"agent{ami['agent']}")
            status, body = await agent.request(
                "POST", f"/api/orders/{order['id']}/call-citizen", json={}, headers={"Idempotency-Key": f"k{n}"}
            )
            assert status == 202, body
            assert body["requested_by_unit"] is False and body["call"]["state"] == "pending"
            calls = await until(agent, CALLS.format(order["id"]), _settled)
            assert [c["outcome"] for c in calls] == [ami["outcome"]], fact["linkedid"]
            assert calls[0]["hangup_cause"] == int(ami["citizen_hangup_cause"][0])
            assert calls[0]["hangup_cause_txt"] == ami["citizen_hangup_cause"][1]
            assert calls[0]["state"] == "answered"
            sent = server.originates[-1]
            assert sent["ActionID"] == f"cmd-{calls[0]['id']}"
            assert sent["Channel"] == ami["originate_channel"].rsplit("-", 1)[0]  # Local/1002@agent-phone
            assert (sent["Context"], sent["Exten"], sent["CallerID"]) == ("outbound", ami["exten"], ami["callerid"])
            assert sent["Variable"] == f"HOTLINE_ORDER={order['number']}" and sent["Async"] == "true"
            status, detail = await agent.request("GET", f"/api/orders/{order['id']}")
            ended = [e for e in detail["events"] if e["action"] == "citizen_call_ended"]
            assert [e["payload"]["outcome"] for e in ended] == [ami["outcome"]]
            assert any(e["action"] == "citizen_call_placed" for e in detail["events"])
    assert len(server.originates) == 5


async def test_a_cut_between_request_and_answer_still_calls_the_citizen_exactly_once(
    seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir, cut_originates=1)
    ami = facts(shared_dir)[0]["ami"]
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        order = await _order(seeded_pool, ami["citizen"])
        agent = await Client(session, base).login("agent1002")
        status, body = await agent.request(
            "POST", f"/api/orders/{order['id']}/call-citizen", json={}, headers={"Idempotency-Key": "cut-1"}
        )
        assert status == 202, body
        calls = await until(agent, CALLS.format(order["id"]), _settled)
        # a retry of the request after the cut is the same call, not a second one
        status, again = await agent.request(
            "POST", f"/api/orders/{order['id']}/call-citizen", json={}, headers={"Idempotency-Key": "cut-1"}
        )
        assert status == 202 and again["call"]["id"] == body["call"]["id"]
    assert len(server.originates) == 1 and server.logins >= 2
    assert calls[0]["state"] == "unknown"  # its response was lost with the connection
    assert (calls[0]["outcome"], calls[0]["hangup_cause"]) == ("answered", 16)  # learnt from the events


async def test_a_call_that_ends_while_the_link_is_down_is_closed_on_reconnecting(
    seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir, cut_before_hangup=1)
    ami = facts(shared_dir)[0]["ami"]
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        order = await _order(seeded_pool, ami["citizen"])
        agent = await Client(session, base).login("agent1002")
        status, body = await agent.request("POST", f"/api/orders/{order['id']}/call-citizen", json={})
        assert status == 202, body
        calls = await until(agent, CALLS.format(order["id"]), _settled)
    assert server.logins >= 2 and len(server.originates) == 1
    # the Dial's answer was heard, its end was not: answered, and the cause says why it is unknown
    assert (calls[0]["outcome"], calls[0]["hangup_cause"]) == ("answered", None)
    assert "link was down" in calls[0]["hangup_cause_txt"]


async def test_idempotency_key_replays_the_same_command(
    seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir)
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        order = await _order(seeded_pool, "13609110002")
        agent = await Client(session, base).login("agent1003")
        path, key = f"/api/orders/{order['id']}/call-citizen", {"Idempotency-Key": "same"}
        first = await agent.request("POST", path, json={}, headers=key)
        second = await agent.request("POST", path, json={}, headers=key)
        assert first[0] == second[0] == 202 and first[1]["call"]["id"] == second[1]["call"]["id"]
        calls = await until(agent, CALLS.format(order["id"]), _settled)
        assert [c["outcome"] for c in calls] == ["no answer"]
    assert len(server.originates) == 1


async def test_a_refused_originate_is_a_failed_call(
    seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir, refuse={"13891234567"})
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        order = await _order(seeded_pool, "13891234567")
        agent = await Client(session, base).login("agent1001")
        await agent.request("POST", f"/api/orders/{order['id']}/call-citizen", json={})
        calls = await until(agent, CALLS.format(order["id"]), _settled)
    assert [(c["state"], c["outcome"]) for c in calls] == [("failed", "failed")]


async def test_roles_unknown_orders_bodies_and_units(
    seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir)
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        order = await _order(seeded_pool, "13891234567")
        path = f"/api/orders/{order['id']}/call-citizen"
        agent = await Client(session, base).login("agent1001")
        admin = await Client(session, base).login("admin")
        assert (await admin.request("POST", path, json={}))[0] == 403
        assert (await agent.request("POST", "/api/orders/999999/call-citizen", json={}))[0] == 404
        assert (await agent.request("POST", "/api/orders/x1/call-citizen", json={}))[0] == 404
        assert (await agent.request("POST", path, json=[1]))[0] == 400
        assert (await agent.request("POST", path, json={"number": "13800000000"}))[0] == 422
        stranger = await Client(session, base).login("gulou")
        assert (await stranger.request("POST", path, json={}))[0] == 404  # not its order: as if missing
        assert (await stranger.request("GET", CALLS.format(order["id"])))[0] == 403
        assert (await agent.request("GET", CALLS.format(999999)))[0] == 404
    assert server.originates == []
    assert (await who(seeded_pool, "agent1001")).role == "agent"


async def test_no_ami_node_is_404(seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str) -> None:
    async with centre(seeded_database_url, redis_url, None) as (base, session):
        order = await _order(seeded_pool, "13891234567")
        agent = await Client(session, base).login("agent1001")
        status, body = await agent.request("POST", f"/api/orders/{order['id']}/call-citizen", json={})
    assert status == 404 and body["error"]["code"] == "not_found"
    assert await seeded_pool.fetchval("SELECT count(*) FROM ami_commands") == 0


async def test_a_unit_asks_the_centre_and_never_sees_the_number(
    seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir)
    async with centre(seeded_database_url, redis_url, server) as (base, session):
        order = await order_at(seeded_pool, "signed")  # lead: city.cgj
        number = await seeded_pool.fetchval("SELECT caller_number FROM work_orders WHERE id = $1", order["id"])
        path = f"/api/orders/{order['id']}/call-citizen"
        unit = await Client(session, base).login("cgj")
        status, body = await unit.request("POST", path, json={})
        assert (status, body) == (202, {"requested_by_unit": True, "call": None})
        assert server.originates == []
        agent = await Client(session, base).login("agent1001")
        status, body = await agent.request("POST", path, json={})
        assert status == 202 and number not in json.dumps(body)
        calls = await until(agent, CALLS.format(order["id"]), _settled)
        assert calls[0]["outcome"] == "failed"  # this number is not in the recording: the node refused it
        status, seen = await unit.request("GET", f"/api/orders/{order['id']}")
        actions = [e["action"] for e in seen["events"]]
        assert {"citizen_call_requested", "citizen_call_placed", "citizen_call_ended"} <= set(actions)
        assert number not in json.dumps(seen, ensure_ascii=False)
    assert [o["Exten"] for o in server.originates] == [number]


async def test_a_call_asked_for_while_the_node_is_down_expires_instead_of_ringing_late(
    seeded_database_url: str, seeded_pool: asyncpg.Pool, redis_url: str, shared_dir: Path
) -> None:
    server = replay(shared_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = {"ami_nodes": node_url(port), "roles": ["api", "ami"], "pool_max": 4, "command_ttl_seconds": 0.3}
    try:
        async with running_server(seeded_database_url, redis_url, **settings) as base:
            async with aiohttp.ClientSession() as session:
                order = await _order(seeded_pool, "13891234567")
                agent = await Client(session, base).login("agent1002")
                assert (await agent.request("POST", f"/api/orders/{order['id']}/call-citizen", json={}))[0] == 202
                await asyncio.sleep(0.5)  # the node is unreachable for longer than the TTL
                await server.start(port=port)
                calls = await until(agent, CALLS.format(order["id"]), _settled)
    finally:
        await server.close()
    assert [(c["state"], c["outcome"]) for c in calls] == [("failed", "failed")]
    assert calls[0]["hangup_cause_txt"].startswith("expired")
    assert server.originates == []


def _node_outcomes() -> tuple[NodeOutcomes, list[Outcome]]:
    told: list[Outcome] = []
    return NodeOutcomes(told.append), told


def _dialled(node: NodeOutcomes, linkedid: str = "1.1") -> None:
    node.on_event({"Event": "VarSet", "Variable": "HOTLINE_ORDER", "Value": "20261201-000001", "Linkedid": linkedid,
                   "Uniqueid": linkedid})  # fmt: skip
    node.on_event({"Event": "DialEnd", "Channel": "Local/1002@agents-0001;2", "DestChannel": "PJSIP/trunk-0002",
                   "DialStatus": "ANSWER", "Linkedid": linkedid, "Uniqueid": "1.2"})  # fmt: skip


def test_the_citizens_hangup_heard_before_the_link_went_is_the_calls_cause() -> None:
    node, told = _node_outcomes()
    _dialled(node)
    node.on_event({"Event": "Hangup", "Channel": "PJSIP/trunk-0002", "Cause": "16", "Cause-txt": "Normal Clearing",
                   "Linkedid": "1.1", "Uniqueid": "1.3"})  # fmt: skip
    node.on_lost()  # the agent line's hangup, the call's end, falls in the gap
    node.on_snapshot([], datetime(2026, 12, 1, 2, 0, tzinfo=UTC), [], [])  # no channel left
    assert [(o.outcome, o.cause, o.cause_txt, o.order_number) for o in told] == [
        ("answered", 16, "Normal Clearing", "20261201-000001")
    ]
    assert node.calls == {}


def test_a_call_still_up_on_reconnecting_is_followed_and_an_unheard_end_says_so() -> None:
    node, told = _node_outcomes()
    _dialled(node)
    node.on_snapshot([], datetime(2026, 12, 1, 2, 0, tzinfo=UTC), [], [{"Event": "CoreShowChannel", "Linkedid": "1.1"}])
    assert told == [] and "1.1" in node.calls  # still up: still followed
    node.on_snapshot([], datetime(2026, 12, 1, 2, 1, tzinfo=UTC), [], [])
    assert [(o.outcome, o.cause, o.cause_txt) for o in told] == [("answered", None, UNSEEN_END)]

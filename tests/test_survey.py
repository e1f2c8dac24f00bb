"""End-of-call satisfaction (按键评价) from the recorded ``survey`` scenario: the AMI stream live,
the CEL rows durable, both together, against the scores of its facts file."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest

from adapters.ami.interpreter import Interpreter
from adapters.ami.replay import ReplayServer
from adapters.ami.trace import load_trace
from adapters.cel.importer import import_csv
from tests.ami_helpers import NODE, SECRET, USER, calls, replay_into
from tests.cel_helpers import asterisk_dir, facts

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def _expected(shared_dir: Path, view: str) -> dict[str, str | None]:
    """linkedid -> the key pressed (None: the survey played, nothing pressed)."""
    return {c[view]["linkedid"]: c[view]["survey_score"] or None for c in facts(shared_dir, "survey")}


def _server(shared_dir: Path) -> ReplayServer:
    path = asterisk_dir(shared_dir) / "survey.ami"
    return ReplayServer(load_trace(path), username=USER, secret=SECRET, speed=20.0)


async def _import_cel(pool: asyncpg.Pool, shared_dir: Path) -> None:
    async with pool.acquire() as conn:
        await import_csv(conn, conn, asterisk_dir(shared_dir) / "survey.cel.csv", NODE, now=NOW)


def _surveys(rows: dict[str, dict]) -> dict[str, str | None]:  # type: ignore[type-arg]
    assert all(r["survey_at"] is not None for r in rows.values()), "every call of the scenario ran the survey"
    return {linkedid: r["survey_digit"] for linkedid, r in rows.items()}


async def test_the_live_stream_gives_every_calls_key(pool: asyncpg.Pool, shared_dir: Path) -> None:
    await replay_into(pool, None, _server(shared_dir))
    rows = await calls(pool)
    assert _surveys(rows) == _expected(shared_dir, "ami")
    assert {r["survey_source"] for r in rows.values()} == {"ami"}
    assert sum(1 for r in rows.values() if r["survey_digit"] is None) == 1  # one caller pressed nothing


async def test_the_cel_rows_give_the_same_keys(pool: asyncpg.Pool, shared_dir: Path) -> None:
    await _import_cel(pool, shared_dir)
    rows = await calls(pool)
    assert _surveys(rows) == _expected(shared_dir, "cel") == _expected(shared_dir, "ami")
    assert {r["survey_source"] for r in rows.values()} == {"cel"}


@pytest.mark.parametrize("order", ["ami-then-cel", "cel-then-ami"])
async def test_both_sources_agree_in_either_order(pool: asyncpg.Pool, shared_dir: Path, order: str) -> None:
    if order == "ami-then-cel":
        await replay_into(pool, None, _server(shared_dir))
        await _import_cel(pool, shared_dir)
    else:
        await _import_cel(pool, shared_dir)
        await replay_into(pool, None, _server(shared_dir))
    rows = await calls(pool)
    assert _surveys(rows) == _expected(shared_dir, "ami")
    await _import_cel(pool, shared_dir)  # twice = once
    assert _surveys(await calls(pool)) == _expected(shared_dir, "ami")


# A call of the scenario whose caller pressed 2: its survey is told once on each stream.
TOLD = "1796176413.264"
TOLD_KEY = "2"


def _ami_copy(shared_dir: Path, tmp_path: Path, score: str) -> ReplayServer:
    """survey.ami with TOLD's UserEvent saying ``Score: <score>`` instead of its key."""
    told = f"UserEvent: HotlineSurvey\r\nLinkedid: {TOLD}\r\nScore: {TOLD_KEY}\r\n".encode()
    data = (asterisk_dir(shared_dir) / "survey.ami").read_bytes()
    assert data.count(told) == 1
    path = tmp_path / "survey.ami"
    path.write_bytes(data.replace(told, told.replace(f"Score: {TOLD_KEY}".encode(), f"Score: {score}".encode())))
    return ReplayServer(load_trace(path), username=USER, secret=SECRET, speed=20.0)


def _cel_copy(shared_dir: Path, tmp_path: Path, value: str) -> Path:
    """survey.cel.csv with TOLD's USER_DEFINED HotlineSurvey row telling ``value`` instead of its key."""
    with (asterisk_dir(shared_dir) / "survey.cel.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    told = [r for r in rows if r["linkedid"] == TOLD and r["eventtype"] == "USER_DEFINED"]
    assert len(told) == 1 and json.loads(told[0]["extra"]) == {"extra": TOLD_KEY}
    told[0]["appdata"], told[0]["extra"] = f"HotlineSurvey,{value}", json.dumps({"extra": value})
    path = tmp_path / "survey.cel.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


async def _both(pool: asyncpg.Pool, server: ReplayServer, cel_csv: Path, order: str) -> dict[str, dict]:  # type: ignore[type-arg]
    async def cel() -> None:
        async with pool.acquire() as conn:
            await import_csv(conn, conn, cel_csv, NODE, now=NOW)

    if order == "ami-then-cel":
        await replay_into(pool, None, server)
        await cel()
    else:
        await cel()
        await replay_into(pool, None, server)
    return await calls(pool)


def _the_others_as_recorded(rows: dict[str, dict], shared_dir: Path) -> None:  # type: ignore[type-arg]
    expected = {k: v for k, v in _expected(shared_dir, "cel").items() if k != TOLD}
    assert {k: r["survey_digit"] for k, r in rows.items() if k != TOLD} == expected
    assert not any(r["incomplete"] for k, r in rows.items() if k != TOLD)


ORDERS = ["ami-then-cel", "cel-then-ami"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("value", ["", "12", "x"])
async def test_a_cel_row_without_a_key_keeps_the_key_ami_heard(
    pool: asyncpg.Pool, shared_dir: Path, tmp_path: Path, order: str, value: str
) -> None:
    rows = await _both(pool, _server(shared_dir), _cel_copy(shared_dir, tmp_path, value), order)
    call = rows[TOLD]
    assert (call["survey_digit"], call["survey_source"]) == (TOLD_KEY, "ami")
    assert call["survey_at"] is not None and call["finalized_at"] is not None
    # Pressing nothing is an answer; a value that is not one key flags the call.
    assert call["incomplete"] is (value != "")
    _the_others_as_recorded(rows, shared_dir)
    async with pool.acquire() as conn:  # importing again changes nothing
        assert (await import_csv(conn, conn, tmp_path / "survey.cel.csv", NODE, now=NOW)).calls_changed == 0


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("score", ["", "12", "x"])
async def test_an_ami_score_without_a_key_gives_way_to_the_cel_key(
    pool: asyncpg.Pool, shared_dir: Path, tmp_path: Path, order: str, score: str
) -> None:
    rows = await _both(pool, _ami_copy(shared_dir, tmp_path, score), asterisk_dir(shared_dir) / "survey.cel.csv", order)
    call = rows[TOLD]
    # The durable record had the key: it is stored, and the call is complete.
    assert (call["survey_digit"], call["survey_source"], call["incomplete"]) == (TOLD_KEY, "cel", False)
    _the_others_as_recorded(rows, shared_dir)


@pytest.mark.parametrize("order", ORDERS)
async def test_no_key_from_either_stores_none_and_flags_the_call(
    pool: asyncpg.Pool, shared_dir: Path, tmp_path: Path, order: str
) -> None:
    rows = await _both(pool, _ami_copy(shared_dir, tmp_path, "x"), _cel_copy(shared_dir, tmp_path, "12"), order)
    call = rows[TOLD]
    assert (call["survey_digit"], call["survey_source"], call["incomplete"]) == (None, "cel", True)
    assert call["survey_at"] is not None  # the survey played; no key from it is believable
    _the_others_as_recorded(rows, shared_dir)


def _queued(interp: Interpreter, linkedid: str) -> None:
    at = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    interp.feed(
        {"Event": "QueueCallerJoin", "Linkedid": linkedid, "Uniqueid": linkedid, "Queue": "hotline",
         "Channel": "Local/12346@hotline-in-1;2", "CallerIDNum": "13900000000", "Position": "1"},
        at,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("score", "stored", "repaired"),
    [("4", "4", False), ("", None, False), ("12", None, True), ("x", None, True), ("#", "#", False)],
)
def test_a_score_is_one_key_or_nothing(score: str, stored: str | None, repaired: bool) -> None:
    interp = Interpreter(NODE)
    _queued(interp, "1.1")
    at = datetime(2026, 12, 2, 1, 1, tzinfo=UTC)
    changes = interp.feed({"Event": "UserEvent", "UserEvent": "HotlineSurvey", "Linkedid": "1.1", "Score": score}, at)
    assert len(changes) == 1
    call = changes[0].call
    assert (call.survey_digit, call.survey_at, call.repaired) == (stored, at, repaired)
    # A second telling (a replayed event) changes nothing; another UserEvent is not a survey.
    assert interp.feed({"Event": "UserEvent", "UserEvent": "HotlineSurvey", "Linkedid": "1.1", "Score": "1"}, at) == []
    assert interp.feed({"Event": "UserEvent", "UserEvent": "Other", "Linkedid": "1.1", "Score": "1"}, at) == []


def test_a_survey_for_an_unknown_call_is_left_to_cel() -> None:
    interp = Interpreter(NODE)
    at = datetime(2026, 12, 2, 1, 1, tzinfo=UTC)
    assert interp.feed({"Event": "UserEvent", "UserEvent": "HotlineSurvey", "Linkedid": "9.9", "Score": "1"}, at) == []


async def test_survey_figures_per_agent_and_beside_the_visit(seeded_pool: asyncpg.Pool, shared_dir: Path) -> None:
    from hotline.figures import period_of
    from hotline.figures.survey import DEFAULT_SCALE, survey_figures

    await _import_cel(seeded_pool, shared_dir)
    expected: dict[str, list[str | None]] = {}
    for c in facts(shared_dir, "survey"):
        expected.setdefault(c["cel"]["agents"][0], []).append(c["cel"]["survey_score"] or None)
    async with seeded_pool.acquire() as conn:
        users = {r["username"][-4:]: str(r["id"]) for r in await conn.fetch("SELECT id, username FROM users")}
        # One order taken on agent 1001's first call, visited and found 不满意.
        call_id = await conn.fetchval(
            "SELECT id FROM calls WHERE agent_user_id = $1::bigint ORDER BY entered_at LIMIT 1", int(users["1001"])
        )
        order_id = await conn.fetchval(
            """INSERT INTO work_orders (number, kind, content, status, call_id, created_at, updated_at)
               VALUES ('20261202-900001', 'complaint', 'x', 'closed', $1, now(), now()) RETURNING id""",
            call_id,
        )
        await conn.execute(
            "INSERT INTO visits (order_id, attempt, reached, satisfaction, resolved) VALUES ($1, 1, true, 'unsatisfied', false)",
            order_id,
        )
        rows, total = await survey_figures(conn, period_of("day", date(2026, 12, 2)), "agent")
    by_agent = {r["key"]: r for r in rows}
    for agent, keys in expected.items():
        row = by_agent[users[agent]]
        pressed = [k for k in keys if k is not None]
        on_scale = [DEFAULT_SCALE[k] for k in pressed if k in DEFAULT_SCALE]
        assert (row["asked"], row["answered"]) == (len(keys), len(pressed))
        assert row["off_scale"] == len(pressed) - len(on_scale)
        assert row["unsatisfied"] == on_scale.count("unsatisfied")
    assert total["asked"] == 11 and total["answered"] == 10
    assert total["asked"] == sum(r["asked"] for r in rows)
    assert (by_agent[users["1001"]]["visited"], by_agent[users["1001"]]["visit_satisfaction_rate"]) == (1, 0.0)
    assert total["visited"] == 1


async def test_the_survey_figures_route(seeded_database_url: str, redis_url: str) -> None:
    import aiohttp

    from tests.api_helpers import Client, running_server

    async with running_server(seeded_database_url, redis_url) as base, aiohttp.ClientSession() as session:
        boss = await Client(session, base).login("supervisor")
        status, body = await boss.request("GET", "/api/figures/survey?by=queue&from=2026-12-01&to=2026-12-02")
        assert status == 200 and body["total"]["asked"] == 0 and body["total"]["satisfaction_rate"] is None
        status, body = await boss.request("GET", "/api/figures/survey?by=nothing")
        assert status == 422
        unit = await Client(session, base).login("cgj")
        assert (await unit.request("GET", "/api/figures/survey"))[0] == 403


@pytest.mark.parametrize("scale", ["", "1=happy", "12=satisfied", "1=satisfied,x"])
def test_a_bad_survey_scale_stops_the_start(scale: str) -> None:
    from pydantic import ValidationError

    from hotline.config import Settings

    with pytest.raises(ValidationError, match="survey"):
        Settings(survey_scale=scale)

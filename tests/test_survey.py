"""End-of-call satisfaction (按键评价) from the recorded ``survey`` scenario: the AMI stream live,
the CEL rows durable, both together, against the scores of its facts file."""

from __future__ import annotations

from datetime import UTC, datetime
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

"""CEL into call records: ``cel import`` of recorded exports, idempotent rebuilds, CEL winning
over AMI, and the KPIs per segment against the recordings' facts files."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest

from adapters.cel.importer import import_csv
from adapters.cel.rows import CelFileError
from hotline.figures import call_kpis, period_of
from tests.cel_helpers import agent_number, asterisk_dir, facts, kpis_from_facts

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # when the pass ran; the recordings are of 2026-12-02
NODE = "pbx1"


async def load(pool: asyncpg.Pool, shared_dir: Path, scenario: str):  # type: ignore[no-untyped-def]
    path = asterisk_dir(shared_dir) / f"{scenario}.cel.csv"
    async with pool.acquire() as conn:
        return await import_csv(conn, conn, path, NODE, now=NOW)


async def test_import_makes_one_call_per_linkedid_with_its_legs(pool: asyncpg.Pool, shared_dir: Path) -> None:
    result = await load(pool, shared_dir, "transfers")
    assert (result.rows, result.new_rows, result.calls, result.calls_changed) == (187, 187, 5, 5)
    for fact in facts(shared_dir, "transfers"):
        cel = fact["cel"]
        call = await pool.fetchrow("SELECT * FROM calls WHERE linkedid = $1", cel["linkedid"])
        assert (call["state"], call["outcome"], call["incomplete"], call["source"]) == (
            "ended",
            "answered",
            False,
            "cel",
        )
        assert call["finalized_at"] == NOW
        legs = await pool.fetch(
            "SELECT * FROM call_agent_legs WHERE call_id = $1 AND answered_at IS NOT NULL ORDER BY seq", call["id"]
        )
        assert [agent_number(leg["interface"]) for leg in legs] == cel["agents"]
        assert [leg["queue"] for leg in legs] == [leg["queue"] for leg in cel["legs"]]
        queues = await pool.fetch("SELECT queue FROM call_queue_legs WHERE call_id = $1 ORDER BY seq", call["id"])
        assert [q["queue"] for q in queues] == cel["queues"]
        kinds = [t["type"] for t in call["transfers"]]
        assert kinds == ([cel["transfer"]] if cel["transfer"] else [])


async def test_importing_twice_changes_nothing(pool: asyncpg.Pool, shared_dir: Path) -> None:
    await load(pool, shared_dir, "transfers")
    before = [dict(r) for r in await pool.fetch("SELECT * FROM calls ORDER BY id")]
    legs = [dict(r) for r in await pool.fetch("SELECT * FROM call_agent_legs ORDER BY id")]
    again = await load(pool, shared_dir, "transfers")
    assert (again.new_rows, again.calls_changed) == (0, 0)
    assert [dict(r) for r in await pool.fetch("SELECT * FROM calls ORDER BY id")] == before
    assert [dict(r) for r in await pool.fetch("SELECT * FROM call_agent_legs ORDER BY id")] == legs


async def test_kpis_per_queue_and_agent_match_the_facts(seeded_pool: asyncpg.Pool, shared_dir: Path) -> None:
    """Transfers count per segment: offered once to each queue, answered by each agent, the ASA
    from each queue's own join, AHT from each agent's own legs."""
    await load(seeded_pool, shared_dir, "transfers")
    want_queues, want_agents = kpis_from_facts(facts(shared_dir, "transfers"))
    async with seeded_pool.acquire() as conn:
        by_queue, _ = await call_kpis(conn, period_of("month", date(2026, 12, 1)), "queue")
        by_agent, total = await call_kpis(conn, period_of("month", date(2026, 12, 1)), "agent")
    got = {r.key["queue"]: r.as_dict() for r in by_queue}
    assert got.keys() == want_queues.keys()
    for queue, want in want_queues.items():
        row = got[queue]
        assert (row["offered"], row["answered"], row["abandoned"]) == (
            want["offered"],
            want["answered"],
            want["abandoned"],
        )
        assert row["asa_seconds"] == pytest.approx(sum(want["holds"]) / len(want["holds"]), abs=1.0)
    users = {r["id"]: r["agent_interface"] for r in await seeded_pool.fetch("SELECT id, agent_interface FROM users")}
    agents = {}
    for r in by_agent:
        if r.key["agent_user_id"] is not None:
            agents[agent_number(users[r.key["agent_user_id"]])] = r.as_dict()
        elif r.key["agent_name"] is not None:
            agents[agent_number(r.key["agent_name"])] = r.as_dict()  # no user for the expert: its interface
    assert agents.keys() == want_agents.keys()
    for agent, want in want_agents.items():
        assert agents[agent]["answered"] == want["answered"]
        assert agents[agent]["aht_seconds"] == pytest.approx(sum(want["talks"]) / len(want["talks"]), abs=0.1)
    assert total.counts["offered"] == sum(w["offered"] for w in want_queues.values())


async def test_cel_wins_over_ami_and_ami_cannot_undo_it(
    pool: asyncpg.Pool, shared_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from adapters.ami.records import CallRecord
    from adapters.ami.store import upsert_calls

    # What the old adapter made of the redirected call: one row naming only the expert.
    wrong = CallRecord(node=NODE, linkedid="1796176166.122", queue="expert", state="connected", outcome="answered",
                       entered_at=datetime(2026, 12, 2, 1, 49, 27, tzinfo=UTC), agent_interface="Local/2001@agents/n",
                       agent_name="Expert 2001", gap=True)  # fmt: skip
    async with pool.acquire() as conn:
        await upsert_calls(conn, [wrong])
    with caplog.at_level(logging.WARNING, logger="adapters.cel.store"):
        await load(pool, shared_dir, "transfers")
    said = {(r.field, r.ami, r.cel) for r in caplog.records if getattr(r, "field", None)}  # type: ignore[attr-defined]
    assert ("queue", "expert", "hotline") in said
    assert ("agent_interface", "Local/2001@agents/n", "Local/1003@agents") in said
    row = await pool.fetchrow("SELECT * FROM calls WHERE linkedid = '1796176166.122'")
    assert (row["queue"], row["agent_interface"], row["agent_name"], row["state"], row["incomplete"]) == (
        "hotline", "Local/1003@agents", None, "ended", False
    )  # fmt: skip
    late = CallRecord(node=NODE, linkedid="1796176166.122", queue="expert", state="ended", outcome="unknown", gap=True)
    async with pool.acquire() as conn:
        await upsert_calls(conn, [late])
    assert dict(await pool.fetchrow("SELECT * FROM calls WHERE linkedid = '1796176166.122'")) == dict(row)


async def test_an_export_of_another_asterisk_is_refused(pool: asyncpg.Pool, shared_dir: Path, tmp_path: Path) -> None:
    await load(pool, shared_dir, "transfers")
    lines = (asterisk_dir(shared_dir) / "transfers.cel.csv").read_text(encoding="utf-8").splitlines()
    other = tmp_path / "other.cel.csv"
    other.write_text("\n".join([lines[0], lines[1].replace("1796176166.120", "9.9", 2)]) + "\n", encoding="utf-8")
    async with pool.acquire() as conn:
        with pytest.raises(CelFileError, match="reuse ids"):
            await import_csv(conn, conn, other, NODE, now=NOW)
    assert await pool.fetchval("SELECT count(*) FROM cel WHERE linkedid = '9.9'") == 0


@pytest.mark.parametrize(
    "content, problem",
    [
        ("id,eventtype\n1,CHAN_START\n", "missing columns"),
        (None, "line 2"),
    ],
)
async def test_a_malformed_export_names_the_problem(
    pool: asyncpg.Pool, shared_dir: Path, tmp_path: Path, content: str | None, problem: str
) -> None:
    if content is None:
        lines = (asterisk_dir(shared_dir) / "transfers.cel.csv").read_text(encoding="utf-8").splitlines()
        content = lines[0] + "\n" + lines[1].replace("2026-12-02 01:49:26.985154+00", "yesterday") + "\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(content, encoding="utf-8")
    async with pool.acquire() as conn:
        with pytest.raises(CelFileError, match=problem):
            await import_csv(conn, conn, bad, NODE, now=NOW)
    assert await pool.fetchval("SELECT count(*) FROM cel") == 0

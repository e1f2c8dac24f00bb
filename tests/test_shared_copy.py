"""The tests read a copy of ../shared's recordings and division file (tests/data/shared), so a
clone runs its tests alone; where ../shared stands beside the clone (CI), the copy must match."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED, SHARED_COPY

COPIED = sorted(p.relative_to(SHARED_COPY) for p in SHARED_COPY.rglob("*") if p.is_file())


def test_the_copy_holds_every_trace_and_the_division_file() -> None:
    names = {str(p) for p in COPIED}
    assert {f"ami-traces/{n}.ami" for n in ("basic", "burst", "latejoin", "chinese-names")} <= names
    assert "data/divisions/xuzhou-320300.csv" in names
    # the Asterisk recordings the CEL, queue_log and outage tests read (a small part of ../shared/asterisk)
    kept = ("transfers.cel.csv", "transfers.facts.json", "transfers.queue_log", "outage.cel.csv",
            "outage.client.ami", "outage.facts.json", "outage.queue_log",
            "originate.ami", "originate.facts.json")  # fmt: skip
    kept += ("survey.ami", "survey.cel.csv", "survey.facts.json")  # the end-of-call survey's tests
    kept += ("states.ami", "states.cel.csv", "states.facts.json")  # queue members and the wallboard
    assert {f"asterisk/{n}" for n in kept} == {n for n in names if n.startswith("asterisk/")}


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside this clone")
@pytest.mark.parametrize("relative", COPIED, ids=str)
def test_copy_matches_shared(relative) -> None:  # type: ignore[no-untyped-def]
    assert (SHARED_COPY / relative).read_bytes() == (SHARED / relative).read_bytes()


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside this clone")
def test_every_shared_trace_is_copied() -> None:
    shared = {p.relative_to(SHARED) for p in (SHARED / "ami-traces").glob("*.ami")}
    assert shared <= set(COPIED)

"""The CEL interpreter on recorded CEL, checked against the facts read independently from the
AMI and CEL streams (../shared/asterisk/README.md): queues, agent legs, times, talk times, how
each leg ended, transfers. Pure: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from adapters.cel.interpreter import CelCall, interface_of, interpret
from adapters.cel.rows import CelRow, calls_in_csv
from tests.cel_helpers import agent_number, asterisk_dir, facts

SCENARIOS = ("transfers", "outage")


def _calls(shared_dir: Path, scenario: str) -> dict[str, CelCall]:
    out = {}
    for linkedid, rows in calls_in_csv(asterisk_dir(shared_dir) / f"{scenario}.cel.csv").items():
        call = interpret(rows)
        assert call is not None, linkedid
        out[linkedid] = call
    return out


def _ts(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_call_of_the_facts_with_its_legs(shared_dir: Path, scenario: str) -> None:
    calls = _calls(shared_dir, scenario)
    truth = facts(shared_dir, scenario)
    assert set(calls) == {f["cel"]["linkedid"] for f in truth}
    for fact in truth:
        cel, ami = fact["cel"], fact["ami"]
        call = calls[cel["linkedid"]]
        assert (call.caller_number, call.caller_name, call.caller_channel) == (
            cel["caller_num"], cel["caller_name"], cel["caller_channel"]
        )  # fmt: skip
        assert [s.queue for s in call.queue_legs] == cel["queues"]
        assert call.entered_at.timestamp() == pytest.approx(ami["entered"], abs=0.5)
        assert call.ended_at.timestamp() == pytest.approx(cel["ended"], abs=0.001)
        assert call.outcome == ("abandoned" if ami["abandoned"] else "answered")
        talked = [leg for leg in call.agent_legs if leg.answered_at is not None]
        assert [agent_number(leg.interface) for leg in talked] == cel["agents"]
        for leg, want, said in zip(talked, cel["legs"], ami["legs"], strict=True):
            assert leg.queue == want["queue"]
            assert _ts(leg.answered_at) == pytest.approx(want["answered"], abs=0.001)
            assert leg.talk_seconds == pytest.approx(want["talk_measured"], abs=0.002)
            assert leg.wait_seconds == pytest.approx(said["holdtime"], abs=1.0)  # whole seconds in AMI
            if said["reason"] == "transfer":
                assert leg.ended_by in ("blind_transfer", "attended_transfer")
            else:  # a Redirect shows as Reason caller in AMI (app_queue reports when Queue() returns)
                assert leg.ended_by in (said["reason"], "redirect")
        rang = sorted(agent_number(leg.interface) for leg in call.agent_legs if leg.ended_by == "ring_no_answer")
        assert rang == sorted(ami["ring_no_answer"])
        assert {t["type"] for t in call.transfers} == ({cel["transfer"]} if cel["transfer"] else set())


def test_each_transfer_form_is_one_call_with_two_agent_legs(shared_dir: Path) -> None:
    calls = _calls(shared_dir, "transfers")
    transferred = [f["cel"] for f in facts(shared_dir, "transfers") if f["cel"]["transfer"]]
    assert {t["transfer"] for t in transferred} == {"redirect", "blind", "attended"}
    for fact in transferred:
        call = calls[fact["linkedid"]]
        first, second = (leg for leg in call.agent_legs if leg.answered_at is not None)
        assert first.ended_by == {"redirect": "redirect", "blind": "blind_transfer",
                                  "attended": "attended_transfer"}[fact["transfer"]]  # fmt: skip
        assert second.ended_by in ("agent", "caller")
        queues = {s.queue: s for s in call.queue_legs}
        assert queues.keys() == {first.queue, second.queue} and first.queue != second.queue
        assert all(s.outcome == "answered" for s in call.queue_legs)
        # each queue's wait is measured from its own join, not the call's
        assert second.wait_seconds is not None and second.wait_seconds < 1.0
        assert call.talk_time == round(first.talk_seconds + second.talk_seconds)  # type: ignore[operator]


def test_interface_of_strips_the_channel_instance() -> None:
    assert interface_of("Local/1001@agents-00000049;1") == "Local/1001@agents"
    assert interface_of("PJSIP/1001-0000001a") == "PJSIP/1001"
    assert interface_of("SIP/trunk") == "SIP/trunk"


def _rows(shared_dir: Path, linkedid: str) -> list[CelRow]:
    return calls_in_csv(asterisk_dir(shared_dir) / "transfers.cel.csv")[linkedid]


def test_a_call_still_in_progress_is_not_a_record_yet(shared_dir: Path) -> None:
    rows = _rows(shared_dir, "1796176187.136")
    assert interpret([r for r in rows if r.eventtype != "LINKEDID_END"]) is None
    assert interpret([]) is None


def test_rows_out_of_order_and_broken_extra_give_the_same_call(shared_dir: Path) -> None:
    rows = _rows(shared_dir, "1796176202.142")
    call = interpret(rows)
    assert interpret(list(reversed(rows))) == call
    broken = [replace(r, extra="{not json") if r.eventtype == "HANGUP" else r for r in rows]
    again = interpret(broken)
    assert again is not None and again.hangup_cause is None
    assert [leg.talk_seconds for leg in again.agent_legs] == [leg.talk_seconds for leg in call.agent_legs]  # type: ignore[union-attr]


def test_a_call_that_never_queued_is_not_a_queue_call(shared_dir: Path) -> None:
    rows = _rows(shared_dir, "1796176166.120")
    unqueued = [replace(r, appname="Dial", appdata="") if r.appname == "Queue" else r for r in rows]
    assert interpret(unqueued) is None

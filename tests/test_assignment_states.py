"""The assignment lifecycle table itself: every status to every status, no database."""

import pytest

from hotline.errors import InvalidTransition
from hotline.orders.assignment_states import (
    CLOCK_RUNNING,
    HELD,
    OPEN,
    REPLY_CLOCK_RUNNING,
    SIGN_CLOCK_RUNNING,
    TERMINAL,
    TRANSITIONS,
    AssignmentStatus,
    check_move,
    param,
)

S = AssignmentStatus


@pytest.mark.parametrize("to", list(S))
@pytest.mark.parametrize("current", list(S))
def test_every_move_is_allowed_exactly_by_the_table(current: S, to: S) -> None:
    if to in TRANSITIONS[current]:
        assert check_move(current.value, to, 7) is to
    else:
        with pytest.raises(InvalidTransition) as exc:
            check_move(current.value, to, 7)
        assert exc.value.status == 409 and exc.value.code == "invalid_transition"
        assert exc.value.details == {
            "assignment_id": 7,
            "status": current.value,
            "to": to.value,
            "allowed_to": sorted(TRANSITIONS[current]),
        }
        assert current.value in exc.value.message and to.value in exc.value.message


def test_an_unknown_status_is_not_a_status() -> None:
    with pytest.raises(ValueError):
        check_move("lost", S.SIGNED)


def test_every_status_has_a_row_and_is_reachable_from_dispatch() -> None:
    assert set(TRANSITIONS) == set(S)
    reached, frontier = {S.DISPATCHED}, [S.DISPATCHED]
    while frontier:
        for to in TRANSITIONS[frontier.pop()]:
            if to not in reached:
                reached.add(to)
                frontier.append(to)
    assert reached == set(S)


def test_terminal_statuses_go_nowhere_and_open_ones_can_always_be_cancelled() -> None:
    assert TERMINAL == {S.RETURNED, S.DONE, S.CANCELLED}
    assert all(S.CANCELLED in TRANSITIONS[s] for s in OPEN)
    assert not OPEN & TERMINAL and S.REDISPATCHED not in OPEN


def test_the_named_sets_nest_as_the_clocks_run() -> None:
    assert SIGN_CLOCK_RUNNING < REPLY_CLOCK_RUNNING <= HELD < OPEN
    assert CLOCK_RUNNING == {"sign": SIGN_CLOCK_RUNNING, "reply": REPLY_CLOCK_RUNNING}
    # What SQL receives: plain, sorted strings.
    assert param(OPEN) == ["dispatched", "replied", "signed"]
    assert all(type(v) is str for v in param(OPEN))

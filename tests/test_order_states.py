"""The lifecycle table itself: every action against every state, no database."""

import pytest

from hotline.errors import InvalidTransition
from hotline.orders.states import RULES, TERMINAL, Action, Status, check, target


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("status", list(Status))
def test_every_action_in_every_state_is_allowed_exactly_by_the_table(action: Action, status: Status) -> None:
    rule = RULES[action]
    if status in rule.from_states:
        assert check(action, status) is rule
    else:
        with pytest.raises(InvalidTransition) as exc:
            check(action, status)
        assert exc.value.status == 409
        assert exc.value.details["status"] == status.value
        assert status.value in exc.value.message and action.value in exc.value.message


def test_terminal_states_allow_nothing() -> None:
    for status in TERMINAL:
        assert [a for a in Action if status in RULES[a].from_states] == []


def test_actions_with_outcomes_refuse_an_outcome_outside_the_table() -> None:
    assert target(Action.VISIT, Status.AWAITING_VISIT, Status.REOPENED) is Status.REOPENED
    with pytest.raises(ValueError):
        target(Action.VISIT, Status.AWAITING_VISIT, Status.SIGNED)


def test_every_action_has_a_rule_and_every_status_is_reachable() -> None:
    assert set(RULES) == set(Action)
    reachable = {Status.RECEIVED}
    for rule in RULES.values():
        reachable |= {rule.to} if rule.to else set()
        reachable |= rule.outcomes
    assert reachable == set(Status)

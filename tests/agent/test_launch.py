"""Launch design: splitting a send budget that is smaller than what the audience can receive."""

from __future__ import annotations

from agent.launch import apportion


def test_a_budget_of_one_over_two_cells_sends_one_to_the_heavier_cell() -> None:
    assert apportion(1, {1: 0.3, 2: 0.6}, {1: 50, 2: 50}) == {1: 0, 2: 1}


def test_shares_follow_the_weights_and_leftovers_go_to_the_largest_remainders() -> None:
    # exact shares 7.5 and 2.5: whole parts 7 and 2, the one left over breaks the tie by weight
    assert apportion(10, {1: 3.0, 2: 1.0}, {1: 100, 2: 100}) == {1: 8, 2: 2}
    # exact shares 3.33, 3.33, 3.33 with 10 sends: every send is used
    assert sum(apportion(10, {1: 1.0, 2: 1.0, 3: 1.0}, {1: 9, 2: 9, 3: 9}).values()) == 10


def test_capacity_caps_a_cell_and_its_share_goes_elsewhere() -> None:
    sends = apportion(10, {1: 9.0, 2: 1.0}, {1: 4, 2: 20})
    assert sends == {1: 4, 2: 6}


def test_zero_weights_split_evenly() -> None:
    assert apportion(3, {1: 0.0, 2: 0.0}, {1: 5, 2: 5}) in ({1: 2, 2: 1}, {1: 1, 2: 2})

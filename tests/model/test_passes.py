"""Planning a mixed batch's passes: every row read once, in as few passes as pay."""

from __future__ import annotations

import math

from bot.model.passes import plan_passes

ROUTER, SKILL = 6, 12  # layers run: the router's read and a skill's with slots


def test_every_row_is_in_exactly_one_pass():
    rows = [(ROUTER, 8), (SKILL, 17), (SKILL, 30), (ROUTER, 5), (SKILL, 17), (3, 40)]
    plan = plan_passes(rows)
    assert sorted(i for rows_of_pass in plan for i in rows_of_pass) == list(range(len(rows)))


def test_one_turns_two_rows_share_a_pass():
    assert plan_passes([(ROUTER, 8), (SKILL, 17)]) == [[0, 1]]


def test_sixteen_router_rows_get_a_pass_of_their_own():
    rows = [(ROUTER, 8)] * 16 + [(SKILL, 17)] * 16
    plan = plan_passes(rows)
    assert sorted(plan[0]) == list(range(16)) and sorted(i for p in plan[1:] for i in p) == list(range(16, 32))


def test_rows_of_one_depth_and_length_stay_in_one_pass_and_a_free_row_count_never_splits():
    assert plan_passes([(SKILL, 17)] * 32) == [list(range(32))]
    assert len(plan_passes([(ROUTER, 8)] * 16 + [(SKILL, 40)] * 16, layer_cost=math.inf)) == 1


def test_an_empty_batch_has_no_passes():
    assert plan_passes([]) == []

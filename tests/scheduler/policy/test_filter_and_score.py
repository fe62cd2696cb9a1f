"""`framework.filter_and_score`: one scheduling cycle, filters then scores of the nodes that
passed, in one `CycleState` when every node passes.

One-sentence property: its verdicts, 0..10 integers and ranked levels equal `run_filters`
followed by `run_scores(..., rank=True)` of the passed nodes, on fleets whose states repeat
(so the by-state subset is used), with and without a demand mix and for every kind of pod.
And the speed claim itself: when every node passes, the subset of one node per row state is
formed once (by the filters), not a second time for the scores.
"""

from __future__ import annotations

from hypothesis import given, settings

from scheduler.policy import framework
from scheduler.policy.framework import filter_and_score, run_filters, run_scores
from scheduler.policy.interfaces import CycleState
from scheduler.policy.registry import build_profile
from tests.scheduler.policy.test_state_dedupe import _group_small_candidate_lists, _t4, fleets, pods

__all__ = ["_group_small_candidate_lists"]  # (the fixture, active here too)

PROFILE = build_profile()


@settings(max_examples=200, deadline=None)
@given(fleets(), pods)
def test_one_cycle_equals_filters_then_scores(state, p) -> None:
    names = [*sorted(state.nodes), "ghost"]
    filtered, scores = filter_and_score(state, p, names, PROFILE, rank=True)
    apart = run_filters(state, p, names, PROFILE)
    for part in ("passed", "failed", "unresolvable"):
        assert getattr(filtered, part) == getattr(apart, part)
    if not apart.passed:
        assert scores is None
        return
    alone = run_scores(state, p, apart.passed, PROFILE, rank=True)
    assert scores is not None
    assert (scores.names, scores.ints, scores.levels) == (alone.names, alone.ints, alone.levels)


def test_the_by_state_subset_is_formed_once(monkeypatch) -> None:
    from scheduler.policy.model import ClusterState

    state = ClusterState({n: _t4(n) for n in ("a", "b", "c", "d")})  # one row state, 4 nodes
    made: list[int] = []
    subset = CycleState.subset

    def counting_subset(self, positions):  # a stand-in spy around the real method
        made.append(len(positions))
        return subset(self, positions)

    monkeypatch.setattr(CycleState, "subset", counting_subset)
    filtered, scores = filter_and_score(state, _pod(), sorted(state.nodes), PROFILE)
    assert filtered.passed == sorted(state.nodes) and scores is not None
    assert made == [1]  # the filters' one row of the one state, scored as it is
    made.clear()
    run_filters(state, _pod(), sorted(state.nodes), PROFILE)
    run_scores(state, _pod(), sorted(state.nodes), PROFILE)
    assert made == [1, 1]  # apart: formed by each
    assert framework.filter_and_score is filter_and_score


def _pod():  # type: ignore[no-untyped-def]
    from scheduler.policy.model import GpuRequest
    from tests.builders import pod

    return pod(gpu=GpuRequest("milli", milli=500), cpu_milli=1000)

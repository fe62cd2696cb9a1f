"""`FleetIndex.refresh`: an index whose owner recomputes the touched rows in place (the
simulator's cluster) answers every batch filter and scorer as an index built from scratch,
its per-row memos kept across refreshes (their rows redone from the change log, or the log
folded into them), also after a derived index extended the shared log."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scheduler.policy.fleet_index as fleet_index
from scheduler.policy.model import ClusterState
from tests.builders import pod
from tests.scheduler.policy.batch_paths import fast_scores, fast_scores_applicable
from tests.scheduler.policy.test_batch import PROFILE, _dropped, _fast, clusters, requests

flags = st.lists(st.booleans(), min_size=6, max_size=6)


def _same_as_fresh(state: ClusterState, p, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    fresh = ClusterState(state.nodes, state.allocations)
    assert _fast(state, p, names)[0] == _fast(fresh, p, names)[0]
    if fast_scores_applicable(p, PROFILE):
        assert fast_scores(state, p, names, PROFILE) == fast_scores(fresh, p, names, PROFILE)


@pytest.mark.parametrize("fold", [False, True])
@settings(max_examples=60, deadline=None)
@given(clusters(), requests, flags, flags, st.booleans())
def test_index_refreshed_in_place_equals_fresh(fold, a, req, keep1, keep2, branch) -> None:
    """Property: a -> b -> c (each dropping some allocations), one index refreshed in place
    for the touched nodes, judges each state as a fresh build does; with `branch`, a derived
    index (a scratch state's) extends the shared change log before the next refresh; with
    `fold`, every refresh folds its log into the memos."""
    p = pod(gpu=req)
    names = sorted(a.nodes)
    idx = a.fleet()
    _same_as_fresh(a, p, names)  # fills the per-row memos
    state = a
    for keep in (keep1, keep2):
        nxt, touched = _dropped(state, keep)
        if branch:  # a scratch state derived from the current one uses the memos first
            derived = ClusterState(nxt.nodes, nxt.allocations, _seed=state.seed_for(touched))
            _same_as_fresh(derived, p, names)
        live = ClusterState(nxt.nodes, nxt.allocations, _fleet={"fleet": idx})
        limit = fleet_index.REFRESH_LOG_ROWS
        fleet_index.REFRESH_LOG_ROWS = -1 if fold else limit
        try:
            idx.refresh(live.capacity(n) for n in touched)
        finally:
            fleet_index.REFRESH_LOG_ROWS = limit
        assert live.fleet() is idx
        _same_as_fresh(live, p, names)
        state = live

"""`FleetIndex.refresh`: an index whose owner recomputes the touched rows in place (the
simulator's cluster) answers every batch filter and scorer as an index built from scratch,
its per-row memos kept across refreshes (their rows redone from the change log, or the log
folded into them), also after a derived index extended the shared log."""

from __future__ import annotations

import numpy as np
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


@settings(max_examples=40, deadline=None)
@given(clusters(), flags)
def test_refresh_marks_a_memo_held_alone_stale_in_place_and_leaves_a_shared_one(a, keep) -> None:
    """A per-row memo only this index holds is brought up to date in place after `refresh`
    (the same array, only the touched rows computed again); one handed to a derived index by
    `updated()` is never written by the owner's refresh: the owner computes a copy instead,
    and the derived index still reads the values of its own state."""
    nxt, touched = _dropped(a, keep)
    idx = a.fleet()
    calls: list[list[int]] = []

    def free_total(owner):  # type: ignore[no-untyped-def]
        def run(rows):  # type: ignore[no-untyped-def]
            calls.append(rows.tolist())
            pf = owner.plain_free[rows].astype(np.int64)
            return np.where(pf < 0, 0, pf).sum(axis=1)

        return run

    alone = idx.per_row(("t",), free_total(idx))
    live = ClusterState(nxt.nodes, nxt.allocations, _fleet={"fleet": idx})
    idx.refresh(live.capacity(n) for n in touched)
    calls.clear()
    again = idx.per_row(("t",), free_total(idx))
    assert again is alone  # no copy per refresh
    assert sorted(x for c in calls for x in c) == sorted(idx.row[n] for n in touched)
    fresh = ClusterState(nxt.nodes, nxt.allocations).fleet()
    assert np.array_equal(again, free_total(fresh)(np.arange(len(fresh.alive))))

    # Share the memo with a derived index, then refresh the owner back to `a`'s allocations.
    derived = idx.updated([], [])
    shared = derived.row_memo[("t",)]
    before = shared.values.copy()
    back = ClusterState(a.nodes, a.allocations, _fleet={"fleet": idx})
    idx.refresh(back.capacity(n) for n in touched)
    assert np.array_equal(shared.values, before) and shared.valid.all()
    mine = idx.per_row(("t",), free_total(idx))
    rebuilt = ClusterState(a.nodes, a.allocations).fleet()
    assert np.array_equal(mine, free_total(rebuilt)(np.arange(len(rebuilt.alive))))
    assert np.array_equal(derived.per_row(("t",), free_total(derived)), before)


@pytest.mark.parametrize("path", ["refreshed", "derived"])
@settings(max_examples=40, deadline=None)
@given(clusters(), flags)
def test_a_reader_during_a_memo_update_never_reads_unfilled_rows(path, a, keep) -> None:
    """Property: a second `per_row` call made while the first is still computing the stale
    rows (the extender serves offloaded verbs and the keep pass on other threads; here the
    compute itself calls back in) returns the current values, for a memo brought up to date
    in place after `refresh` and for one copied on first use after `updated()`."""
    nxt, touched = _dropped(a, keep)
    idx = a.fleet()

    def free_total(owner):  # type: ignore[no-untyped-def]
        def run(rows):  # type: ignore[no-untyped-def]
            pf = owner.plain_free[rows].astype(np.int64)
            return np.where(pf < 0, 0, pf).sum(axis=1)

        return run

    idx.per_row(("t",), free_total(idx))  # the memo, current for `a`
    if path == "refreshed":
        target = idx
        idx.refresh(ClusterState(nxt.nodes, nxt.allocations, _fleet={"fleet": idx}).capacity(n)
                    for n in touched)  # fmt: skip
    else:
        target = ClusterState(nxt.nodes, nxt.allocations, _seed=a.seed_for(touched)).fleet()
    nested: list[np.ndarray] = []

    def reentrant(rows):  # type: ignore[no-untyped-def]
        if not nested:  # once: the "other thread" reads while this call is mid-update
            nested.append(target.per_row(("t",), free_total(target)).copy())
        return free_total(target)(rows)

    out = target.per_row(("t",), reentrant)
    fresh = ClusterState(nxt.nodes, nxt.allocations).fleet()
    want = free_total(fresh)(np.arange(len(fresh.alive)))
    assert np.array_equal(out, want)
    if nested:  # no stale rows, no mid-update read to check
        assert np.array_equal(nested[0], want)

"""Candidates that carry their fleet-index rows (`RowNames`), and the index's inventory memo
(`FleetIndex.inventory`, kept by `refresh` across binds that leave every row's alive / model /
usable-GPU columns be)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.capacity import NodeCapacity
from scheduler.policy.demand import DemandMix
from scheduler.policy.fleet_index import RowNames
from scheduler.policy.framework import run_filters, run_scores
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    GpuGrant,
    GpuHealth,
    GpuRequest,
    Node,
    Placement,
)
from scheduler.policy.plugins.reserve import model_pressure
from scheduler.policy.registry import build_profile
from tests.builders import pod
from tests.scheduler.policy.share_fleet import gpu_node
from tests.scheduler.policy.test_batch import clusters, requests


def _picked(state: ClusterState, order: list[int]) -> list[str]:
    names = sorted(state.nodes)
    return [names[i % len(names)] for i in order]


@settings(max_examples=80, deadline=None)
@given(clusters(), requests, st.lists(st.integers(0, 20), min_size=1, max_size=12))
def test_row_names_answer_as_names_do(state, req, order) -> None:
    """Property: candidates handed as `RowNames` (rows from the index's own row map) get the
    same rows and liveness from `rows_of`, and the same filter verdicts, 0..10 scores and
    0..100 levels (tie-break included) as the same names in a plain list; repeats and any
    order allowed."""
    names = _picked(state, order)
    idx = state.fleet()
    carried = RowNames(names, np.array([idx.row[n] for n in names], np.intp), idx.row)
    got, want = idx.rows_of(carried), idx.rows_of(list(names))
    assert got[0].tobytes() == want[0].tobytes() and got[1].tobytes() == want[1].tobytes()
    p = pod(gpu=req)
    profile = build_profile()
    plain = ClusterState(state.nodes, state.allocations)  # its own index: lookups by name
    a = run_filters(state, p, carried, profile)
    b = run_filters(plain, p, list(names), profile)
    assert (a.passed, a.failed, a.unresolvable) == (b.passed, b.failed, b.unresolvable)
    sa = run_scores(state, p, carried, profile, rank=True)
    sb = run_scores(plain, p, list(names), profile, rank=True)
    assert (sa.ints, sa.levels) == (sb.ints, sb.levels)


def test_row_names_of_another_row_map_are_looked_up() -> None:
    """Rows carried for another index's row map are not trusted: `rows_of` looks the names
    up in its own (here the carried rows are deliberately wrong). Mutation: reading the rows
    without the row-map check fails this."""
    nodes = {n: gpu_node(n, 1, cpu_milli=8000) for n in "abc"}
    state = ClusterState(nodes, {})
    idx = state.fleet()
    other = dict(idx.row)  # equal, but not the index's own map
    wrong = RowNames(["c", "a"], np.array([0, 1], np.intp), other)
    rows, known = idx.rows_of(wrong)
    assert rows.tolist() == [idx.row["c"], idx.row["a"]] and known.tolist() == [True, True]


def test_row_names_need_one_row_per_name() -> None:
    with pytest.raises(ValueError, match="2 names but 1 rows"):
        RowNames(["a", "b"], np.array([0], np.intp), {"a": 0, "b": 1})


def _two_t4_nodes() -> dict[str, Node]:
    return {n: gpu_node(n, 2, cpu_milli=8000) for n in ("a", "b")}


def _mix() -> DemandMix:
    return DemandMix({}, 1000.0, {frozenset({"T4"}): 500.0}, 4)


def test_inventory_memo_survives_binds_and_follows_a_faulted_gpu() -> None:
    """`refresh` keeps the inventory memo across a bind (allocations only) and drops it when
    a refreshed row's usable GPUs change (a GPU turns faulted): the GPUs per model that
    `ModelReserve` reads are then 4 -> 3 (T4 2 + 2 GPUs, one faulted). Mutation: keeping the
    memo whatever the rows' inventory fails the last assertion."""
    nodes = _two_t4_nodes()
    state = ClusterState(nodes, {}, demand=_mix())
    idx = state.fleet()
    t4 = idx.keys.index("T4")
    calls: list[int] = []

    def gpus(owner):  # type: ignore[no-untyped-def]
        calls.append(1)
        return np.bincount(owner.product[owner.alive], weights=owner.n_usable[owner.alive],
                           minlength=len(owner.keys))  # fmt: skip

    assert idx.inventory(("t",), gpus)[t4] == 4.0
    bound = Allocation("d/p", "p", Placement("a", (GpuGrant(0, milli=500),)), cpu_milli=1000)
    after = ClusterState(nodes, {"p": bound}, _fleet={"fleet": idx})
    idx.refresh([after.capacity("a")])
    assert idx.inventory(("t",), gpus)[t4] == 4.0 and len(calls) == 1  # kept: no recompute
    sick = replace(nodes["b"].gpus[1], health=GpuHealth(ecc_uncorrectable=1))
    broken = {**nodes, "b": replace(nodes["b"], gpus=(nodes["b"].gpus[0], sick))}
    idx.refresh([NodeCapacity.build(broken["b"], ())])
    assert idx.inventory(("t",), gpus)[t4] == 3.0 and len(calls) == 2


def test_model_pressure_reads_the_inventory_memo_as_a_fresh_count() -> None:
    """`model_pressure` after binds on an index refreshed in place equals the pressure a
    freshly built index gives (T4: 500 of 1000 milli asked by T4-only pods, 4 GPUs, all T4:
    0.5 x 4 / 4 = 0.5)."""
    nodes = _two_t4_nodes()
    state = ClusterState(nodes, {}, demand=_mix())
    idx = state.fleet()
    model_pressure(state, idx)
    bound = Allocation("d/p", "p", Placement("b", (GpuGrant(1),)), cpu_milli=0)
    after = ClusterState(nodes, {"p": bound}, _fleet={"fleet": idx}, demand=_mix())
    idx.refresh([after.capacity("b")])
    fresh = ClusterState(nodes, {"p": bound}, demand=_mix())
    got = model_pressure(after, idx)
    want = model_pressure(fresh, fresh.fleet())
    assert got.tolist() == want.tolist()
    assert got[idx.keys.index("T4")] == 0.5


def test_a_cpu_only_pod_and_a_share_score_alike_with_row_names() -> None:
    """A table case beside the property: two idle T4 nodes, a 500-milli share and a CPU-only
    pod: the carried rows and the names give the same levels (both nodes alike: equal)."""
    state = ClusterState(_two_t4_nodes(), {}, demand=_mix())
    idx = state.fleet()
    carried = RowNames(["b", "a"], np.array([idx.row["b"], idx.row["a"]], np.intp), idx.row)
    profile = build_profile()
    for p in (pod(gpu=GpuRequest("milli", milli=500)), pod()):
        got = run_scores(state, p, carried, profile, rank=True)
        want = run_scores(ClusterState(state.nodes, {}, demand=_mix()), p, ["b", "a"], profile,
                          rank=True)  # fmt: skip
        assert got.levels == want.levels and got.levels[0] == got.levels[1]


@settings(max_examples=60, deadline=None)
@given(
    clusters(),
    st.lists(st.integers(0, 20), min_size=1, max_size=12),
    st.lists(st.integers(0, 11), max_size=12),
)
def test_a_subset_cycle_reads_as_a_fresh_one(state, order, picks) -> None:
    """Property: a `CycleState.subset` (its index, rows and liveness filled in, not looked
    up) reads the same index, rows, liveness and names as a fresh cycle of the picked names,
    unknown names included."""
    from scheduler.policy.interfaces import CycleState

    names = [*_picked(state, order), "not-a-node"]
    positions = np.array([i % len(names) for i in picks], np.intp)
    sub = CycleState(state, pod(), names).subset(positions)
    fresh = CycleState(state, pod(), [names[i] for i in positions.tolist()])
    assert sub.index is fresh.index
    assert sub.rows.tolist() == fresh.rows.tolist()
    assert sub.known.tolist() == fresh.known.tolist()
    assert (sub._rows[0].tolist(), sub._rows[1].tolist()) == (sub.rows.tolist(), sub.known.tolist())
    assert list(sub.names[:]) == [names[i] for i in positions.tolist()]

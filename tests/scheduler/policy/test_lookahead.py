"""LookAhead: top-level ties go to the node best placed for the next typical pod; by hand.

The hand cases are small enough to compute FGD's measure on paper; the properties check the
two-step cost against a loop over the nodes and that the tie-break only reorders the top level
(the arithmetic underneath, `lookahead_cost.py`, in test_lookahead_cost.py).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from packing.fgd import TaskShape
from scheduler.policy.demand import DemandMix
from scheduler.policy.framework import run_filters, run_scores
from scheduler.policy.interfaces import CycleState
from scheduler.policy.model import ClusterState, GpuRequest, PodRequest
from scheduler.policy.plugins.lookahead import LookAhead
from scheduler.policy.plugins.lookahead_cost import (
    MixShapes,
    best_increase,
)
from scheduler.policy.registry import build_profile, default_profile
from tests.builders import pod
from tests.scheduler.policy.share_fleet import T4, free_fleet

FRAG = {"Fragmentation": 1.0}
TIE = build_profile(weights=FRAG)  # the default tie-break
NO_TIE = build_profile(weights=FRAG, tie_break=None)


def _state(frees: dict[str, tuple[int, ...]], mix: dict[TaskShape, int] | None,
           cpu: dict[str, tuple[int, int]] | None = None) -> ClusterState:  # fmt: skip
    """T4 nodes with one GPU per free value (1000: idle; else a share of 1000 - free held);
    `cpu`: per node (capacity, CPU held), default 32 cores, none held."""
    nodes, allocs = free_fleet(frees, cpu=cpu)
    demand = None if mix is None else DemandMix(dict(mix), 0.0, {}, sum(mix.values()))
    return ClusterState(nodes, allocs, demand=demand)


def _levels(state: ClusterState, p: PodRequest, profile) -> dict[str, int]:
    names = sorted(state.nodes)
    fast = run_scores(state, p, names, profile, rank=True)
    slow = run_scores(state, p, names, replace(profile, batch=False), rank=True)
    assert fast.levels == slow.levels
    assert fast.levels is not None
    if fast.level_array is not None:  # the fill ranks by the array: it carries the tie-break too
        assert fast.level_array.tolist() == fast.levels
    return dict(zip(names, fast.levels, strict=True))


SHARE200 = GpuRequest("milli", 1, milli=200)
MIX500 = {TaskShape(0, 500, 1): 4}  # the pods seen so far: 500-milli shares only


@pytest.mark.parametrize(
    ("frees", "mix", "untied", "tied"),
    [
        # A 200-milli share; node a: one idle GPU; b: one idle GPU and one with 700 free.
        # FGD against 500-milli shares: a GPU with >= 500 free is usable, less is a fragment.
        # First step: a 1000 -> 800 (usable): increase 0; b the tightest GPU 700 -> 500
        # (usable): 0. Both score 1 / (1 + e^0) = 0.5: level 50 each, a tie (node order: a).
        # Look-ahead, the next 500 share. Now: on a 1000 -> 500: +0; on b 700 -> 200: +200;
        # so its best place is a (0), the second best b (200).
        # a after the pod [800]: the next share 800 -> 300: +300; elsewhere the best is b's
        # 200 (a is the best now, so the second best counts): min(300, 200) = 200; cost 0+200.
        # b after the pod [1000, 500]: the next share on the 500 GPU -> 0: +0; elsewhere a's
        # 0: min(0, 0) = 0; cost 0 + 0 = 0. b costs less: a drops to 49, b keeps 50.
        ({"a": (1000,), "b": (1000, 700)}, MIX500, {"a": 50, "b": 50}, {"a": 49, "b": 50}),
        # Two identical idle nodes: equal costs, nobody drops; the caller's order decides.
        ({"a": (1000,), "b": (1000,)}, MIX500, {"a": 50, "b": 50}, {"a": 50, "b": 50}),
        # No pods seen yet (no demand): Fragmentation judges the pod's own shape (200 milli,
        # logistic scale 250): a 1000 -> 800 and b 700 -> 500 strand nothing: 50 / 50; the
        # look-ahead has no mix to draw the next pod from and leaves the tie.
        ({"a": (1000,), "b": (1000, 700)}, None, {"a": 50, "b": 50}, {"a": 50, "b": 50}),
        # Not a tie: a holds 300 free (a fragment for 500 shares), b one idle GPU. a 300 ->
        # 100: fragments 300 -> 100, -200 (1 / (1 + e^-0.2) = 0.5498 -> 55); b 1000 -> 800:
        # 0 (50). Only a is at the top: nothing to break.
        ({"a": (300,), "b": (1000,)}, MIX500, {"a": 55, "b": 50}, {"a": 55, "b": 50}),
    ],
)
def test_ties_go_to_the_node_best_placed_for_the_next_pod(frees, mix, untied, tied) -> None:
    state = _state(frees, mix)
    p = pod(gpu=SHARE200)
    assert _levels(state, p, NO_TIE) == untied
    assert _levels(state, p, TIE) == tied


def test_only_ranking_callers_pay_for_the_tie_break() -> None:
    """The first hand case without `rank`: the levels stay 50 / 50 (a caller that reads only
    the 0..10 integers, like prioritize or the replay, gets the same integers either way)."""
    state = _state({"a": (1000,), "b": (1000, 700)}, MIX500)
    p = pod(gpu=SHARE200)
    plain = run_scores(state, p, ["a", "b"], TIE)
    ranked = run_scores(state, p, ["a", "b"], TIE, rank=True)
    assert plain.levels == [50, 50] and ranked.levels == [49, 50]
    assert plain.ints == ranked.ints == [5, 5]


def test_no_decision_for_cpu_only_or_mig_pods_or_without_a_mix() -> None:
    """CPU-only pods keep their ties (deciding them cost the CPU-heavy list 1.2 pp), MIG pods
    have no FGD measure, and before any pod is seen there is no mix to look ahead with.
    A CPU-only 4-core pod on the first hand case's nodes: the mix's shares ask no CPU, so FGD
    moves nothing on either node (increase 0: 50 / 50), and the tie stays."""
    state = _state({"a": (1000,), "b": (1000, 700)}, None)
    assert LookAhead().tie_costs(CycleState(state, pod(gpu=SHARE200), ["a", "b"])) is None
    mixed = _state({"a": (1000,), "b": (1000, 700)}, MIX500)
    mig = GpuRequest("mig", 1, "1g.10gb", dynamic=True)
    assert LookAhead().tie_costs(CycleState(mixed, pod(gpu=mig), ["a", "b"])) is None
    cpu_only = pod(cpu_milli=4000)
    assert LookAhead().tie_costs(CycleState(mixed, cpu_only, ["a", "b"])) is None
    assert _levels(mixed, cpu_only, TIE) == {"a": 50, "b": 50}


def test_unknown_tie_break_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown tie-break plugin 'Nope'"):
        build_profile(tie_break="Nope")


# -- properties ----------------------------------------------------------------------------


@st.composite
def mixed_states(draw):
    """1-4 T4 nodes of 1-3 GPUs (idle, a share held, or held whole), some CPU held, and a
    demand mix of 1-3 shapes (CPU-only, shares, whole GPUs)."""
    frees, cpu = {}, {}
    for n in range(draw(st.integers(1, 5))):
        frees[f"n{n}"] = tuple(
            draw(
                st.lists(
                    st.sampled_from([1000, 1000, 800, 700, 500, 300, 200, 0]),
                    min_size=1,
                    max_size=3,
                )
            )
        )
        cpu[f"n{n}"] = (32000, draw(st.sampled_from([0, 0, 8000, 24000, 30000])))
    shapes = draw(st.lists(st.sampled_from([
        TaskShape(0, 500, 1), TaskShape(4000, 300, 1), TaskShape(8000, 1000, 1),
        TaskShape(2000, 1000, 2), TaskShape(6000, 0, 0), TaskShape(0, 700, 1),
        TaskShape(0, 200, 1),
    ]), min_size=1, max_size=3, unique=True))  # fmt: skip
    mix = {s: draw(st.integers(1, 4)) for s in shapes}
    return _state(frees, mix, cpu)


REQUESTS = st.sampled_from([
    None, GpuRequest("whole", 1), GpuRequest("whole", 2), GpuRequest("milli", 1, milli=300),
    GpuRequest("milli", 1, milli=500), SHARE200,
])  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(mixed_states(), REQUESTS, st.sampled_from([0, 2000, 6000]),
       st.sampled_from([(TIE, NO_TIE), (default_profile(), None)]))  # fmt: skip
def test_the_tie_break_only_reorders_the_top_level(state, req, cpu, profiles) -> None:
    """Property: with the tie-break, every node keeps its level except the top-level nodes
    whose look-ahead cost is above the lowest, which drop exactly one; the lowest-cost ones
    keep the top."""
    with_tie, without = profiles
    without = without or replace(with_tie, tie_break=None)
    p = pod(gpu=req, cpu_milli=cpu)
    names = run_filters(state, p, sorted(state.nodes), with_tie).passed
    assume(names)
    base = run_scores(state, p, names, without, rank=True).levels
    got = run_scores(state, p, names, with_tie, rank=True).levels
    assert base is not None and got is not None
    top = [n for n, lv in zip(names, base, strict=True) if lv == max(base)]
    assert with_tie.tie_break is not None  # the profile's own: LookAhead or the default
    costs = with_tie.tie_break.tie_costs(CycleState(state, p, top))
    for n, b, g in zip(names, base, got, strict=True):
        if n not in top or len(top) < 2 or costs is None:
            assert g == b
        else:
            c = costs[top.index(n)]
            assert g == (b if round(c, 6) <= round(min(costs), 6) else b - 1)
    assert max(got) == max(base)


@settings(max_examples=150, deadline=None)
@given(mixed_states(), REQUESTS, st.sampled_from([0, 2000, 6000]))
def test_each_cost_is_the_two_step_formula(state, req, cpu) -> None:
    """Property: for any candidates (here every node the pod passes), the vectorised cost of
    each equals the module's formula evaluated node by node (`_loop_costs`)."""
    p = pod(gpu=req, cpu_milli=cpu)
    names = run_filters(state, p, sorted(state.nodes), TIE).passed
    assume(names)
    costs = LookAhead().tie_costs(CycleState(state, p, names))
    if costs is None:  # only CPU-only and MIG pods and candidates in one state are left
        idx = state.fleet()
        rows = [idx.row[n] for n in names]
        alike = len({(tuple(idx.plain_free[r]), idx.cpu[r], idx.product[r]) for r in rows}) == 1
        assert req is None or req.kind == "mig" or alike
        return
    assert costs.tolist() == pytest.approx(_loop_costs(state, p, names))


def _loop_costs(state: ClusterState, p: PodRequest, top: list[str]) -> list[float]:
    """cost(n) = inc(pod on n) + sum_t p_t x min(inc(t on n after), best other now), the
    GPUs of t when it fits nowhere; node by node with `best_increase` on one state."""
    idx = state.fleet()
    mix = state.demand
    assert mix is not None and mix.workload is not None
    keys = tuple(idx.keys)
    table = mix.table(keys, max(8, idx.slots))
    sh = MixShapes(mix.workload, keys)

    def one(free, cpu, model):
        got, frag = best_increase(table, sh, np.array([free]), np.array([cpu]),
                                  np.array([model], np.intp))  # fmt: skip
        return got[0], frag[0]

    now = {n: one(idx.plain_free[idx.row[n]], idx.cpu[idx.row[n]], idx.product[idx.row[n]])[0]
           for n in state.nodes}  # fmt: skip
    out = []
    for n in top:
        r = idx.row[n]
        placement = CycleState(state, p, [n]).placement(state.nodes[n])
        assert placement is not None
        free = idx.plain_free[r].astype(np.int64).copy()
        g = p.gpu
        for grant in placement.gpus:
            free[grant.index] -= 1000 if g is not None and g.kind == "whole" else g.milli
        model = int(idx.product[r])
        after, frag1 = one(free, idx.cpu[r] - p.cpu_milli, model)
        frag0 = table.node_frag(np.array([idx.plain_free[r]]), np.array([idx.cpu[r]]),
                                np.array([model]))[0]  # fmt: skip
        total = frag1 - frag0
        for t, w in enumerate(sh.weight):
            other = min((now[m][t] for m in state.nodes if m != n), default=float("inf"))
            best = min(after[t], other)
            total += w * (sh.lost[t] if best == float("inf") else best)
        out.append(float(total))
    return out


def test_costs_follow_a_fleet_index_refreshed_in_place_bind_after_bind() -> None:
    """The simulator refreshes one fleet index in place, bind after bind, so the per-row
    increases and their per-block lowest (`BlockTopTwo`) are redone for the bound rows only:
    40 two-GPU T4 nodes (two blocks of 32 rows), each pod bound to its lowest-cost node, and
    the costs of every node equal the formula node by node (`_loop_costs`) after every bind.
    A second cluster of the same nodes under the same mix (one pod bound) is asked every
    fourth round: its index is another array under the same memo, which must not take the
    first's lowest."""
    from simulator.cluster.state import SimCluster
    from simulator.workloads.model import NodeSpec

    sim = SimCluster(tuple(NodeSpec(f"n{i:02}", T4, 2, 32000, 1 << 36) for i in range(40)))
    mix = DemandMix({TaskShape(0, 500, 1): 3, TaskShape(4000, 300, 1): 2,
                     TaskShape(8000, 1000, 1): 1}, 0.0, {}, 6)  # fmt: skip
    names = list(sim.order)
    other = SimCluster(tuple(NodeSpec(f"n{i:02}", T4, 2, 32000, 1 << 36) for i in range(40)))
    first = other.snapshot(now=0.0, demand=mix)
    share = pod(gpu=GpuRequest("milli", 1, milli=700))
    held = CycleState(first, share, ["n39"]).placement(first.nodes["n39"])
    assert held is not None
    other.bind("held", held, 0, 0)
    for i, milli in enumerate([500, 300, 500, 700, 300, 500, 200, 500, 300, 500, 700, 300]):
        state = sim.snapshot(now=0.0, demand=mix)
        p = pod(gpu=GpuRequest("milli", 1, milli=milli), cpu_milli=2000)
        costs = LookAhead().tie_costs(CycleState(state, p, names))
        if costs is None:  # every node idle: one state
            assert i == 0
            best = names[0]
        else:
            assert costs.tolist() == pytest.approx(_loop_costs(state, p, names))
            best = names[int(np.argmin(costs))]
        placement = CycleState(state, p, [best]).placement(state.nodes[best])
        assert placement is not None
        sim.bind(f"p{i}", placement, 2000, 0)
        if i % 4 != 3:  # most rounds: the first cluster only, bind after bind
            continue
        state = other.snapshot(now=0.0, demand=mix)
        costs = LookAhead().tie_costs(CycleState(state, p, names))
        assert costs is not None
        assert costs.tolist() == pytest.approx(_loop_costs(state, p, names))

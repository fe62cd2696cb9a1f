"""Consolidate: while few pods have been seen, nodes in use before idle ones; by hand.

Each case is small enough to compute by hand; the batch path must give the per-node values.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packing.fgd import TaskShape
from scheduler.policy.capacity import gpu_used_fraction
from scheduler.policy.demand import DemandMix
from scheduler.policy.framework import run_scores, score_breakdown
from scheduler.policy.model import (
    Allocation,
    ClusterState,
    GpuGrant,
    GpuRequest,
    Node,
    Placement,
)
from scheduler.policy.plugins.consolidate import EARLY_PODS
from scheduler.policy.registry import build_profile, default_profile
from tests.builders import pod
from tests.scheduler.policy.batch_paths import plugin_values
from tests.scheduler.policy.share_fleet import gpu_node
from tests.scheduler.policy.test_batch import clusters, share_requests

SHARE300 = GpuRequest("milli", 1, milli=300)
ISOLATED = build_profile(weights={"Fragmentation": 1.0, "Consolidate": 0.06})
DEFAULT = default_profile()


def _state(seen: int) -> ClusterState:
    """Node a: one idle GPU. Node b: one GPU with a 500-milli share held (500 free). The pods
    seen so far: `seen` pods, all 400-milli shares."""
    nodes = {"a": gpu_node("a", 1), "b": gpu_node("b", 1)}
    held = Allocation("d/s", "s", Placement("b", (GpuGrant(0, milli=500),)))
    mix = DemandMix({TaskShape(0, 400, 1): seen}, 400.0 * seen, {}, seen)
    return ClusterState(nodes, {"s": held}, demand=mix)


def _levels(state: ClusterState, profile, p) -> dict[str, int]:
    fast = run_scores(state, p, ["a", "b"], profile)
    slow = run_scores(state, p, ["a", "b"], replace(profile, batch=False))
    assert fast.levels == slow.levels and fast.ints == slow.ints
    assert fast.levels is not None
    return dict(zip(["a", "b"], fast.levels, strict=True))


@pytest.mark.parametrize(
    ("seen", "consolidate", "levels", "winner"),
    [
        # A 300-milli share against a mix of 400-milli shares. FGD increase: a 1000 -> 700
        # free, still hosts a 400 share: 0 (Fragmentation 0.5); b 500 -> 200 free, the 200
        # strand: +200 (1 / (1 + e^0.2) = 0.4502). Fragmentation prefers the idle node by
        # 0.0498.
        # Early (10 pods seen): Consolidate a 0 (idle), b 1. Weighted (F 1, C 0.06, total
        # 1.06): a 0.5 / 1.06 = 47.17 -> 47; b (0.4502 + 0.06) / 1.06 = 48.13 -> 48: b wins,
        # the idle node stays idle.
        (10, {"a": 0.0, "b": 1.0}, {"a": 47, "b": 48}, "b"),
        # Trusted (EARLY_PODS seen): Consolidate 1 everywhere. a 0.56 / 1.06 = 52.83 -> 53;
        # b 0.5102 / 1.06 = 48.13 -> 48: a wins, as FGD's measure alone would have it.
        (EARLY_PODS, {"a": 1.0, "b": 1.0}, {"a": 53, "b": 48}, "a"),
    ],
)
def test_early_placements_keep_idle_nodes_idle(
    seen: int, consolidate: dict[str, float], levels: dict[str, int], winner: str
) -> None:
    state = _state(seen)
    p = pod(gpu=SHARE300)
    raw = {n: score_breakdown(state, p, n, ISOLATED) for n in ("a", "b")}
    assert raw["a"]["Fragmentation"] == pytest.approx(0.5)
    assert raw["b"]["Fragmentation"] == pytest.approx(1 / (1 + math.exp(0.2)))
    assert {n: raw[n]["Consolidate"] for n in raw} == consolidate
    got = _levels(state, ISOLATED, p)
    assert got == levels
    assert max(got, key=got.__getitem__) == winner


def test_no_demand_kept_or_no_usable_gpus_scores_one() -> None:
    # Without a demand log the scorer is inert; a node without GPUs has none to keep whole.
    nodes = {"a": gpu_node("a", 1), "cpu": Node("cpu", gpus=(), cpu_milli=32000)}
    p = pod()
    bare = ClusterState(nodes)
    assert {n: score_breakdown(bare, p, n, ISOLATED)["Consolidate"] for n in nodes} == {
        "a": 1.0, "cpu": 1.0}  # fmt: skip
    early = replace(bare, demand=DemandMix({TaskShape(0, 0, 0): 3}, 0.0, {}, 3))
    assert {n: score_breakdown(early, p, n, ISOLATED)["Consolidate"] for n in nodes} == {
        "a": 0.0, "cpu": 1.0}  # fmt: skip
    fast = run_scores(early, p, ["a", "cpu"], ISOLATED)
    slow = run_scores(early, p, ["a", "cpu"], replace(ISOLATED, batch=False))
    assert fast.levels == slow.levels


@st.composite
def plain_clusters(draw):
    """1-4 T4 nodes of 0-4 GPUs, each GPU idle, shared (250 / 500 milli held) or held whole,
    and, half the time, the strategy of test_batch (MIG, pools, grants without an index)."""
    if draw(st.booleans()):
        return draw(clusters())
    nodes, allocs = {}, {}
    for n in range(draw(st.integers(1, 4))):
        nodes[f"n{n}"] = gpu_node(f"n{n}", draw(st.integers(0, 4)))
        for g in range(len(nodes[f"n{n}"].gpus)):
            held = draw(st.sampled_from([0, 0, 250, 500, 1000]))
            if held:
                grant = GpuGrant(g) if held == 1000 else GpuGrant(g, milli=held)
                allocs[f"u{n}-{g}"] = Allocation(
                    f"d/u{n}-{g}", f"u{n}-{g}", Placement(f"n{n}", (grant,))
                )
    return ClusterState(nodes, allocs)


@settings(max_examples=80, deadline=None)
@given(
    plain_clusters(), share_requests, st.sampled_from([None, 1, EARLY_PODS - 1, EARLY_PODS]),
    st.sampled_from([0, 16000]),
)  # fmt: skip
def test_batch_values_equal_the_per_node_method(base, req, seen, cpu) -> None:
    """Property: with or without a demand log, early or not, Consolidate's batch values equal
    its per-node score (0 exactly on the early phase's idle nodes), and the default profile's
    batch scores equal the plugins' (1 point for float reassociation, as in test_batch)."""
    mix = None if seen is None else DemandMix({TaskShape(cpu, 0, 0): seen}, 0.0, {}, seen)
    state = replace(base, demand=mix)
    p = pod(gpu=req, cpu_milli=cpu)
    names = sorted(state.nodes)
    values = plugin_values(state, p, names, ISOLATED)["Consolidate"]
    for i, n in enumerate(names):
        want = score_breakdown(state, p, n, ISOLATED)["Consolidate"]
        assert want == (0.0 if mix is not None and seen < EARLY_PODS and _idle(state, n) else 1.0)
        if values[i] == values[i]:  # NaN: an index `slow` row, left to the per-node path
            assert values[i] == want
    fast = run_scores(state, p, names, DEFAULT)
    slow = run_scores(state, p, names, replace(DEFAULT, batch=False))
    assert all(abs(a - b) <= 1 for a, b in zip(fast.ints, slow.ints, strict=True))


def _idle(state: ClusterState, name: str) -> bool:
    gpus = state.capacity(name).usable_gpus
    return bool(gpus) and all(gpu_used_fraction(g) == 0.0 for g in gpus)

"""Capacity planning: the search equals brute force on monotone objectives, SLO parsing, and a
hand-computed plan on one-GPU nodes where shares change the answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.capacity.layouts import PlannedLayouts, auto_mig_nodes, describe, mig_mix
from simulator.capacity.plan import plan_capacity, savings_sentence
from simulator.capacity.search import Probe, smallest
from simulator.capacity.slo import Objective, parse_slo
from simulator.serving.config import Autoscale, ServingSpec
from simulator.serving.requests import Request


@given(threshold=st.integers(1, 100), cap=st.integers(1, 100))
def test_search_finds_the_brute_force_minimum(threshold: int, cap: int) -> None:
    calls: list[int] = []

    def probe(n: int) -> Probe:
        calls.append(n)
        return Probe(n, n >= threshold, {})

    best, runs = smallest(probe, cap)
    assert best == (threshold if threshold <= cap else None)
    assert len(calls) == len(set(calls)) == len(runs)  # each size simulated once
    assert len(calls) <= 2 * max(cap, 2).bit_length() + 1  # doubling + bisection


@pytest.mark.parametrize(("text", "want"), [
    ("p95=2s", (Objective(95, 2.0),)),
    ("p99=500ms, p50=1m", (Objective(99, 0.5), Objective(50, 60.0))),
])
def test_parse_slo(text: str, want: tuple[Objective, ...]) -> None:
    assert parse_slo(text) == want


@pytest.mark.parametrize("bad", ["p95", "p95=2", "p100=1s", "q95=1s", ""])
def test_bad_slo_is_one_line(bad: str) -> None:
    with pytest.raises(ValueError, match="--slo"):
        parse_slo(bad)


def test_shares_need_fewer_gpus_for_the_same_slo() -> None:
    # 4 models, one 100 s request each at t=0, replicas of 250 milli (16 GiB) on one-GPU nodes,
    # cold start 10 s, SLO p99 wait <= 15 s: every model needs its own ready replica at 10 s.
    # tessera packs 4 shares per GPU -> 1 node; the device plugin gives each a card -> 4 nodes.
    reqs = [Request(0.0, 100.0, f"m{i}", "image", None) for i in range(4)]
    spec = ServingSpec(nodes=1, gpus_per_node=1, replica_gpu_memory_mib=16 * 1024)
    scale = Autoscale(cold_start_s=10.0)
    objectives = parse_slo("p99=15s")
    caps = plan_capacity(reqs, spec, scale, ["tessera", "volcano", "kube-default"],
                         objectives, max_nodes=8)
    assert [(c.policy, c.gpus) for c in caps] == [("tessera", 1), ("volcano", 4),
                                                  ("kube-default", 4)]
    assert savings_sentence(caps, objectives) == (
        "tessera saves 3 GPUs against volcano (1 vs 4) and 3 GPUs against kube-default (1 vs 4)"
        " for the same SLO (p99 wait <= 15 s).")


def _four_3g_models() -> list[Request]:
    # 4 models whose replicas need a 3g.40gb MIG instance, one 100 s request each at t=0
    return [Request(0.0, 100.0, f"m{i}", "image", None, "mig:3g.40gb") for i in range(4)]


@pytest.mark.parametrize(("planner", "want_gpus", "sentence"), [
    # static layout 1g.10gb x2 + 2g.20gb + 3g.40gb: one 3g instance per GPU, so the counter
    # policies need 4 one-GPU nodes; tessera's dynamic MIG fits two 3g (starts 0 and 4) per GPU
    (False, [2, 4, 4], "tessera saves 2 GPUs against volcano (2 vs 4) and 2 GPUs against "
     "kube-default (2 vs 4) for the same SLO (p99 wait <= 15 s)."),
    # the planner turns a 3g-only mix into 3g.40gb x2 per GPU: everyone needs 2 nodes
    (True, [2, 2, 2], "tessera saves 0 GPUs against volcano (2 vs 2) and 0 GPUs against "
     "kube-default (2 vs 2) for the same SLO (p99 wait <= 15 s)."),
])
def test_planner_layouts_change_the_answer(planner: bool, want_gpus: list[int],
                                           sentence: str) -> None:
    reqs = _four_3g_models()
    spec = ServingSpec(nodes=1, gpus_per_node=1)
    objectives = parse_slo("p99=15s")
    layouts = PlannedLayouts(mig_mix(reqs, spec), spec.gpu_model, planner=planner)
    caps = plan_capacity(reqs, spec, Autoscale(cold_start_s=10.0),
                         ["tessera", "volcano", "kube-default"], objectives,
                         mig_fraction=None, max_nodes=8, layouts=layouts)
    assert [c.gpus for c in caps] == want_gpus
    assert savings_sentence(caps, objectives) == sentence
    used = {r["layout"] for r in layouts.rows(1)}
    assert used == ({"3g.40gb x2"} if planner else {"1g.10gb x2 + 2g.20gb + 3g.40gb"})


def test_planner_layouts_follow_the_mix() -> None:
    # offered load: 3g.40gb 400 instance-s, 1g.10gb 400 instance-s -> half the memory slices
    # each. On 2 GPUs (16 slices): 8 slices of 3g (4 slices each) = 2 instances, 8 of 1g = 8,
    # but a GPU with a 3g holds at most four 1g (3 + 4 = 7 compute slices): 3g + 1g x4 on each
    reqs = [Request(0.0, 400.0, "big", "image", None, "mig:3g.40gb"),
            Request(0.0, 400.0, "small", "text", None, "mig:1g.10gb")]
    spec = ServingSpec(nodes=1, gpus_per_node=2)
    layouts = PlannedLayouts(mig_mix(reqs, spec), spec.gpu_model)
    assert mig_mix(reqs, spec) == {"1g.10gb": 400.0, "3g.40gb": 400.0}
    lays = layouts.layouts(2)
    assert sorted(describe(x) for x in lays) == ["1g.10gb x4 + 3g.40gb"] * 2


@given(nodes=st.integers(1, 64), share=st.floats(0, 1))
def test_auto_mig_nodes_keeps_both_kinds(nodes: int, share: float) -> None:
    n = auto_mig_nodes(nodes, share)
    assert 0 <= n <= nodes
    assert (n == 0) == (share == 0 or (nodes == 1 and share < 0.5))
    if 0 < share < 1 and nodes >= 2:
        assert 1 <= n <= nodes - 1  # some load needs MIG and some does not: a node for each

"""Capacity planning: the search equals brute force on monotone objectives, SLO parsing, and a
hand-computed plan on one-GPU nodes where shares change the answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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

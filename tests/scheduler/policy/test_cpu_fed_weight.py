"""The default profile's CpuFed weight (1.0, level with Fragmentation): a hand case where it
changes the chosen node against the round-8 weight (0.03), and the property that a scorer
constant over the candidates (CpuFed for CPU-only pods, or without a mix) never inverts the
order the other scorers give.

Uses `test_cpu_fed`'s builder (T4 nodes with free milli per GPU and free CPU) and its mix of
1-GPU pods with 8 cores (r = 8 CPU milli per GPU milli).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.policy.framework import run_scores, score_breakdown
from scheduler.policy.registry import DEFAULT_WEIGHTS, build_profile
from tests.builders import pod
from tests.scheduler.policy.test_cpu_fed import MIX8, WHOLE1, _state

DEFAULT = build_profile()
ROUND8 = build_profile(weights={**DEFAULT_WEIGHTS, "CpuFed": 0.03})
WITHOUT = build_profile(weights={k: v for k, v in DEFAULT_WEIGHTS.items() if k != "CpuFed"})


def test_default_weight_is_level_with_fragmentation() -> None:
    assert DEFAULT_WEIGHTS["CpuFed"] == DEFAULT_WEIGHTS["Fragmentation"] == 1.0


def test_the_weight_moves_a_whole_gpu_pod_to_the_node_that_keeps_its_gpus_fed() -> None:
    # A whole GPU with 12 cores; 4 pods seen (Consolidate still early), r = 8.
    # a: 4 GPUs, GPU 0 held, 20 cores free; b: 4 idle GPUs, 40 cores free.
    # Fragmentation (the mix: 1 GPU, 8 cores): a after keeps 2 idle GPUs and 8 cores, b 3 and
    #   28: both still host the mix, increase 0 -> 0.5 each.
    # Binpack (mean used fraction after): a 2/4 = 0.5, b 1/4 = 0.25. Consolidate: a in use 1,
    #   b idle 0. GpuLoad: nothing reported, 0.5. ModelReserve: nothing constrained, 1.
    # CpuFed: a unfed 3000 - 20000/8 = 500 -> 2000 - 8000/8 = 1000, d = +500: 0.5 - 0.25 =
    #   0.25; b 4000 - 5000 -> 0, 3000 - 3500 -> 0, d = 0: 0.5.
    # Weight 0.03 (total 1.72): a (0.5 + 0.3 + 0.15 + 0.015 + 0.06 + 0.0075) / 1.72 = 0.6003
    #   -> 60, b (0.5 + 0.3 + 0.15 + 0.0075 + 0 + 0.015) / 1.72 = 0.5654 -> 57: a (in use,
    #   fuller) wins and is left with 2 GPUs and 8 cores.
    # Weight 1 (total 2.69): a (0.5 + 0.3 + 0.15 + 0.015 + 0.06 + 0.25) / 2.69 = 0.4740 -> 47,
    #   b (0.5 + 0.3 + 0.15 + 0.0075 + 0 + 0.5) / 2.69 = 0.5418 -> 54: b wins.
    state = _state({"a": ((0, 1000, 1000, 1000), 20000), "b": ((1000,) * 4, 40000)}, MIX8)
    p = pod(gpu=WHOLE1, cpu_milli=12000)
    raw = {n: score_breakdown(state, p, n, DEFAULT) for n in ("a", "b")}
    assert raw["a"]["Fragmentation"] == raw["b"]["Fragmentation"] == 0.5
    assert (raw["a"]["Binpack"], raw["b"]["Binpack"]) == (0.5, 0.25)
    assert (raw["a"]["Consolidate"], raw["b"]["Consolidate"]) == (1.0, 0.0)
    assert raw["a"]["GpuLoad"] == raw["b"]["GpuLoad"] == 0.5
    assert raw["a"]["ModelReserve"] == raw["b"]["ModelReserve"] == 1.0
    assert (raw["a"]["CpuFed"], raw["b"]["CpuFed"]) == pytest.approx((0.25, 0.5))
    assert run_scores(state, p, ["a", "b"], ROUND8).levels == [60, 57]
    assert run_scores(state, p, ["a", "b"], DEFAULT).levels == [47, 54]


_frees = st.lists(st.sampled_from([0, 190, 530, 1000]), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    nodes=st.lists(st.tuples(_frees, st.integers(0, 48)), min_size=2, max_size=4),
    cores=st.integers(0, 16),
    gpu=st.booleans(),
)
def test_a_constant_cpu_fed_never_inverts_the_other_scorers_order(nodes, cores, gpu) -> None:
    """Property: where CpuFed is constant (a CPU-only pod with a mix, or a GPU pod without
    one), a node the default profile ranks strictly above another is not below it without
    CpuFed: the weight only compresses the levels."""
    mix = None if gpu else MIX8
    state = _state({f"n{i}": (tuple(f), c * 1000) for i, (f, c) in enumerate(nodes)}, mix)
    p = pod(gpu=WHOLE1 if gpu else None, cpu_milli=cores * 1000)
    names = sorted(state.nodes)
    fits = [n for n in names if score_breakdown(state, p, n, DEFAULT)["CpuFed"] == 1.0]
    assert fits == names  # constant: 1 on every node
    new = run_scores(state, p, names, DEFAULT).levels
    old = run_scores(state, p, names, WITHOUT).levels
    assert new is not None and old is not None
    for i in range(len(names)):
        for j in range(len(names)):
            if new[i] > new[j]:
                assert old[i] >= old[j], (names[i], names[j], new, old)

"""The scarce-model reserve lead: hand-computed pressure, and a tiny fill where it changes FGD's
answer."""

from __future__ import annotations

import numpy as np

from simulator.policies.fill.base import FillContext
from simulator.policies.fill.fgd import Fgd
from simulator.policies.fill.fgd_reserve import FgdReserve, model_pressure
from tests.simulator.fgd_fill.builders import cluster, node, pod


def test_pressure_by_hand():
    # Models 0 (T4, 1 GPU) and 1 (G2, 3 GPUs): C = 4. Seen: 300 milli T4-only, 600 milli
    # T4-or-G2, 1200 milli in all. T4: 300/1200 x 4/1 = 1.0, plus 600/1200 x 4/(1+3) = 0.5
    # -> 1.5. G2: only the shared set, 0.5.
    demand = {frozenset({0}): 300.0, frozenset({0, 1}): 600.0}
    got = model_pressure(demand, 1200.0, np.array([1.0, 3.0]))
    assert np.allclose(got, [1.5, 0.5])
    assert np.allclose(model_pressure({}, 0.0, np.array([1.0, 3.0])), [0.0, 0.0])


TABLE = [
    # (policy, node picked for the unconstrained pod)
    # Both nodes empty, one whole GPU each; FGD's target is the trace's mix, here only the
    # unconstrained shape (the T4-only pod is seen live, not in the trace): fragmentation stays
    # 0 either way, score floor(100 x sigmoid(0)) = 50 on both -> tie -> best rank, "t" (T4).
    (Fgd, "t"),
    # Reserve: seen 1000 milli T4-only and 1000 unconstrained (the pod itself): T4 pressure
    # 1000/2000 x 2 GPUs / 1 T4 GPU = 1.0 -> 30 levels off on "t" (50 - 30 = 20 < 50) -> "g".
    (FgdReserve, "g"),
]


def test_reserve_keeps_the_scarce_model_for_constrained_pods():
    for factory, expected in TABLE:
        c = cluster(node("t", gpus=1, model="T4"), node("g", gpus=1, model="G2"))
        constrained, free = pod("c", spec="T4"), pod("u")
        policy = factory(FillContext(c, (free,)))
        if isinstance(policy, FgdReserve):
            policy.observe(c, constrained)  # seen earlier (say it failed elsewhere)
        node_idx, gpus = policy.choose(c, free, c.feasible(free), np.random.default_rng(0))
        assert (c.names[node_idx], gpus) == (expected, (0,)), factory.__name__

"""The example scorer of docs/extending.md: `Spread` (least-used GPUs first), a per-node
`score` and a batch `score_rows` reading the same settings, added through the registry only.
The batch/per-node property for every registered scorer, this one included, is in
tests/scheduler/policy/test_batch.py."""

from __future__ import annotations

import pytest

from scheduler.policy.framework import run_scores
from scheduler.policy.model import Allocation, ClusterState, GpuGrant, GpuRequest, Placement
from scheduler.policy.plugins.spread import SpreadArgs
from scheduler.policy.registry import DEFAULT_WEIGHTS, build_profile
from tests.builders import h100, node, pod
from tests.scheduler.policy.batch_paths import plugin_values


def _state() -> ClusterState:
    # "half": 2 GPUs, one whole GPU held -> used (1 + 0) / 2 = 0.5; "idle": 2 idle GPUs -> 0;
    # "full": 1 GPU, held -> 1.
    nodes = {
        "half": node("half", h100(0), h100(1)),
        "idle": node("idle", h100(0), h100(1)),
        "full": node("full", h100(0)),
    }
    held = {
        "a": Allocation("d/a", "a", Placement("half", (GpuGrant(0),))),
        "b": Allocation("d/b", "b", Placement("full", (GpuGrant(0),))),
    }
    return ClusterState(nodes, held)


CASES = [
    # (power, node, value): value = (1 - used) ** power
    (1.0, "half", 0.5),  # (1 - 0.5) ** 1
    (2.0, "half", 0.25),  # (1 - 0.5) ** 2
    (1.0, "idle", 1.0),  # (1 - 0) ** 1
    (3.0, "full", 0.0),  # (1 - 1) ** 3
]


@pytest.mark.parametrize(("power", "name", "value"), CASES)
def test_spread_value_both_paths(power: float, name: str, value: float) -> None:
    prof = build_profile(weights={"Spread": 1.0}, args={"Spread": SpreadArgs(power=power)})
    state = _state()
    p = pod(gpu=GpuRequest("whole", 1))
    [scorer] = [s for s, _ in prof.scorers]
    assert scorer.score(state, p, state.nodes[name]) == pytest.approx(value)
    names = ["half", "idle", "full"]
    batch = plugin_values(state, p, names, prof)["Spread"]
    assert batch[names.index(name)] == pytest.approx(value)


def test_spread_ranks_idle_nodes_first_and_is_not_a_default() -> None:
    # Alone with weight 1: integer score = round(10 * value): idle 10, half 5, full 0.
    prof = build_profile(weights={"Spread": 1.0})
    scores = run_scores(_state(), pod(gpu=GpuRequest("whole", 1)), ["half", "idle", "full"], prof)
    assert scores == {"half": 5, "idle": 10, "full": 0}
    assert "Spread" not in DEFAULT_WEIGHTS

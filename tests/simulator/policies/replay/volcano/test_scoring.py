"""The k8s scorers as Volcano's nodeorder and kube-scheduler v1.37 run them (k8s v1.36.1 code)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.cluster.resources import CPU, GPU, MEMORY
from simulator.policies.replay import kube_default
from simulator.policies.replay.volcano.config import VolcanoConfig
from simulator.policies.replay.volcano.objects import Node, Task
from simulator.policies.replay.volcano.scoring import (
    KUBE_BALANCED,
    balance,
    balanced_allocation,
    node_score,
)

GiB = 1024**3
ALLOC = {CPU: 10_000, MEMORY: 100 * GiB, GPU: 8_000}


def _node(used: dict[str, int]) -> Node:
    n = Node("n", dict(ALLOC))
    n.used.update(used)
    return n


@pytest.mark.parametrize(
    ("used", "req", "dims", "want"),
    [
        # empty node, pod cpu .2 mem .5 gpu .5: with 85 (std .1414), without 100
        # -> 50 + (50 + 85 - 100) // 2 = 67
        ({}, {CPU: 2_000, MEMORY: 50 * GiB, GPU: 4_000}, None, 67),
        # node at cpu .1 mem .1 gpu .75; a 1-GPU pod makes GPU 0.875: balance falls
        # without: mean .3167, std .3064 -> 69; with: cpu .2 mem .2 gpu .875, mean .425,
        # std .3182 -> 68; 50 + (50 + 68 - 69) // 2 = 74
        ({CPU: 1_000, MEMORY: 10 * GiB, GPU: 6_000}, {CPU: 1_000, MEMORY: 10 * GiB, GPU: 1_000},
         None, 74),
        # the same pod on an empty node: with cpu .1 mem .1 gpu .125 -> std .0118 -> 98;
        # without 100 -> 50 + (50 + 98 - 100) // 2 = 74 (a tie: the change is what counts)
        ({}, {CPU: 1_000, MEMORY: 10 * GiB, GPU: 1_000}, None, 74),
        # kube-scheduler's default resources (cpu, memory): node cpu .5 mem .1, pod adds mem .4
        # without |.5-.1|/2 = .2 -> 80; with cpu .5 mem .5 -> 100; 50 + (50 + 20) // 2 = 85
        ({CPU: 5_000, MEMORY: 10 * GiB}, {MEMORY: 40 * GiB}, KUBE_BALANCED, 85),
        # a GPU the pod does not ask for is left out: cpu/memory only, both 0 -> 75
        ({GPU: 8_000}, {CPU: 1_000, MEMORY: 10 * GiB}, None, 75),
    ],
)
def test_balanced_allocation_scores_the_change_in_balance(used, req, dims, want) -> None:
    task = Task("t", "t", "j", req)
    got = balanced_allocation(_node(used), task, dims) if dims else balanced_allocation(
        _node(used), task)
    assert got == want


@given(st.lists(st.floats(0, 1), min_size=0, max_size=4),
       st.integers(0, 8), st.integers(0, 8))  # fmt: skip
def test_balanced_allocation_stays_in_50_to_100(fracs, used_gpus, want_gpus) -> None:
    assert 50 <= balance(fracs) <= 100  # std of fractions in [0, 1] is at most .5
    task = Task("t", "t", "j", {CPU: 500, MEMORY: GiB, GPU: want_gpus * 1000})
    assert 50 <= balanced_allocation(_node({GPU: used_gpus * 1000}), task) <= 100


def test_volcano_total_is_binpack_plus_nodeorder_plus_taint_constant() -> None:
    cfg = VolcanoConfig()
    task = Task("t", "t", "j", {CPU: 2_000, MEMORY: 50 * GiB, GPU: 4_000})
    # binpack (.2 + .5) / 2 * 100 = 35; least (80 + 50) // 2 = 65; balanced 67; taint 300
    assert node_score(cfg, _node({}), task) == pytest.approx(35 + 65 + 67 + 300)
    no_taint = VolcanoConfig(tainttoleration_weight=0)
    assert node_score(cfg, _node({}), task) - node_score(no_taint, _node({}), task) == 300


def test_kube_default_score_leaves_gpus_out_of_balance() -> None:
    # least: cpu (10000-1000)*100//10000 = 90, mem 90 -> 90; balanced over cpu .1 mem .1 -> 75
    task = Task("t", "t", "j", {CPU: 1_000, MEMORY: 10 * GiB, GPU: 8_000})
    assert kube_default.score(_node({}), task) == 90 + 75

"""Predicates: node selector and the kubelet's pod limit (PredicateForAllocateAction)."""

from __future__ import annotations

from simulator.policies.replay.volcano import VolcanoConfig

from .builders import committed_names, job, node, req, scheduler


def test_node_selector_restricts_nodes() -> None:
    a, b = node("a"), node("b")
    b.labels["gpu"] = "h100"
    s = scheduler(a, b)
    j = job("x", 1, resreq=req(gpus=1))
    j.tasks["x-0"].node_selector = {"gpu": "h100"}
    s.add_job(j)
    assert [t.node for t in s.run_cycle().committed] == ["b"]


def test_pod_limit_per_node() -> None:
    # max 2 pods per node: 3 one-GPU pods of an elastic job -> only 2 fit on the single node.
    s = scheduler(node("a"), cfg=VolcanoConfig(max_pods_per_node=2))
    s.add_job(job("x", 3, min_member=1, resreq=req(gpus=1)))
    assert committed_names(s.run_cycle()) == ["x-0", "x-1"]

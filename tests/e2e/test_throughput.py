"""Scenario g (small): the same cluster schedules every pod with and without the extender.

The timed 1,000-pod / 500-node pair is benchmarks/e2e_throughput.py (no timing asserted here).
"""

from __future__ import annotations

import pytest

from devcluster.throughput import add_gpu_nodes, run_once

pytestmark = pytest.mark.e2e


def test_every_pod_binds_with_and_without_the_extender(tessera_cluster):
    cluster = tessera_cluster()
    add_gpu_nodes(cluster, 20, gpus_per_node=2)
    plain = run_once(cluster, pods=30, nodes=20, use_extender=False)
    assert plain.bound == 30
    with_tessera = run_once(cluster, pods=30, nodes=20, use_extender=True)
    assert with_tessera.bound == 30
    # Only pods bound through Tessera carry its placement annotation.
    annotated = [
        p
        for p in cluster.api.pods()
        if "tessera.io/placement" in p["metadata"].get("annotations", {})
    ]
    assert len(annotated) == 30


def test_choose_in_filter_binds_every_pod_once_per_gpu(tessera_cluster, monkeypatch):
    """choose_in_filter on the real control plane: Tessera passes one node per GPU pod and
    reserves its GPUs in filter, kube-scheduler skips prioritize and binds through Tessera.
    As many pods as GPUs: each GPU is given exactly once."""
    import urllib.request

    from scheduler.state.placement import ANNOTATION, decode

    monkeypatch.setenv("TESSERA_CHOOSE_IN_FILTER", "true")  # read by the launched `tessera serve`
    cluster = tessera_cluster()
    add_gpu_nodes(cluster, 6, gpus_per_node=2)
    run = run_once(cluster, pods=12, nodes=6, use_extender=True)
    assert run.bound == 12
    grants = []
    for p in cluster.api.pods():
        placement = decode(p["metadata"]["annotations"][ANNOTATION])
        assert placement.node == p["spec"]["nodeName"]
        grants += [(placement.node, g.index) for g in placement.gpus]
    assert len(grants) == 12 and len(set(grants)) == 12  # 6 nodes x 2 GPUs, none twice
    metrics = urllib.request.urlopen(cluster.tessera_url + "/metrics", timeout=10).read().decode()
    asked = [line for line in metrics.splitlines()
             if line.startswith("tessera_extender_requests_total{") and "prioritize" in line]
    assert all(line.endswith(" 0.0") for line in asked)  # one feasible node: never scored
    assert 'tessera_extender_requests_total{code="200",verb="filter"}' in metrics

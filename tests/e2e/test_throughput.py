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
